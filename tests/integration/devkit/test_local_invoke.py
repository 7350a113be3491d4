"""`make invoke FUNCTION=<logical id> EVENT=<file>`: every sample event of events/ does what it says against a
fresh local stack (moto and the emulator, the sample batch exported), the documented commands work as pasted,
and a bad FUNCTION or EVENT is named."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.docs import ROOT, block, shell

from flatfile_relay_devkit.local import invoke
from flatfile_relay_devkit.local.sam_env import SAMPLE_BATCH_ID

#: the function each sample event is for
FUNCTION = {"sqs_export_job": "ExporterFunction", "sqs_notice": "ConsumerFunction", "webhook": "WebhookFunction",
            "webhook_platform": "WebhookFunction"}
EVENTS = sorted(path.name for path in (ROOT / "events").glob("*.json"))

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def library_logger() -> Iterator[None]:
    """Each cold start rewires the library's logger: put it back afterwards."""
    library = logging.getLogger("flatfile_relay")
    saved = (list(library.handlers), library.level, library.propagate)
    yield
    library.handlers[:] = saved[0]
    library.setLevel(saved[1])
    library.propagate = saved[2]


def answered(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Any, list[str]]:
    """(exit status, response, log lines) of one `make invoke`, run in this process."""
    status = invoke.main([*arguments, "--root", str(ROOT)])
    printed = capsys.readouterr().out
    logs, _, response = printed.partition("\nresponse:\n")
    return status, json.loads(response) if response else None, logs.splitlines()[1:]


@pytest.mark.parametrize("event", EVENTS)
def test_every_sample_event_does_what_it_says(event: str, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    function = FUNCTION.get(Path(event).stem, "PollerFunction")

    status, response, logs = answered(capsys, function, f"events/{event}")

    assert status == 0
    assert logs, "the function's log lines are printed"
    assert all(json.loads(line.strip()) for line in logs)
    if Path(event).stem in ("sqs_export_job", "sqs_notice"):
        assert response == {"batchItemFailures": []}
    elif event == "webhook.json":
        assert response["statusCode"] == 202
    elif event == "webhook_platform.json":  # a forwarded Platform job:ready: its job queued
        assert response["statusCode"] == 202
        assert json.loads(response["body"])["source"] == "platform"
        assert json.loads(response["body"])["queued"] is True
    elif event == "schedule.json":
        assert len(response["jobs_sent"]) == 10  # the emulator's submitted samples; the sample batch is exported
    else:
        assert response["ok"] is True, response
        assert response["mode"] == Path(event).stem
    if event == "replay.json":
        assert response["queued"] == [SAMPLE_BATCH_ID]


def test_the_documented_make_invoke_commands_work_as_pasted() -> None:
    for line in block("docs/local.md", "## `make invoke`: one function, one event", "bash").text.splitlines():
        done = shell(line, timeout=180)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        assert "\nresponse:\n" in done.stdout
        assert "Traceback" not in done.stdout + done.stderr


def test_a_failing_function_prints_its_traceback_and_exits_1(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    event = tmp_path / "not-sqs.json"
    event.write_text("{}", encoding="utf-8")  # not an SQS event: the batch processor raises
    status = invoke.main(["ExporterFunction", str(event), "--root", str(ROOT)])
    printed = capsys.readouterr().out
    assert status == 1
    assert "ExporterFunction failed (Lambda would report the invocation as an error):" in printed
    assert "Traceback (most recent call last)" in printed
    assert "UnexpectedBatchTypeError" in printed


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [("FUNCTION=Nope EVENT=events/schedule.json", "template.yaml has no function 'Nope'; FUNCTION is one of "
      "PollerFunction, ExporterFunction, WebhookFunction, ConsumerFunction"),
     ("FUNCTION=PollerFunction EVENT=events/nope.json", "no event file 'events/nope.json'"),
     ("FUNCTION=PollerFunction", "usage: make invoke FUNCTION=<logical id> EVENT=<file>")],
)
def test_a_wrong_function_or_event_is_named(arguments: str, problem: str) -> None:
    done = shell(f"make --no-print-directory invoke {arguments}", timeout=60)
    assert done.returncode != 0
    assert problem in done.stderr
    assert "Traceback" not in done.stderr
