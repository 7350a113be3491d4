"""A randomized soak: random batches, random AWS-side faults at random points, random triggers (polls, two
polls at once, webhooks, duplicate and out-of-order deliveries, late submissions), over the invariants of
test_pipeline_faults.py.

Each round plans a few faults (tests/support/faults.py), fires random triggers, then lets the pipeline settle
without faults (the schedule polls, SQS redelivers) and checks every batch so far. The seed is printed first
and named in any failure; replay it with FLATFILE_RELAY_SOAK_SEED=<seed>. It runs about
FLATFILE_RELAY_SOAK_SECONDS (default 120) seconds; `-m "not soak"` leaves it out.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.clock import Clock
from support.concurrency import at_once
from support.faults import Faults, Killed, Pipeline, Rule
from support.relay import Relay, rows_of

from flatfile_relay.aws import AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.ledger import Ledger
from flatfile_relay.poller import poll

SECONDS = float(os.environ.get("FLATFILE_RELAY_SOAK_SECONDS") or 120)
SEED = int(os.environ.get("FLATFILE_RELAY_SOAK_SEED") or random.SystemRandom().randrange(2**32))

pytestmark = [pytest.mark.soak, pytest.mark.timeout(SECONDS + 600)]


def _notice(params: dict[str, Any]) -> bool:
    return "flatfile.batch.exported" in params.get("MessageBody", "")


def _manifest(params: dict[str, Any]) -> bool:
    return "manifests/" in params["Key"]


def _part(params: dict[str, Any]) -> bool:
    return "rows/" in params["Key"]


def plan(faults: Faults, rng: random.Random) -> None:
    """One random fault from the catalogue, at a random point (the first few matching calls pass)."""
    after = rng.randrange(6)
    throttle = rng.choice(["ProvisionedThroughputExceededException", "ThrottlingException"])
    catalogue: list[Callable[[], Rule]] = [
        lambda: faults.fail("S3.PutObject", "InternalError", after=after, when=_part),
        lambda: faults.fail("S3.PutObject", "InternalError", when=_manifest),
        lambda: faults.flaky("S3.PutObject", "SlowDown", after=after),
        lambda: faults.fail("SQS.SendMessage", "InternalError", when=_notice),
        lambda: faults.lose_answer("SQS.SendMessage", when=_notice),
        lambda: faults.fail("SQS.SendMessageBatch", "ServiceUnavailable", after=rng.randrange(2)),
        lambda: faults.refuse_entries("SQS.SendMessageBatch", lambda *_: rng.random() < 0.5, times=rng.randrange(1, 5)),
        lambda: faults.fail("EventBridge.PutEvents", "InternalException", after=rng.randrange(2)),
        lambda: faults.refuse_entries("EventBridge.PutEvents", lambda *_: True, code="InternalFailure"),
        lambda: faults.flaky("DynamoDB.UpdateItem", throttle, after=after, times=rng.randrange(1, 4)),
        lambda: faults.flaky("DynamoDB.GetItem", throttle, after=after),
        lambda: faults.fail("DynamoDB.UpdateItem", throttle, after=after),
        lambda: faults.fail("DynamoDB.BatchGetItem", throttle),
        lambda: faults.lose_answer("DynamoDB.UpdateItem", after=after),
        lambda: faults.kill(rng.choice(["S3.PutObject", "SQS.SendMessage", "SQS.SendMessageBatch",
                                        "EventBridge.PutEvents", "DynamoDB.UpdateItem"]),
                            after=after, after_call=rng.random() < 0.5),
    ]
    rng.choice(catalogue)()


def may_repeat(faults: Faults) -> set[str]:
    """Batches whose notice or event may have been made twice: a fault struck between making it and recording
    it in the ledger (the contract's at-least-once), or its answer was lost. The notice is recorded with the
    event (or the export's end), so a process killed at the event's publication may send the notice again."""
    repeated: set[str] = set()
    for rule, params in faults.hits:
        if rule.kind == "flaky":
            continue
        if rule.operation == "SQS.SendMessage" and _notice(params) and (rule.kind == "lost" or rule.after_call):
            repeated.add(json.loads(params["MessageBody"])["batchId"])
        elif rule.operation == "EventBridge.PutEvents" and (rule.after_call or rule.kind == "kill"):
            repeated.add(json.loads(params["Entries"][0]["Detail"])["batchId"])
        elif rule.operation == "DynamoDB.UpdateItem" and any(
            mark in params["UpdateExpression"] for mark in ("noticeSentAt", "eventPublishedAt")
        ):
            repeated.add(params["Key"]["batchId"]["S"])
    return repeated


def two_pollers(pipeline: Pipeline) -> None:
    """Two polls at once by the library (threads), on clients under the same faults and the same ledger."""
    relay, faults = pipeline.relay, pipeline.faults

    def one() -> None:
        sqs, dynamodb = faults.attach(AwsClients().sqs), faults.attach(AwsClients().dynamodb)
        # a failed poll is a fault's effect: the invariants judge it
        with contextlib.closing(relay.new_client()) as client, contextlib.suppress(Exception, Killed):
            poll(client, Ledger(relay.settings.ledger_table, dynamodb), sqs, relay.settings, Deadline.never())

    at_once(one, timeout=120)
    faults.revive()
    pipeline.check_in_flight()


@pytest.fixture
def pipeline(relay_factory: Callable[..., Relay]) -> Pipeline:
    relay = relay_factory(env={"PART_MAX_ROWS": "30", "FLATFILE_PAGE_SIZE": "20", "BATCH_PAGE_SIZE": "5"},
                          emulator={"samples": False})
    return Pipeline(relay, Faults(), Clock(1_900_000_000.0))


def test_random_faults_at_random_points_keep_the_invariants(
    pipeline: Pipeline, record_property: Callable[[str, object], None]
) -> None:
    # shown in the run's summary, passed or failed, also from an xdist worker (tests/conftest.py)
    record_property("soak", f"seed {SEED} ({SECONDS:.0f} s); replay with FLATFILE_RELAY_SOAK_SEED={SEED}")
    print(f"soak seed {SEED} ({SECONDS:.0f} s); replay with FLATFILE_RELAY_SOAK_SEED={SEED}")
    rng = random.Random(SEED)
    relay, faults = pipeline.relay, pipeline.faults
    state = relay.emu.state
    in_progress: list[str] = []
    end = time.monotonic() + SECONDS
    rounds = 0
    try:
        while rounds == 0 or time.monotonic() < end:
            rounds += 1
            for _ in range(rng.randrange(1, 4)):
                status = "submitted" if rng.random() < 0.7 else None
                batch_id = relay.add_batch(rows_of(rng.choice([0, 1, 29, 30, 31, rng.randrange(150)])), status)
                if status is None:
                    in_progress.append(batch_id)
            for _ in range(rng.randrange(1, 3)):
                plan(faults, rng)
            for _ in range(rng.randrange(4, 12)):
                step = rng.random()
                if step < 0.2:
                    pipeline.poll()
                elif step < 0.35:
                    pipeline.webhook(rng.choice([b["id"] for b in state.account_batches()]))
                elif step < 0.45 and in_progress:  # an import submitted late
                    state.set_status(in_progress.pop(rng.randrange(len(in_progress))), "submitted")
                elif step < 0.5:
                    two_pollers(pipeline)
                elif step < 0.6 and pipeline.inbox:  # SQS delivers a job twice
                    relay.sqs.send_message(QueueUrl=relay.queue_url, MessageBody=rng.choice(pipeline.inbox)["Body"])
                else:
                    pipeline.deliver(lambda n: rng.randrange(n))
            for batch_id in in_progress:
                state.set_status(batch_id, "submitted")
            in_progress.clear()
            pipeline.settle()
            pipeline.check(sorted(relay.submitted_ids()), repeated_notices=may_repeat(faults))
    except AssertionError as error:
        raise AssertionError(f"soak seed {SEED}, round {rounds}: {error}") from error
    print(f"soak seed {SEED}: {rounds} rounds, {len(relay.submitted_ids())} batches, "
          f"{len(faults.log)} faults: {sorted(set(faults.log))}")
