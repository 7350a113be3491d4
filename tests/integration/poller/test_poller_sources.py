"""functions/poller/app.py with the legacy API and the Flatfile Platform at once, invoked like Lambda: each source
polled with its own checkpoint, reported on its own (a log line with a `source` field, metrics with a `Source`
dimension), and a failing source never stopping the other. The emulator serves both APIs over HTTP; moto over
HTTP. What is checked is what lands on the export-jobs queue and in the ledger, never an export."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.platform_jobs import (
    WRONG_KEY,
    both_secret,
    history,
    legacy_requests,
    platform_only_secret,
    platform_requests,
    submit,
    submits,
    unrelated,
)
from support.relay import Relay

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.credentials import MalformedSecretError
from flatfile_relay.flatfile import CredentialsRejectedError, RetriesExhaustedError
from flatfile_relay.ledger import QUEUED
from flatfile_relay_devkit.emulator import FaultRule


@pytest.fixture
def relay(relay_factory: Callable[..., Relay]) -> Relay:
    """The handler with list pages of five and two attempts per request (a source that is down fails fast)."""
    return relay_factory(env={"FLATFILE_BATCH_PAGE_SIZE": "5", "FLATFILE_MAX_ATTEMPTS": "2"}, batch_page_size=5)


def queued(relay: Relay) -> dict[str, list[str]]:
    """The jobs on the export-jobs queue (drained), by source."""
    found: dict[str, list[str]] = {}
    for job in relay.drain_jobs():
        assert job.trigger == "schedule"
        found.setdefault(job.source, []).append(job.batch_id)
    return {source: sorted(ids) for source, ids in found.items()}


def printed(capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The JSON log lines and the EMF documents the handler printed since the last call."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" not in line], [line for line in lines if "_aws" in line]


def metrics_by_source(documents: list[dict[str, Any]]) -> dict[str | None, dict[str, float]]:
    """Metric values by their `Source` dimension (None: the function's own, dimension `service` alone)."""
    found: dict[str | None, dict[str, float]] = {}
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            [dimensions] = directive["Dimensions"]
            if "function_name" in dimensions:
                continue  # the cold start's
            source = document["Source"] if "Source" in dimensions else None
            assert set(dimensions) == ({"service", "Source"} if source else {"service"})
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                found.setdefault(source, {})[metric["Name"]] = value[0] if isinstance(value, list) else value
    return found


def sample_batches(relay: Relay) -> list[str]:
    return sorted(relay.submitted_ids())


# -- which sources run -------------------------------------------------------------------------------------


def test_a_platform_only_secret_polls_the_platform_alone(relay: Relay, capsys: pytest.CaptureFixture[str]) -> None:
    relay.put_secret(platform_only_secret(relay.emu))
    ready = submits(relay.emu, 3)
    relay.emu.clear_request_log()

    answer = relay.invoke_poller()

    assert list(answer["sources"]) == ["platform"]
    assert sorted(answer["jobs_sent"]) == sorted(ready)
    assert answer["complete"] is True
    assert queued(relay) == {"platform": sorted(ready)}
    assert legacy_requests(relay.emu) == []  # the legacy API is not even asked
    assert relay.ledger.checkpoint() == Checkpoint()
    assert relay.ledger.checkpoint("platform").baseline_completed_at is not None
    logs, documents = printed(capsys)
    assert [line["source"] for line in logs if line["message"] == "poll finished"] == ["platform"]
    assert set(metrics_by_source(documents)) == {None, "platform"}


def test_a_secret_with_both_sources_polls_each_with_its_own_checkpoint_logs_and_metrics(
    relay: Relay, capsys: pytest.CaptureFixture[str]
) -> None:
    relay.put_secret(both_secret(relay.emu))
    ready = submits(relay.emu, 2)

    answer = relay.invoke_poller()

    assert list(answer["sources"]) == ["legacy", "platform"]  # legacy first, each its own report
    assert sorted(answer["sources"]["platform"]["jobs_sent"]) == sorted(ready)
    assert sorted(answer["sources"]["legacy"]["jobs_sent"]) == sample_batches(relay)
    assert sorted(answer["jobs_sent"]) == sorted([*ready, *sample_batches(relay)])
    assert answer["pages"] == answer["sources"]["legacy"]["pages"] + answer["sources"]["platform"]["pages"]
    assert answer["complete"] is True
    assert json.loads(json.dumps(answer)) == answer
    assert queued(relay) == {"legacy": sample_batches(relay), "platform": sorted(ready)}
    assert relay.ledger.checkpoint().baseline_completed_at is not None
    assert relay.ledger.checkpoint("platform").baseline_completed_at is not None

    logs, documents = printed(capsys)
    finished = {line["source"]: line["poll"] for line in logs if line["message"] == "poll finished"}
    assert finished["platform"]["jobs_sent_count"] == len(ready)
    assert finished["legacy"]["jobs_sent_count"] == len(sample_batches(relay))
    metrics = metrics_by_source(documents)
    assert metrics["platform"]["BatchesQueued"] == len(ready)
    assert metrics["legacy"]["BatchesQueued"] == len(sample_batches(relay))
    assert metrics["legacy"]["PollSucceeded"] == metrics["platform"]["PollSucceeded"] == 1
    assert metrics[None]["PollSucceeded"] == 1  # the heartbeat: every source polled
    assert metrics[None]["FlatfileRequests"] == len(relay.emu.request_log)  # both APIs' requests


def test_platform_placeholders_beside_real_legacy_keys_poll_the_legacy_api_alone(relay: Relay) -> None:
    relay.put_secret({**relay.emu.secret, "platformSecretKey": "REPLACE_ME", "platformEnvironmentId": "REPLACE_ME"})
    submit(relay.emu)

    answer = relay.invoke_poller()

    assert list(answer["sources"]) == ["legacy"]
    assert queued(relay) == {"legacy": sample_batches(relay)}
    assert platform_requests(relay.emu) == []


# -- one failing source never stops the other ----------------------------------------------------------------


def test_a_platform_key_set_in_part_is_reported_while_the_legacy_api_is_polled(
    relay: Relay, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = relay.emu.platform_secret
    relay.put_secret({**relay.emu.secret, "platformSecretKey": platform["platformSecretKey"]})
    ready = submit(relay.emu)

    with pytest.raises(MalformedSecretError, match="platformEnvironmentId") as caught:
        relay.invoke_poller()

    assert queued(relay) == {"legacy": sample_batches(relay)}  # polled before the invocation failed
    assert platform_requests(relay.emu) == []
    logs, documents = printed(capsys)
    [error] = [line for line in logs if line["level"] == "ERROR"]
    assert error["source"] == "platform"
    assert error["error_kind"] == "configuration"
    assert error["message"].startswith(str(caught.value))
    assert platform["platformSecretKey"] not in json.dumps(logs)
    metrics = metrics_by_source(documents)
    assert metrics["platform"] == {"PollFailures": 1}
    assert metrics["legacy"]["PollSucceeded"] == 1
    assert "PollSucceeded" not in metrics[None]  # not every source polled: the stale-poller alarm counts it

    relay.put_secret(both_secret(relay.emu))  # fixed: the next poll reads the secret afresh (never cached)
    answer = relay.invoke_poller()
    assert answer["sources"]["platform"]["jobs_sent"] == [ready]
    assert queued(relay) == {"platform": [ready]}


@pytest.mark.parametrize(
    ("trouble", "error"),
    [
        ({"fault": FaultRule(kind="503", path="/v1/", count=None)}, RetriesExhaustedError),
        ({"secret": {"platformSecretKey": WRONG_KEY}}, CredentialsRejectedError),
    ],
    ids=["platform API down", "platform key refused"],
)
def test_a_failing_platform_never_stops_the_legacy_api(
    relay: Relay, capsys: pytest.CaptureFixture[str], trouble: dict[str, Any], error: type[Exception]
) -> None:
    ready = submit(relay.emu)
    relay.put_secret({**both_secret(relay.emu), **trouble.get("secret", {})})
    if "fault" in trouble:
        relay.emu.inject(trouble["fault"])

    with pytest.raises(error):
        relay.invoke_poller()

    assert queued(relay) == {"legacy": sample_batches(relay)}
    logs, documents = printed(capsys)
    assert [line["source"] for line in logs if line["level"] == "ERROR"] == ["platform"]
    assert metrics_by_source(documents)["platform"] == {"PollFailures": 1}
    assert relay.ledger.checkpoint().baseline_completed_at is not None

    relay.emu.clear_faults()
    relay.put_secret(both_secret(relay.emu))
    answer = relay.invoke_poller()
    assert (answer["sources"]["platform"]["jobs_sent"], answer["sources"]["legacy"]["jobs_sent"]) == ([ready], [])


@pytest.mark.parametrize(
    ("trouble", "error"),
    [
        ({"fault": FaultRule(kind="503", path="/rest/batches", count=None)}, RetriesExhaustedError),
        ({"secret": {"secretAccessKey": "W" * 40}}, CredentialsRejectedError),
    ],
    ids=["legacy API down", "legacy key refused"],
)
def test_a_failing_legacy_api_never_stops_the_platform(
    relay: Relay, capsys: pytest.CaptureFixture[str], trouble: dict[str, Any], error: type[Exception]
) -> None:
    ready = submits(relay.emu, 2)
    relay.put_secret({**both_secret(relay.emu), **trouble.get("secret", {})})
    if "fault" in trouble:
        relay.emu.inject(trouble["fault"])

    with pytest.raises(error):
        relay.invoke_poller()

    assert queued(relay) == {"platform": sorted(ready)}
    assert {relay.ledger.get(job_id).state for job_id in ready} == {QUEUED}  # type: ignore[union-attr]
    logs, documents = printed(capsys)
    assert [line["source"] for line in logs if line["level"] == "ERROR"] == ["legacy"]
    metrics = metrics_by_source(documents)
    assert metrics["legacy"] == {"PollFailures": 1}
    assert metrics["platform"]["BatchesQueued"] == len(ready)

    relay.emu.clear_faults()
    relay.put_secret(both_secret(relay.emu))
    answer = relay.invoke_poller()
    assert sorted(answer["sources"]["legacy"]["jobs_sent"]) == sample_batches(relay)
    assert answer["sources"]["platform"]["jobs_sent"] == []


@pytest.mark.slow
def test_a_hanging_legacy_api_leaves_the_platform_its_share_of_the_time(relay: Relay) -> None:
    relay.put_secret(both_secret(relay.emu))
    ready = submit(relay.emu)
    relay.emu.inject(FaultRule(kind="slow", path="/rest/batches", count=1, delay=60))

    started = time.monotonic()
    answer = relay.invoke("PollerFunction", {}, timeout=24)  # a deadline of 18 s: a share of 9 s each
    took = time.monotonic() - started

    assert took < 20
    assert answer["sources"]["legacy"]["complete"] is False  # cut at its share, cleanly (the next poll goes on)
    assert answer["sources"]["platform"]["complete"] is True
    assert answer["sources"]["platform"]["jobs_sent"] == [ready]
    assert answer["complete"] is False


# -- what an idle poll costs ---------------------------------------------------------------------------------


def test_idle_polls_on_a_warm_container_cost_one_request_per_source(relay: Relay) -> None:
    relay.put_secret(both_secret(relay.emu))
    history(relay.emu, 12)  # the job list spans several pages
    relay.add_batches(12, status="cancelled")  # and the batch list too
    relay.emu.state.set_status(relay.emu.state.sample("in_progress")["id"], "cancelled")  # nothing pending
    relay.invoke_poller()  # the first copy of both
    relay.drain_jobs()
    counts = []
    for change in (None, None, lambda: unrelated(relay.emu, 3), None):  # new jobs for other listeners on top
        if change is not None:
            change()
        relay.emu.clear_request_log()
        answer = relay.invoke_poller()
        assert answer["jobs_sent"] == []
        counts.append((len(legacy_requests(relay.emu)), len(platform_requests(relay.emu))))
    assert counts == [(1, 1)] * 4


# -- poll, retries and replay converge -------------------------------------------------------------------------


def test_polls_retries_and_a_replay_queue_one_job_per_platform_job(relay: Relay) -> None:
    relay.put_secret(platform_only_secret(relay.emu))
    ready = submits(relay.emu, 8)
    relay.emu.inject(FaultRule(kind="503", path="/v1/jobs", after=1, count=2))  # the second page fails

    with pytest.raises(RetriesExhaustedError):
        relay.invoke_poller()
    relay.invoke_poller()  # Lambda's retry of the failed invocation
    relay.invoke_poller()  # the next scheduled poll
    replay = relay.invoke("PollerFunction", {"mode": "replay", "batchIds": [ready[0]]})

    jobs = relay.drain_jobs()
    assert sorted(job.batch_id for job in jobs if job.trigger == "schedule") == sorted(ready)  # each once
    assert [(job.batch_id, job.source) for job in jobs if job.trigger == "replay"] == [(ready[0], "platform")]
    assert replay == {"mode": "replay", "ok": True, "queued": [ready[0]], "previousState": {ready[0]: QUEUED}}
