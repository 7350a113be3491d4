"""`make local-env` for `sam local invoke`, tested without Docker: the env-vars file names exactly what was
provisioned in moto, and every `sam local invoke` command of docs/local.md (every function, every event in
events/) works with it when the handler is invoked in this process the way the container would."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from support.docs import block
from support.functions import ROOT, function_app, lambda_context

from flatfile_relay_devkit.local.sam_env import SAMPLE_BATCH_ID
from flatfile_relay_devkit.local.template import Template

COMMAND = re.compile(r"^sam local invoke (\w+) -e (events/[\w.]+\.json) \$S\b", re.M)


def readme_commands() -> list[tuple[str, str]]:
    """(function, event file) of each `sam local invoke` command in docs/local.md, in order."""
    section = block("docs/local.md", "## `sam local invoke` (with Docker)", "bash", marks=("docker",)).text
    options = re.search(r'^S="(.*)"$', section, re.M)
    assert options is not None
    assert options.group(1) == "--env-vars local-env.json --region us-east-1 --docker-network host"
    return COMMAND.findall(section)


def test_the_readme_invokes_every_function_with_every_event() -> None:
    commands = readme_commands()
    functions = {spec.name for spec in Template.load(ROOT / "template.yaml").functions()}
    events = {f"events/{path.name}" for path in (ROOT / "events").glob("*.json")}

    assert {function for function, _ in commands} == functions
    assert {event for _, event in commands} == events
    assert len(commands) == len(events)  # each event once
    expected = {"sqs_export_job": "ExporterFunction", "sqs_notice": "ConsumerFunction", "webhook": "WebhookFunction",
                "webhook_platform": "WebhookFunction"}
    for function, event in commands:
        assert function == expected.get(Path(event).stem, "PollerFunction"), (function, event)


@pytest.fixture(scope="module")
def local_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`make local-env` in a subprocess (free ports), until its env-vars file is written."""
    env_file = tmp_path_factory.mktemp("local-env") / "local-env.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "flatfile_relay_devkit.local.sam_env", "--root", str(ROOT), "--env-file",
         str(env_file), "--moto-port", "0", "--emulator-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        started = time.monotonic()
        while not env_file.exists() or not env_file.read_text(encoding="utf-8").endswith("}\n"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() - started < 60, "make local-env did not write its file in 60 s"
            time.sleep(0.1)
        yield json.loads(env_file.read_text(encoding="utf-8"))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def moto_client(env: dict[str, Any], service: str) -> Any:
    return boto3.client(service, endpoint_url=env["PollerFunction"]["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_the_env_file_names_exactly_what_moto_holds(local_env: dict[str, Any]) -> None:
    template = Template.load(ROOT / "template.yaml")
    assert set(local_env) == {spec.name for spec in template.functions()}
    for spec in template.functions():  # only variables the template declares: SAM ignores the others
        assert set(local_env[spec.name]) <= set(spec.environment)

    poller = local_env["PollerFunction"]
    queues = set(moto_client(local_env, "sqs").list_queues()["QueueUrls"])
    named = {value for function in local_env.values() for key, value in function.items() if key.endswith("QUEUE_URL")
             or key.endswith("DLQ_URL")}
    assert named == queues
    assert moto_client(local_env, "dynamodb").list_tables()["TableNames"] == [poller["LEDGER_TABLE"]]
    assert [b["Name"] for b in moto_client(local_env, "s3").list_buckets()["Buckets"]] == [poller["EXPORT_BUCKET"]]
    secrets = moto_client(local_env, "secretsmanager").list_secrets()["SecretList"]
    assert sorted(s["ARN"] for s in secrets) == sorted([poller["FLATFILE_SECRET_ID"],
                                                        local_env["WebhookFunction"]["WEBHOOK_SECRET_ID"]])
    for function in local_env.values():
        assert function["AWS_ENDPOINT_URL"] == poller["AWS_ENDPOINT_URL"]
        assert function["FLATFILE_BASE_URL"] == poller["FLATFILE_BASE_URL"]
    assert requests.get(f"{poller['FLATFILE_BASE_URL']}/health", timeout=5).json() == {"status": "ok"}


def test_every_readme_command_works_with_the_env_file(
    local_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = []
    library = logging.getLogger("flatfile_relay")  # each cold start rewires it: put it back afterwards
    saved = (list(library.handlers), library.level, library.propagate)
    for function, event_file in readme_commands():
        with monkeypatch.context() as patch:
            for key, value in {**local_env[function], "AWS_ACCESS_KEY_ID": "testing",
                               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
                patch.setenv(key, value)
            patch.delenv("AWS_SESSION_TOKEN", raising=False)
            module = function_app(function.removesuffix("Function").lower(), fresh=True)
            event = json.loads((ROOT / event_file).read_text(encoding="utf-8"))
            answers.append((event_file, module.handler(event, lambda_context(function))))
            os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    library.handlers[:] = saved[0]
    library.setLevel(saved[1])
    library.propagate = saved[2]

    by_event = dict(answers)
    assert SAMPLE_BATCH_ID in by_event["events/schedule.json"]["jobs_sent"]
    assert by_event["events/sqs_export_job.json"] == {"batchItemFailures": []}
    assert by_event["events/sqs_notice.json"] == {"batchItemFailures": []}
    assert by_event["events/webhook.json"]["statusCode"] == 202
    for mode in ("check", "status", "replay", "backfill"):
        assert by_event[f"events/{mode}.json"]["ok"] is True, by_event[f"events/{mode}.json"]
