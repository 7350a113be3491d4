"""functions/exporter/app.py invoked like Lambda: SQS events, the template's environment, a Lambda-like context."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.functions import ROOT, function_app, lambda_context
from support.relay import Relay, event_file, sqs_event

from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import EXPORTED


def job_body(batch_id: str, trigger: str = "schedule") -> str:
    return ExportJob.create(batch_id, trigger=trigger).to_message()


def metrics_lines(output: str) -> list[dict[str, Any]]:
    """The EMF metric documents printed by Powertools Metrics (but its ColdStart document)."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return [document for document in documents if "ColdStart" not in document]


def fail_one_job(
    relay: Relay, captured_logs: pytest.CaptureFixture[str]
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """A job for a sample batch through a cold exporter, which must fail it: (the batch id, the log lines, the
    metric values)."""
    app = function_app("exporter", fresh=True)
    batch_id = relay.emu.samples["single"]
    response = app.handler(sqs_event("sqs_export_job.json", [job_body(batch_id)]), lambda_context("ExporterFunction"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    output = captured_logs.readouterr().out
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"level"' in line]
    values = {name: doc[name] for doc in metrics_lines(output) for name in doc if not name.startswith("_")}
    return batch_id, lines, values


def test_the_handler_exports_a_job_and_reports_no_failures(
    relay: Relay, function_env: dict[str, str], captured_logs: pytest.CaptureFixture[str]
) -> None:
    app = function_app("exporter", fresh=True)
    batch_id = relay.emu.samples["medium"]
    context = lambda_context("ExporterFunction")

    response = app.handler(sqs_event("sqs_export_job.json", [job_body(batch_id)]), context)

    assert response == {"batchItemFailures": []}
    manifest = relay.manifest(batch_id)
    assert manifest.row_count == 250
    assert len(manifest.parts) == 3
    assert len(relay.notices()) == 1
    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.state == EXPORTED
    [document] = metrics_lines(captured_logs.readouterr().out)
    assert document["RowsExported"] == [250.0]
    assert document["PartsWritten"] == [3.0]
    assert document["BatchesExported"] == [1.0]


def test_an_invalid_job_fails_only_its_own_record_with_a_clear_error(
    relay: Relay, function_env: dict[str, str], captured_logs: pytest.CaptureFixture[str]
) -> None:
    app = function_app("exporter", fresh=True)
    batch_id = relay.emu.samples["single"]
    bodies = [
        "this is not json",
        json.dumps({"type": "flatfile.export.job", "schemaVersion": 1, "batchId": "not-a-uuid"}),
        job_body(batch_id),
    ]

    response = app.handler(sqs_event("sqs_export_job.json", bodies), lambda_context("ExporterFunction"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    assert relay.manifest(batch_id).row_count == 1
    logged = captured_logs.readouterr().out
    assert "invalid export job: job is not valid JSON (line 1, column 1)" in logged
    assert "invalid export job: job.batchId must be a UUID" in logged


def test_every_record_failing_still_answers_with_batch_item_failures(
    relay: Relay, function_env: dict[str, str]
) -> None:
    app = function_app("exporter", fresh=True)

    response = app.handler(sqs_event("sqs_export_job.json", ["{}"]), lambda_context("ExporterFunction"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}


def test_a_duplicate_and_a_busy_job_are_acknowledged(relay: Relay, function_env: dict[str, str]) -> None:
    app = function_app("exporter", fresh=True)
    done = relay.emu.samples["single"]
    busy = relay.emu.samples["old"]
    relay.ledger.claim(busy, owner="another-invocation", lease_seconds=600, trigger="schedule")
    assert app.handler(sqs_event("sqs_export_job.json", [job_body(done)]), lambda_context("ExporterFunction")) == {
        "batchItemFailures": []
    }

    response = app.handler(
        sqs_event("sqs_export_job.json", [job_body(done, "webhook"), job_body(busy, "webhook")]),
        lambda_context("ExporterFunction"),
    )

    assert response == {"batchItemFailures": []}
    assert len(relay.notices()) == 1
    assert relay.object_keys(f"flatfile/batches/{busy}/") == []


def test_an_invocation_without_time_for_a_part_fails_the_record(
    relay: Relay, function_env: dict[str, str], captured_logs: pytest.CaptureFixture[str]
) -> None:
    app = function_app("exporter", fresh=True)
    batch_id = relay.emu.samples["single"]

    short = lambda_context("ExporterFunction", timeout=3)
    response = app.handler(sqs_event("sqs_export_job.json", [job_body(batch_id)]), short)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert "ExportStalledError" in captured_logs.readouterr().out
    assert relay.jobs() == []
    assert relay.object_keys() == []
    # the redelivery, with time enough, exports it
    assert app.handler(sqs_event("sqs_export_job.json", [job_body(batch_id)]), lambda_context("ExporterFunction")) == {
        "batchItemFailures": []
    }
    assert relay.manifest(batch_id).row_count == 1


def test_the_sample_event_is_a_valid_export_job() -> None:
    event = json.loads((ROOT / "events" / "sqs_export_job.json").read_text())
    [record] = event["Records"]
    job = ExportJob.from_message(record["body"])
    assert (job.trigger, job.resume) == ("schedule", False)


# -- the handler as Lambda runs it, from the outside (template.yaml's environment, events/) ------------------


def test_the_sample_event_runs_and_hands_back_a_batch_it_does_not_know(relay: Relay) -> None:
    """events/sqs_export_job.json names a batch this deployment does not have: it is handed back, not failed."""
    assert relay.invoke("ExporterFunction", event_file("sqs_export_job.json")) == {"batchItemFailures": []}
    assert relay.notices() == []


def test_a_malformed_secret_fails_the_record_and_a_fix_works_at_the_next_invocation(relay: Relay) -> None:
    single = relay.emu.samples["single"]
    relay.put_secret({"accessKeyId": "FF00x", "secretAccessKey": "y"})
    assert relay.invoke_exporter([job_body(single)]) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    relay.put_secret(relay.emu.secret)
    assert relay.invoke_exporter([job_body(single)]) == {"batchItemFailures": []}
    assert [n["batchId"] for n in relay.notice_bodies()] == [single]


def test_rejected_credentials_fixed_work_at_the_next_export(relay: Relay) -> None:
    single = relay.emu.samples["single"]
    relay.put_secret({**relay.emu.secret, "secretAccessKey": "wrong-secret-access-key-0000000000000000"})
    assert relay.invoke_exporter([job_body(single)]) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    relay.put_secret(relay.emu.secret)
    assert relay.invoke_exporter([job_body(single)]) == {"batchItemFailures": []}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_an_event_without_records_answers_no_failures(relay: Relay) -> None:
    assert relay.invoke("ExporterFunction", {"Records": []}) == {"batchItemFailures": []}


def test_a_secret_still_holding_its_placeholders_fails_the_job_with_one_not_configured_warning(
    relay: Relay, function_env: dict[str, str], captured_logs: pytest.CaptureFixture[str]
) -> None:
    """The job is kept (retried, then in the DLQ for a redrive): nothing is lost while nobody filled the secret."""
    relay.put_secret({"accessKeyId": "REPLACE_ME", "secretAccessKey": "REPLACE_ME", "licenseKey": "REPLACE_ME",
                      "webhookToken": "tok"})

    batch_id, lines, values = fail_one_job(relay, captured_logs)

    warnings = [line["message"] for line in lines if line["level"] == "WARNING"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"not configured, export of batch {batch_id} postponed")
    assert not [line for line in lines if line["level"] == "ERROR"]
    assert values["NotConfigured"] == [1.0]
    assert "ExportJobsFailed" not in values
    assert relay.ledger.get(batch_id) is None  # not claimed: the retry starts from scratch


def test_a_missing_setting_fails_the_job_with_one_error_naming_it_not_a_crash(
    relay: Relay, function_env: dict[str, str], captured_logs: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `SettingsError` is a configuration problem (`failures.classify`): one ERROR line that names the variable,
    without a stack trace, as the poller logs it; the job is kept (retried, then in the DLQ for a redrive)."""
    monkeypatch.setenv("NOTICES_QUEUE_URL", "")

    batch_id, lines, values = fail_one_job(relay, captured_logs)

    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert error["message"].startswith(
        f"export of batch {batch_id} needs a configuration fix: SettingsError: missing configuration: NOTICES_QUEUE_URL"
    )
    assert error["error_kind"] == "configuration"
    assert "exception" not in error  # not logged as a crash
    assert values["ExportJobsFailed"] == [1.0]
    assert relay.ledger.get(batch_id) is None
