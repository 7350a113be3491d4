"""Operator modes with the Flatfile Platform's keys in the secret (alone or beside the legacy API's): check tests
each configured source, status counts per source, replay takes job ids, backfill queues the Platform's completed
submit jobs without touching them. The poller's handler against the emulator and moto, over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.platform_jobs import WRONG_KEY, ago, both_secret, platform_only_secret, submit, unrelated
from support.relay import Relay, event_file

from flatfile_relay.ledger import CLOSED, EXPORTED, PENDING, QUEUED


def invoke(relay: Relay, payload: Any) -> Any:
    answer = relay.invoke("PollerFunction", payload)
    assert json.loads(json.dumps(answer)) == answer
    return answer


def sample_job(relay: Relay, label: str) -> dict[str, Any]:
    return relay.emu.platform.job(relay.emu.platform.sample_id(label))


# -- check ---------------------------------------------------------------------------------------------------


def test_check_tests_both_sources(relay: Relay) -> None:
    relay.put_secret(both_secret(relay.emu))

    answer = invoke(relay, event_file("check.json"))

    assert answer["ok"] is True, answer
    assert answer["sources"] == {"legacy": "on", "platform": "on"}
    steps = answer["steps"]
    assert list(steps)[:6] == ["secret", "token exchange", "batch list", "graphql", "platform environment",
                               "platform jobs"]
    environment = relay.emu.platform_secret["platformEnvironmentId"]
    assert steps["platform environment"].startswith(f"ok (environment {environment}")
    assert steps["platform jobs"] == (f"ok (3 jobs in environment {environment}; the relay exports the ready jobs "
                                      "of workbook:submitActionFg)")
    assert relay.drain_jobs() == []
    assert relay.ledger.get("#poller:platform") is None  # nothing written


def test_check_of_a_platform_only_secret_has_no_legacy_steps(relay_factory: Any) -> None:
    relay = relay_factory(env={"FLATFILE_PLATFORM_OPERATIONS": "submitActionFg, exportToAws"})
    relay.put_secret(platform_only_secret(relay.emu))

    answer = invoke(relay, event_file("check.json"))

    assert answer["ok"] is True, answer
    assert answer["sources"]["legacy"].startswith("off")
    assert not {"token exchange", "batch list", "graphql"} & set(answer["steps"])
    assert answer["steps"]["platform jobs"].endswith("workbook:submitActionFg, workbook:exportToAws)")


def test_check_names_a_refused_platform_key_and_goes_on(relay: Relay) -> None:
    relay.put_secret({**both_secret(relay.emu), "platformSecretKey": WRONG_KEY})

    answer = invoke(relay, event_file("check.json"))

    steps = answer["steps"]
    assert answer["ok"] is False
    assert steps["platform environment"].startswith("error: Flatfile Platform rejected the secret key")
    assert "platformSecretKey" in steps["platform environment"]
    assert steps["platform jobs"] == "skipped: needs the platform environment step"
    assert steps["batch list"].startswith("ok")  # the legacy API's steps still pass
    assert WRONG_KEY not in json.dumps(answer)


def test_check_names_a_platform_environment_the_key_does_not_open(relay: Relay) -> None:
    foreign = relay.emu.platform.account.foreign_environment_id
    relay.put_secret({**both_secret(relay.emu), "platformEnvironmentId": foreign})

    steps = invoke(relay, event_file("check.json"))["steps"]

    assert steps["platform environment"].startswith("error: ")
    assert "platformEnvironmentId" in steps["platform environment"]


def test_check_names_a_platform_key_set_in_part(relay: Relay) -> None:
    relay.put_secret({**relay.emu.secret, "platformSecretKey": relay.emu.platform_secret["platformSecretKey"]})

    answer = invoke(relay, event_file("check.json"))

    assert answer["ok"] is False
    assert answer["sources"]["legacy"] == "on"
    assert answer["sources"]["platform"].startswith("error: ")
    assert "platformEnvironmentId" in answer["steps"]["platform environment"]
    assert answer["steps"]["secret"] == "ok"


# -- status --------------------------------------------------------------------------------------------------


def test_status_counts_each_source_and_shows_each_checkpoint(relay: Relay) -> None:
    relay.put_secret(both_secret(relay.emu))
    ready, pending = submit(relay.emu), submit(relay.emu, ready=False, at=ago(days=1))
    poll = invoke(relay, {})

    answer = invoke(relay, event_file("status.json"))

    assert answer["ok"] is True, answer
    platform, legacy = answer["sources"]["platform"], answer["sources"]["legacy"]
    assert platform["ledger"] == {CLOSED: 2, PENDING: 1, QUEUED: 1}  # the samples' ended submits, and ours
    assert legacy["ledger"] == {CLOSED: 2, PENDING: 1, QUEUED: len(poll["sources"]["legacy"]["jobs_sent"])}
    assert answer["ledger"] == {state: legacy["ledger"][state] + platform["ledger"][state]
                                for state in (CLOSED, PENDING, QUEUED)}
    assert platform["oldestPending"]["batchId"] == pending
    assert legacy["oldestPending"]["batchId"] == relay.emu.state.sample("in_progress")["id"]
    assert answer["oldestPending"] in (platform["oldestPending"], legacy["oldestPending"])
    assert platform["poller"]["lastPollComplete"] is True
    assert platform["poller"]["baselineCompletedAt"] == platform["poller"]["lastFullWalkAt"]
    assert legacy["poller"]["lastPollAt"]
    assert answer["exportBacklog"]["waiting"] == len(poll["jobs_sent"])
    assert ready in poll["jobs_sent"]


# -- replay --------------------------------------------------------------------------------------------------


def test_replay_takes_job_ids_and_batch_ids_alike(relay: Relay) -> None:
    relay.put_secret(both_secret(relay.emu))
    ready = submit(relay.emu)
    invoke(relay, {})
    relay.drain_jobs()
    batch = relay.emu.state.sample("single")["id"]

    answer = invoke(relay, event_file("replay.json") | {"batchIds": [ready, batch.upper()]})

    assert answer == {"mode": "replay", "ok": True, "queued": [ready, batch],
                      "previousState": {ready: QUEUED, batch: QUEUED}}
    assert sorted((job.batch_id, job.source, job.trigger) for job in relay.drain_jobs()) == sorted([
        (ready, "platform", "replay"), (batch, "legacy", "replay")])


def test_replay_refuses_a_job_id_the_ledger_never_saw(relay: Relay) -> None:
    answer = invoke(relay, {"mode": "replay", "batchIds": ["us_jb_neverseen"]})

    assert answer["ok"] is False
    assert answer["error"].startswith("the ledger knows no job us_jb_neverseen: nothing was replayed")
    bad = invoke(relay, {"mode": "replay", "batchIds": ["us_wb_123"]})
    assert "batchId 'us_wb_123' is not a UUID (nor a Flatfile Platform job id" in bad["error"]
    assert relay.drain_jobs() == []


# -- backfill ------------------------------------------------------------------------------------------------


def test_backfill_queues_the_completed_submit_jobs_of_the_window_once_and_touches_none(relay: Relay) -> None:
    relay.put_secret(platform_only_secret(relay.emu))
    invoke(relay, {})  # the first copy: the sample's completed submit is closed, nothing queued
    history_job, failed = sample_job(relay, "job_history"), sample_job(relay, "job_failed")
    unrelated(relay.emu, 2, ready=False, at=history_job["createdAt"])  # completed jobs of other kinds
    payload = {"mode": "backfill", "since": ago(days=30), "dryRun": True}

    listed = invoke(relay, payload)

    assert listed["ok"] is True, listed
    assert [(b["batchId"], b["source"], b["ledgerState"]) for b in listed["batches"]] == [
        (history_job["id"], "platform", CLOSED)]  # not the failed one, nor other kinds of jobs
    assert listed["batches"][0]["workbookId"] == relay.emu.platform.sample_id("customers_orders")
    assert relay.drain_jobs() == []

    answer = invoke(relay, payload | {"dryRun": False})
    assert answer["queued"] == [history_job["id"]]
    assert [(job.batch_id, job.source, job.trigger) for job in relay.drain_jobs()] == [
        (history_job["id"], "platform", "backfill")]
    assert relay.ledger.get(history_job["id"]).state == QUEUED  # type: ignore[union-attr]
    assert sample_job(relay, "job_history") == history_job  # the job itself: untouched
    assert sample_job(relay, "job_failed") == failed
    assert invoke(relay, payload | {"dryRun": False})["queued"] == []  # queued already: not again


def test_backfill_keeps_to_the_window_and_skips_jobs_the_relay_exported(relay: Relay) -> None:
    relay.put_secret(platform_only_secret(relay.emu))
    history_job = sample_job(relay, "job_history")  # created three and a half days ago
    before, after = {"since": ago(days=30), "until": ago(days=5)}, {"since": ago(days=5)}

    assert invoke(relay, {"mode": "backfill", "dryRun": True, **before})["batches"] == []
    assert [b["batchId"] for b in invoke(relay, {"mode": "backfill", "dryRun": True, **after})["batches"]] == [
        history_job["id"]]

    relay.ledger.mark_queued(history_job["id"], created_at=history_job["createdAt"])
    relay.clients.dynamodb.update_item(  # as the exporter leaves a job it exported
        TableName=relay.settings.ledger_table, Key={"batchId": {"S": history_job["id"]}},
        UpdateExpression="SET #s = :e", ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":e": {"S": EXPORTED}})
    assert invoke(relay, {"mode": "backfill", "dryRun": True, **after})["batches"] == []


def test_backfill_of_both_sources_and_of_one(relay: Relay) -> None:
    relay.put_secret(both_secret(relay.emu))
    history_job = sample_job(relay, "job_history")
    since = {"mode": "backfill", "since": "2000-01-01", "dryRun": True}

    both = invoke(relay, since)
    platform = invoke(relay, since | {"source": "platform"})
    legacy = invoke(relay, since | {"source": "legacy"})

    assert {b["source"] for b in both["batches"]} == {"legacy", "platform"}
    assert [b["batchId"] for b in platform["batches"]] == [history_job["id"]]
    assert {b["source"] for b in legacy["batches"]} == {"legacy"}
    assert {b["batchId"] for b in both["batches"]} == {b["batchId"] for b in [*platform["batches"],
                                                                                 *legacy["batches"]]}


@pytest.mark.parametrize("secret", ["legacy only", "platform key refused"])
def test_backfill_names_a_platform_it_cannot_read_and_still_backfills_the_legacy_api(
    relay: Relay, secret: str
) -> None:
    keys = relay.emu.secret if secret == "legacy only" else {**both_secret(relay.emu), "platformSecretKey": WRONG_KEY}
    relay.put_secret(keys)

    alone = invoke(relay, {"mode": "backfill", "since": "2000-01-01", "source": "platform", "dryRun": True})
    assert alone["ok"] is False
    assert "platformSecretKey" in alone["error"]

    if secret == "platform key refused":
        both = invoke(relay, {"mode": "backfill", "since": "2000-01-01", "dryRun": True})
        assert both["ok"] is False
        assert both["error"].startswith("platform: Flatfile Platform rejected the secret key")
        assert {b["source"] for b in both["batches"]} == {"legacy"}  # the legacy API was backfilled all the same
        assert WRONG_KEY not in json.dumps(both)
