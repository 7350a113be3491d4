"""Operator modes: the poller's handler invoked with `{"mode": ...}` against the emulator and moto, like Lambda
would, starting from the sample events in events/ (the relay harness: tests/support/relay.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from support.relay import Relay, event_file

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.ledger import EXPORTED, IGNORED, QUEUED


def event(name: str, **changes: Any) -> Any:
    return {**event_file(name), **changes}


def invoke(relay: Relay, payload: Any, timeout: float | None = None) -> Any:
    """The poller's handler on `payload`; its answer is what `aws lambda invoke` writes to its file."""
    answer = relay.invoke("PollerFunction", payload, timeout)
    assert json.loads(json.dumps(answer)) == answer
    return answer


def missing_queue(relay: Relay) -> str:
    return f"{relay.sqs.meta.endpoint_url}/123456789012/no-such-queue"


def sample(relay: Relay, label: str) -> dict[str, Any]:
    return dict(relay.emu.state.sample(label))


# -- dispatch ------------------------------------------------------------------------------------------


def test_events_without_a_mode_are_polls(relay: Relay) -> None:
    first = invoke(relay, event("schedule.json"))  # the EventBridge envelope
    assert sorted(first["jobs_sent"]) == sorted(relay.submitted_ids())
    assert invoke(relay, {})["jobs_sent"] == []  # the scheduler's Input "{}"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"mode": "chek"}, "unknown mode 'chek': use one of check, status, replay, backfill"),
        ({"mode": "replay"}, "bad replay request: batchIds: is missing"),
        ({"mode": "replay", "batchIds": ["nope"]}, "bad replay request: batchIds: batchId 'nope' is not a UUID"),
        ({"mode": "replay", "batchIds": []}, "bad replay request: batchIds: List should have at least 1 item"),
        ({"mode": "backfill", "since": "2024-02-30"}, "bad backfill request: since: must be an ISO-8601 date"),
        ({"mode": "backfill"}, "bad backfill request: since: is missing"),
        ({"mode": "backfill", "since": "2024-02-01", "dryrun": True},
         "bad backfill request: dryrun: unknown field (check its spelling)"),
        ({"mode": "backfill", "since": "2024-02-01", "dryRun": "yes"}, "bad backfill request: dryRun:"),
        ({"mode": "backfill", "since": "2024-02-01", "until": "2024-01-01"}, "until must be later than since"),
        ({"mode": "status", "verbose": True}, "bad status request: verbose: unknown field"),
    ],
)
def test_a_bad_request_answers_what_is_wrong_and_does_nothing(
    relay: Relay, payload: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = invoke(relay, payload)  # no exception: an asynchronous call is not retried into the DLQ

    assert answer["ok"] is False
    assert answer["error"].startswith(problem) or problem in answer["error"], answer["error"]
    assert relay.drain_jobs() == []
    assert relay.ledger.checkpoint() == Checkpoint()  # no poll ran
    assert any(r.levelname == "ERROR" and problem[:20] in r.getMessage() for r in caplog.records)


# -- check ---------------------------------------------------------------------------------------------


def test_check_passes_every_step_and_writes_nothing(relay: Relay) -> None:
    answer = invoke(relay, event("check.json"))

    assert answer["ok"] is True, answer
    steps = answer["steps"]
    assert list(steps) == [
        "secret", "token exchange", "batch list", "graphql", "ledger", "bucket",
        "export-jobs queue", "notices queue", "export-jobs DLQ", "notices DLQ", "consumer queue", "consumer DLQ",
        "poller DLQ", "alarms",
    ]
    # the template's defaults: neither AlertEmail nor AlertTopicArn, so the alarms notify no one (a warning)
    assert steps.pop("alarms") == ("warning: alarms notify no one: neither AlertEmail nor AlertTopicArn is set; "
                                   "redeploy with one")
    assert all(line.startswith("ok") for line in steps.values())
    listed = len(relay.emu.state.account_batches())
    assert steps["batch list"] == f"ok ({listed} batches listed for the license)"
    assert relay.emu.requests_to("/graphql")
    assert relay.drain_jobs() == []
    assert relay.ledger.checkpoint() == Checkpoint()
    assert relay.ledger.get_many(relay.submitted_ids()) == {}


def test_check_names_a_wrong_access_key_and_goes_on(relay: Relay) -> None:
    relay.put_secret({**relay.emu.secret, "secretAccessKey": "W" * 40})

    steps = invoke(relay, event("check.json"))["steps"]

    assert steps["secret"] == "ok"
    assert steps["token exchange"].startswith("error: Flatfile rejected the access key")
    assert "check accessKeyId and secretAccessKey" in steps["token exchange"]
    assert steps["batch list"].startswith("error: Flatfile rejected")
    assert steps["graphql"] == "skipped: needs the token exchange step"
    assert steps["ledger"].startswith("ok")
    assert steps["poller DLQ"] == "ok"
    assert "W" * 40 not in json.dumps(steps)


def test_check_names_a_foreign_license(relay: Relay) -> None:
    foreign = relay.emu.state.account.foreign_license_key
    relay.put_secret({**relay.emu.secret, "licenseKey": foreign})

    answer = invoke(relay, event("check.json"))

    assert answer["ok"] is False
    steps = answer["steps"]
    assert steps["token exchange"] == "ok"
    assert steps["graphql"] == "ok"
    assert steps["batch list"].startswith("error: Flatfile refused the batch list (HTTP 403): the licenseKey")


def test_check_names_a_malformed_secret(relay: Relay) -> None:
    relay.put_secret({k: v for k, v in relay.emu.secret.items() if k != "licenseKey"})

    steps = invoke(relay, event("check.json"))["steps"]

    assert steps["secret"].startswith("error: ")
    assert "licenseKey" in steps["secret"]
    assert steps["token exchange"] == "skipped: needs the secret step"
    assert steps["bucket"] == "ok"


def test_check_names_the_aws_calls_refused(relay: Relay, relay_factory: Callable[..., Relay]) -> None:
    broken = relay_factory(env={"LEDGER_TABLE": "no-such-table", "POLLER_DLQ_URL": missing_queue(relay)})

    answer = invoke(broken, event("check.json"))

    steps = answer["steps"]
    assert answer["ok"] is False
    assert steps["ledger"].startswith("error: AWS refused DescribeTable: ResourceNotFoundException")
    assert steps["poller DLQ"].startswith("error: AWS refused GetQueueAttributes:")
    assert "NonExistentQueue" in steps["poller DLQ"]
    assert steps["token exchange"] == "ok"
    assert steps["export-jobs queue"] == "ok"


def test_check_names_the_topics_the_alarms_notify(relay_factory: Callable[..., Relay]) -> None:
    topics = "arn:aws:sns:us-east-1:123456789012:relay-alarms,arn:aws:sns:us-east-1:123456789012:pager"
    relay = relay_factory(env={"ALERT_TOPICS": topics})

    answer = invoke(relay, event("check.json"))

    assert answer["ok"] is True
    assert answer["steps"]["alarms"] == f"ok (alarms notify {topics.replace(',', ', ')})"


# -- status --------------------------------------------------------------------------------------------


def test_status_reports_the_ledger_the_poller_and_the_queues(relay: Relay) -> None:
    before = invoke(relay, event("status.json"))
    assert before["ok"] is True
    assert before["ledger"] == {}
    assert before["oldestPending"] is None
    assert before["sources"]["legacy"]["poller"]["lastPollAt"] is None

    poll = invoke(relay, event("schedule.json"))
    answer = invoke(relay, event("status.json"))

    assert answer["ok"] is True, answer
    in_progress = sample(relay, "in_progress")
    assert answer["ledger"] == {"closed": 2, QUEUED: len(poll["jobs_sent"]), "pending": 1}
    assert answer["oldestPending"]["batchId"] == in_progress["id"]
    assert answer["oldestPending"]["createdAt"] == in_progress["createdAt"]
    legacy = answer["sources"]["legacy"]
    assert (legacy["ledger"], legacy["oldestPending"]) == (answer["ledger"], answer["oldestPending"])
    assert legacy["poller"]["lastPollAt"]
    assert legacy["poller"]["lastPollComplete"] is True
    assert legacy["poller"]["lastFullWalkAt"] == legacy["poller"]["lastPollAt"]
    assert answer["sources"]["platform"] == {  # a legacy-only secret: the Platform never polled
        "ledger": {}, "oldestPending": None,
        "poller": {"lastPollAt": None, "lastPollComplete": None, "lastFullWalkAt": None, "baselineCompletedAt": None}}
    assert answer["exportBacklog"] == {"waiting": len(poll["jobs_sent"]), "inFlight": 0}
    assert answer["deadLetters"] == {"export-jobs DLQ": 0, "notices DLQ": 0, "consumer DLQ": 0, "poller DLQ": 0}


def test_status_reports_what_it_could_read_when_an_aws_call_fails(
    relay: Relay, relay_factory: Callable[..., Relay]
) -> None:
    broken = relay_factory(env={"POLLER_DLQ_URL": missing_queue(relay)})

    answer = invoke(broken, event("status.json"))

    assert answer["ok"] is False
    assert answer["deadLetters"]["poller DLQ"].startswith("error: AWS refused GetQueueAttributes")
    assert answer["deadLetters"]["notices DLQ"] == 0
    assert answer["ledger"] == {}


# -- replay --------------------------------------------------------------------------------------------


def test_replay_exports_an_exported_batch_again(relay: Relay) -> None:
    single = sample(relay, "single")["id"]
    invoke(relay, event("schedule.json"))
    relay.export_queued()
    first = relay.ledger.get(single)
    assert first is not None
    assert first.state == EXPORTED
    assert first.trigger == "schedule"

    answer = invoke(relay, event("replay.json", batchIds=[single.upper()]))
    assert answer == {"mode": "replay", "ok": True, "queued": [single], "previousState": {single: EXPORTED}}
    assert relay.export_queued() == [single]

    again = relay.ledger.get(single)
    assert again is not None
    assert again.state == EXPORTED
    assert again.trigger == "replay"
    assert again.exported_at != first.exported_at
    assert again.manifest_uri == relay.manifest_uri(single)
    assert relay.manifest_dict(single)["trigger"] == "replay"


def test_replay_refuses_ids_the_ledger_never_saw_and_sends_nothing(relay: Relay) -> None:
    invoke(relay, event("schedule.json"))
    relay.drain_jobs()
    known = sample(relay, "single")["id"]

    answer = invoke(relay, event("replay.json"))  # the sample event's id is not one of the emulator's

    assert answer["ok"] is False
    assert "the ledger knows no batch 8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27" in answer["error"]
    assert invoke(relay, event("replay.json", batchIds=[known, "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"]))[
        "ok"] is False
    assert relay.drain_jobs() == []


def test_replay_reports_the_jobs_sqs_refused(relay: Relay, relay_factory: Callable[..., Relay]) -> None:
    invoke(relay, event("schedule.json"))
    single = sample(relay, "single")["id"]
    broken = relay_factory(env={"EXPORT_JOBS_QUEUE_URL": missing_queue(relay)})

    answer = invoke(broken, event("replay.json", batchIds=[single]))

    assert answer["ok"] is False
    assert answer["error"].startswith(f"could not send 1 of 1 export jobs to SQS queue {missing_queue(relay)}")
    assert "NonExistentQueue" in answer["error"]
    assert (answer["queued"], answer["notQueued"]) == ([], [single])


# -- backfill ------------------------------------------------------------------------------------------


@pytest.fixture
def since_medium(relay_factory: Callable[..., Relay], emulator: Any) -> Relay:
    """EXPORT_SINCE at the `medium` sample: the first copy leaves out old, late_submitted and big."""
    return relay_factory(env={"EXPORT_SINCE": emulator.state.sample("medium")["createdAt"]})


def test_backfill_dry_run_lists_the_batches_the_first_copy_left_out(since_medium: Relay) -> None:
    relay = since_medium
    left_out = {sample(relay, label)["id"]: sample(relay, label) for label in ("old", "late_submitted", "big")}
    invoke(relay, event("schedule.json"))
    relay.drain_jobs()
    assert {relay.ledger.get(batch_id).state for batch_id in left_out} == {IGNORED}  # type: ignore[union-attr]

    since = min(batch["createdAt"] for batch in left_out.values())[:10]  # a date: midnight UTC
    until = sample(relay, "medium")["createdAt"]
    answer = invoke(relay, event("backfill.json", since=since, until=until))

    assert answer["ok"] is True
    assert answer["dryRun"] is True
    assert answer["complete"] is True
    assert {b["batchId"] for b in answer["batches"]} == set(left_out)
    for listed in answer["batches"]:
        assert listed["filename"] == left_out[listed["batchId"]]["filename"]
        assert listed["ledgerState"] == IGNORED
    assert answer["queued"] == []
    assert relay.drain_jobs() == []
    assert {relay.ledger.get(batch_id).state for batch_id in left_out} == {IGNORED}  # type: ignore[union-attr]


def test_backfill_queues_the_window_once_with_trigger_backfill(since_medium: Relay) -> None:
    relay = since_medium
    invoke(relay, event("schedule.json"))
    relay.drain_jobs()
    old, late = sample(relay, "old"), sample(relay, "late_submitted")
    payload = event("backfill.json", since=old["createdAt"], until=late["createdAt"], dryRun=False)

    answer = invoke(relay, payload)

    assert answer["ok"] is True
    assert answer["queued"] == [old["id"]]
    jobs = relay.drain_jobs()
    assert [(job.batch_id, job.trigger) for job in jobs] == [(old["id"], "backfill")]
    entry = relay.ledger.get(old["id"])
    assert entry is not None
    assert (entry.state, entry.trigger) == (QUEUED, "backfill")
    assert invoke(relay, payload)["queued"] == []  # already queued: not again

    assert relay.export_queued() == []  # (an empty queue: the job was taken above)
    whole = invoke(relay, {"mode": "backfill", "since": "2000-01-01"})  # no until, dryRun false by default
    assert set(whole["queued"]) == {sample(relay, "late_submitted")["id"], sample(relay, "big")["id"]}


def test_backfill_without_until_in_utc_with_an_offset(since_medium: Relay) -> None:
    relay = since_medium
    invoke(relay, event("schedule.json"))
    big = sample(relay, "big")
    created = big["createdAt"]  # e.g. 2026-11-26T17:09:19.665Z == 2026-11-26T19:09:19.665+02:00
    hour = int(created[11:13])
    shifted = f"{created[:11]}{(hour + 2) % 24:02d}{created[13:23]}+02:00" if hour < 22 else created

    answer = invoke(relay, {"mode": "backfill", "since": shifted, "dryRun": True})

    assert big["id"] in {b["batchId"] for b in answer["batches"]}
    assert answer["since"].endswith("+02:00") or answer["since"].endswith("+00:00")


def test_backfill_stops_in_time_and_a_second_run_queues_the_rest_once(relay_factory: Callable[..., Relay]) -> None:
    relay = relay_factory(env={"FLATFILE_BATCH_PAGE_SIZE": "2"}, emulator={"latency": 0.3})

    cut = invoke(relay, {"mode": "backfill", "since": "2000-01-01"}, timeout=3)  # a deadline of about 2 s

    assert cut["ok"] is True
    assert cut["complete"] is False
    assert sorted(job.batch_id for job in relay.drain_jobs()) == sorted(cut["queued"])
    rest = invoke(relay, {"mode": "backfill", "since": "2000-01-01"}, timeout=300)
    assert rest["complete"] is True
    assert not set(rest["queued"]) & set(cut["queued"])
    assert set(rest["queued"]) | set(cut["queued"]) == relay.submitted_ids()
    assert sorted(job.batch_id for job in relay.drain_jobs()) == sorted(rest["queued"])


def test_backfill_names_a_wrong_key_and_a_foreign_license(relay: Relay) -> None:
    relay.put_secret({**relay.emu.secret, "secretAccessKey": "W" * 40})
    wrong = invoke(relay, event("backfill.json"))
    assert wrong["ok"] is False
    assert wrong["error"].startswith("Flatfile rejected the access key")

    foreign = relay.emu.state.account.foreign_license_key
    relay.put_secret({**relay.emu.secret, "licenseKey": foreign})
    refused = invoke(relay, event("backfill.json"))
    assert refused["ok"] is False
    assert "licenseKey in the secret is not a license" in refused["error"]


def test_backfill_marks_nothing_queued_when_sqs_refuses(
    since_medium: Relay, relay_factory: Callable[..., Relay]
) -> None:
    relay = since_medium
    invoke(relay, event("schedule.json"))
    relay.drain_jobs()
    old = sample(relay, "old")
    broken = relay_factory(env={**relay.env, "EXPORT_JOBS_QUEUE_URL": missing_queue(relay)})

    answer = invoke(broken, event("backfill.json", since=old["createdAt"], until=old["createdAt"][:10] + "T23:59:59Z",
                                  dryRun=False))

    assert answer["ok"] is False
    assert "NonExistentQueue" in answer["error"]
    assert answer["notQueued"] == [old["id"]]
    assert relay.ledger.get(old["id"]).state == IGNORED  # type: ignore[union-attr]  # job first, then the mark
