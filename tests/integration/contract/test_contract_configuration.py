"""Contract items 3-4: FLATFILE_BASE_URL, the secret (malformed or rejected, then fixed), AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from contract_stack import FUNCTIONS, Stack, portal_payload, webhook_event

from flatfile_relay.settings import Settings

SAMPLE_JOB = json.dumps({"type": "flatfile.export.job", "schemaVersion": 1, "trigger": "schedule",
                         "batchId": "{batch}"})


def _job(batch_id: str) -> str:
    return SAMPLE_JOB.replace("{batch}", batch_id)


def test_flatfile_base_url_defaults_to_the_us_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLATFILE_BASE_URL", raising=False)
    assert Settings.from_env().flatfile_base_url == "https://api.us.flatfile.io"
    assert Settings.from_env({"FLATFILE_BASE_URL": ""}).flatfile_base_url == "https://api.us.flatfile.io"


def test_every_function_reaches_aws_through_aws_endpoint_url(stack: Stack) -> None:
    stack.share_clients = False  # the clients each function builds itself
    for function in FUNCTIONS:
        stack.cold(function)
        runtime = stack.module(function).runtime
        for client in (runtime.clients.s3, runtime.clients.sqs, runtime.clients.dynamodb):
            assert client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ({"accessKeyId": None}, "accessKeyId"),
        ({"secretAccessKey": None}, "secretAccessKey"),
        ({"licenseKey": None}, "licenseKey"),
        ({"licenseKey": ""}, "licenseKey"),
        ({"accessKeyId": 42}, "accessKeyId"),
        ({"webhookToken": {"a": 1}}, "webhookToken"),
    ],
)
def test_a_malformed_secret_names_the_key_and_a_fix_works_at_the_next_poll(
    stack_factory: Any, broken: dict[str, Any], named: str
) -> None:
    stack = stack_factory(samples=False)
    stack.add_batch()
    good = stack.emulator.secret
    secret = {**good, **broken}
    stack.put_secret({k: v for k, v in secret.items() if v is not None})
    with pytest.raises(Exception, match=named) as failure:
        stack.poll()
    assert "MalformedSecret" in type(failure.value).__name__

    stack.put_secret(good)  # same warm execution environment: the next poll reads the fixed secret
    assert set(stack.poll()["jobs_sent"]) == stack.submitted_ids()


def test_a_malformed_secret_fails_the_export_record_and_a_fix_works_at_the_next_invocation(stack: Stack) -> None:
    single = stack.emulator.samples["single"]
    stack.put_secret({"accessKeyId": "FF00x", "secretAccessKey": "y"})
    assert stack.run_exporter([_job(single)]) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    stack.put_secret(stack.emulator.secret)
    assert stack.run_exporter([_job(single)]) == {"batchItemFailures": []}
    assert [n["batchId"] for n in stack.notices()] == [single]


def test_a_malformed_secret_makes_the_webhook_store_and_queue_nothing(stack: Stack) -> None:
    token = stack.emulator.secret["webhookToken"]
    stack.put_secret("not json at all")
    status, _ = stack.webhook(webhook_event(portal_payload(stack.emulator.samples["single"]),
                                            query={"token": token}))
    assert status >= 400
    assert stack.object_keys() == []
    assert stack.jobs() == []
    stack.put_secret(stack.emulator.secret)
    status, _ = stack.webhook(webhook_event(portal_payload(stack.emulator.samples["single"]),
                                            query={"token": token}))
    assert status == 202


@pytest.mark.parametrize("field", ["secretAccessKey", "accessKeyId", "licenseKey"])
def test_credentials_flatfile_rejects_are_read_again_at_the_next_poll(stack_factory: Any, field: str) -> None:
    stack = stack_factory(samples=False)
    stack.add_batch()
    good = stack.emulator.secret
    wrong = "00000000-0000-4000-8000-000000000000" if field == "licenseKey" else "FF00" + "Z" * 36
    stack.put_secret({**good, field: wrong})
    with pytest.raises(Exception):  # noqa: B017, PT011 - the kind of error is not part of the contract
        stack.poll()
    stack.put_secret(good)
    assert set(stack.poll()["jobs_sent"]) == stack.submitted_ids()


def test_rejected_credentials_fixed_work_at_the_next_export(stack: Stack) -> None:
    single = stack.emulator.samples["single"]
    good = stack.emulator.secret
    stack.put_secret({**good, "secretAccessKey": "wrong-secret-access-key-0000000000000000"})
    assert stack.run_exporter([_job(single)]) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    stack.put_secret(good)
    assert stack.run_exporter([_job(single)]) == {"batchItemFailures": []}
