"""Contract items 1-2 seen through the handlers: sample events, any poller event, partial SQS batch failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contract_stack import FUNCTIONS, ROOT, Stack, event_file, sqs_event

from flatfile_relay_devkit.local.template import load_yaml

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


def test_every_function_has_a_handler_and_a_sample_event() -> None:
    template = load_yaml(ROOT / "template.yaml")
    resources = template["Resources"]  # type: ignore[index]
    for logical_id, folder in FUNCTIONS.items():
        assert resources[logical_id]["Type"] == "AWS::Serverless::Function"
        assert (ROOT / "functions" / folder / "app.py").is_file()
    for name in ("schedule.json", "sqs_export_job.json", "sqs_notice.json", "webhook.json"):
        json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def test_the_poller_does_not_depend_on_its_event(stack_factory: Any) -> None:
    stack = stack_factory(samples=False)
    stack.add_batch(status=None)
    for number, event in enumerate(ODD_EVENTS):
        new = stack.add_batch(rows=0)
        if number % 2:
            stack.cold("PollerFunction")
        report = stack.poll(event=event)
        assert report["jobs_sent"] == [new], event


def test_a_garbage_export_job_fails_alone(stack: Stack) -> None:
    single = stack.emulator.samples["single"]
    good = json.dumps({"type": "flatfile.export.job", "schemaVersion": 1, "batchId": single, "trigger": "schedule"})
    bodies = ["garbage", good, "", "{}", '{"batchId": "not-a-uuid"}', "null"]
    answer = stack.run_exporter(bodies)
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (0, 2, 3, 4, 5)]}
    assert [n["batchId"] for n in stack.notices()] == [single]


def test_the_sample_export_job_event_runs(stack: Stack) -> None:
    """events/sqs_export_job.json names a batch this deployment does not have: it is handed back, not failed."""
    answer = stack.invoke("ExporterFunction", event_file("sqs_export_job.json"))
    assert answer == {"batchItemFailures": []}
    assert stack.notices() == []


def test_the_consumer_reports_bad_notices_alone(stack: Stack) -> None:
    for label in ("single", "nasty"):
        stack.export(stack.emulator.samples[label])
    notices = stack.drain(stack.env["NOTICES_QUEUE_URL"])
    bodies = [m["Body"] for m in notices[:2]] + ["garbage", json.dumps({"type": "other"})]
    answer = stack.invoke("ConsumerFunction", sqs_event("sqs_notice.json", bodies))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("function", ["ExporterFunction", "ConsumerFunction"])
def test_sqs_functions_answer_batch_item_failures_for_an_empty_batch(stack: Stack, function: str) -> None:
    assert stack.invoke(function, {"Records": []}) == {"batchItemFailures": []}
