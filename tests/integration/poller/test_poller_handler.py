"""functions/poller/app.py invoked like Lambda: scheduled event, a Lambda-like context, the template's environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from support.functions import ROOT, lambda_context
from support.recorders import Records
from support.relay import event_file

from flatfile_relay.credentials import MalformedSecretError
from flatfile_relay.flatfile import CredentialsRejectedError
from flatfile_relay.jobs import ExportJob
from flatfile_relay.settings import SettingsError


def schedule_event() -> Any:
    path = ROOT / "events" / "schedule.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@pytest.fixture
def records(poller_app: ModuleType) -> Iterator[Records]:
    handler = Records()
    poller_app.logger.addHandler(handler)
    yield handler
    poller_app.logger.removeHandler(handler)


@pytest.fixture
def put_secret(deployment: Any, poller_app: ModuleType) -> Any:
    def put(secret: dict[str, str]) -> None:
        secret_id = deployment.environment("PollerFunction")["FLATFILE_SECRET_ID"]
        secrets = deployment.clients.secretsmanager
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(secret))

    return put


def queued(deployment: Any) -> list[str]:
    sqs, url = deployment.clients.sqs, deployment.refs["ExportJobsQueue"]
    ids = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            ids.append(ExportJob.from_message(message["Body"]).batch_id)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return ids


def emf_metrics(output: str) -> dict[str, float]:
    """The metric values in the EMF lines Powertools printed."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values[metric["Name"]] = value[0] if isinstance(value, list) else value
    return values


def test_a_scheduled_invocation_queues_the_submitted_batches(
    poller_app: ModuleType, put_secret: Any, emulator: Any, deployment: Any, records: Records,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_secret(emulator.secret)
    submitted = {b["id"] for b in emulator.state.account_batches() if b["status"] == "submitted"}

    result = poller_app.handler(schedule_event(), lambda_context("PollerFunction"))

    assert sorted(result["jobs_sent"]) == sorted(submitted)
    assert result["complete"] is True
    assert json.loads(json.dumps(result)) == result
    assert sorted(queued(deployment)) == sorted(submitted)
    assert "poll finished" in records.at("INFO")
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["BatchesQueued"] == len(submitted)
    assert metrics["PendingBatches"] == 1
    assert metrics["Pages"] >= 1

    # a warm container reuses what it built; the event's content does not matter
    connection = poller_app.runtime.connection
    event = {"anything": "ignored", "time": "1999-01-01T00:00:00Z"}
    again = poller_app.handler(event, lambda_context("PollerFunction"))
    assert again["jobs_sent"] == []
    assert poller_app.runtime.connection is connection
    assert queued(deployment) == []


def test_nothing_is_built_before_the_first_invocation(poller_app: ModuleType) -> None:
    assert not vars(poller_app.runtime).keys() & {"settings", "clients", "connection", "ledger"}


def test_a_malformed_secret_is_logged_and_raised_then_fixing_it_works_at_once(
    poller_app: ModuleType, put_secret: Any, emulator: Any, records: Records
) -> None:
    put_secret({key: value for key, value in emulator.secret.items() if key != "accessKeyId"})

    with pytest.raises(MalformedSecretError) as caught:
        poller_app.handler(schedule_event(), lambda_context("PollerFunction"))

    assert caught.value.key == "accessKeyId"
    errors = records.at("ERROR")
    assert len(errors) == 1
    assert errors[0].startswith(str(caught.value))
    assert emulator.secret["secretAccessKey"] not in errors[0]

    put_secret(emulator.secret)  # no cold start, no 5-minute cache: the next poll reads it again
    assert poller_app.handler(schedule_event(), lambda_context("PollerFunction"))["jobs_sent"]


def test_rejected_credentials_propagate_then_fixing_the_secret_works(
    poller_app: ModuleType, put_secret: Any, emulator: Any, records: Records
) -> None:
    put_secret({**emulator.secret, "secretAccessKey": "X" * 40})

    with pytest.raises(CredentialsRejectedError):
        poller_app.handler(schedule_event(), lambda_context("PollerFunction"))
    assert records.at("ERROR")

    put_secret(emulator.secret)
    assert poller_app.handler(schedule_event(), lambda_context("PollerFunction"))["complete"] is True


def test_missing_configuration_is_logged_and_raised(
    poller_app: ModuleType, monkeypatch: pytest.MonkeyPatch, records: Records
) -> None:
    monkeypatch.setenv("EXPORT_JOBS_QUEUE_URL", "")

    with pytest.raises(SettingsError, match="EXPORT_JOBS_QUEUE_URL"):
        poller_app.handler(schedule_event(), lambda_context("PollerFunction"))

    assert records.at("ERROR")[0].startswith("missing configuration: EXPORT_JOBS_QUEUE_URL")
    assert not vars(poller_app.runtime).keys() & {"settings", "clients", "connection", "ledger"}


def test_a_short_invocation_stops_cleanly_and_says_so(
    poller_app: ModuleType, put_secret: Any, emulator: Any, records: Records
) -> None:
    put_secret(emulator.secret)
    result = poller_app.handler(schedule_event(), lambda_context("PollerFunction", timeout=0))
    assert result["complete"] is False
    assert result["jobs_sent"] == []
    assert any("stopped before finishing" in message for message in records.at("WARNING"))


# -- the handler as Lambda runs it, from the outside (template.yaml's environment, events/) ------------------

ODD_EVENTS: list[Any] = [
    None,
    {},
    [],
    "tick",
    {"detail-type": "Scheduled Event", "source": "aws.scheduler", "time": "not a time", "detail": {}},
    {**event_file("schedule.json"), "time": "1970-01-01T00:00:00Z"},
    {**event_file("schedule.json"), "time": "2999-12-31T23:59:59Z"},
    {**event_file("schedule.json"), "time": 1614630300},
]


def test_the_poller_does_not_depend_on_its_event(relay_factory: Any) -> None:
    relay = relay_factory(emulator={"samples": False})
    relay.add_import(status=None)
    for number, event in enumerate(ODD_EVENTS):
        new = relay.add_import(rows=0)
        if number % 2:
            relay.cold("PollerFunction")
        report = relay.invoke_poller(event)
        assert report["jobs_sent"] == [new], event


@pytest.mark.parametrize("field", ["secretAccessKey", "accessKeyId", "licenseKey"])
def test_credentials_flatfile_rejects_are_read_again_at_the_next_poll(relay_factory: Any, field: str) -> None:
    relay = relay_factory(emulator={"samples": False})
    relay.add_import()
    good = relay.emu.secret
    wrong = "00000000-0000-4000-8000-000000000000" if field == "licenseKey" else "FF00" + "Z" * 36
    relay.put_secret({**good, field: wrong})
    with pytest.raises(Exception):  # noqa: B017, PT011 - the kind of error is not part of the contract
        relay.invoke_poller()
    relay.put_secret(good)
    assert set(relay.invoke_poller()["jobs_sent"]) == relay.submitted_ids()


def test_export_since_as_a_plain_date(relay_factory: Any) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    relay = relay_factory(env={"EXPORT_SINCE": tomorrow})
    assert relay.invoke_poller()["jobs_sent"] == []
    new = relay.emu.state.add_batch("submitted", [{"sku": "A"}], created_at=f"{tomorrow}T00:00:01Z")["id"]
    assert relay.invoke_poller()["jobs_sent"] == [new]
