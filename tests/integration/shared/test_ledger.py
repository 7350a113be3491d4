"""The ledger against DynamoDB (moto, template.yaml's table): states, leases, the pending index, checkpoint."""

from __future__ import annotations

import dataclasses
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from support.clock import Clock

from flatfile_relay.checkpoint import CHECKPOINT_ID, LEGACY_SOURCE, VERSION, Checkpoint
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.ledger import (
    CLOSED,
    EXPORTED,
    EXPORTING,
    IGNORED,
    PENDING,
    PENDING_INDEX,
    QUEUED,
    READ_ATTEMPTS,
    AlreadyExportedError,
    BatchBusyError,
    LeaseLostError,
    Ledger,
    LedgerEntry,
    LedgerError,
)
from flatfile_relay.timestamps import parse_timestamp
from flatfile_relay.walk import ResumePoint

CREATED = "2024-05-01T10:00:00.000Z"
PART = {"uri": "s3://bucket/p0", "key": "p0", "rows": 10, "bytes": 123, "sha256": "ab" * 32}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deployment(module_deployment: Any) -> Any:
    """The module's deployment with an empty ledger table."""
    dynamodb, table = module_deployment.clients.dynamodb, module_deployment.refs["LedgerTable"]
    pages = dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="batchId")
    keys = [{"batchId": item["batchId"]} for page in pages for item in page["Items"]]
    for start in range(0, len(keys), 25):
        dynamodb.batch_write_item(
            RequestItems={table: [{"DeleteRequest": {"Key": key}} for key in keys[start:start + 25]]}
        )
    return module_deployment


@pytest.fixture
def ledger(deployment: Any, clock: Clock) -> Ledger:
    return Ledger(deployment.refs["LedgerTable"], deployment.clients.dynamodb, clock=clock)


def new_id() -> str:
    return str(uuid.uuid4())


def state_of(ledger: Ledger, batch_id: str) -> str | None:
    entry = ledger.get(batch_id)
    return entry.state if entry else None


def pending_ids(ledger: Ledger) -> list[str]:
    return [entry.batch_id for entry in ledger.pending()]


def put_in_state(ledger: Ledger, state: str | None, clock: Clock) -> str:
    """A batch brought to `state` through the ledger's own transitions (None: unknown to the ledger)."""
    batch_id = new_id()
    if state == PENDING:
        assert ledger.mark_pending(batch_id, created_at=CREATED, status=None)
    elif state in (CLOSED, IGNORED):
        assert ledger.mark_closed(batch_id, created_at=CREATED, status="cancelled", state=state)
    elif state == QUEUED:
        assert ledger.mark_queued(batch_id, created_at=CREATED)
    elif state == EXPORTING:
        ledger.claim(batch_id, owner="holder", lease_seconds=60, trigger="schedule")
    elif state == EXPORTED:
        ledger.claim(batch_id, owner="holder", lease_seconds=60, trigger="schedule")
        ledger.record_part(batch_id, owner="holder", part=PART, next_skip=10, lease_seconds=60)
        ledger.mark_exported(batch_id, owner="holder", manifest_uri="s3://bucket/m.json", row_count=10,
                             exported_at="2024-05-01T11:00:00.000Z")
    assert state_of(ledger, batch_id) == state
    return batch_id


# -- reads ---------------------------------------------------------------------------------------------


def test_an_unknown_batch_has_no_entry(ledger: Ledger) -> None:
    assert ledger.get(new_id()) is None
    assert ledger.get_many([]) == {}
    assert ledger.get_many([new_id()]) == {}
    assert list(ledger.pending()) == []


def test_get_many_reads_more_than_100_ids(ledger: Ledger) -> None:
    known = [new_id() for _ in range(30)]
    for batch_id in known:
        ledger.mark_pending(batch_id, created_at=CREATED, status=None)
    unknown = [new_id() for _ in range(200)]
    # 230 distinct ids (plus duplicates) in three BatchGetItem calls, known ones in the first and the last
    wanted = known[:15] + unknown + known[15:] + known[:5]
    found = ledger.get_many(wanted)
    assert set(found) == set(known)
    assert all(entry.state == PENDING and entry.batch_id == batch_id for batch_id, entry in found.items())
    assert set(ledger.get_many(iter(unknown[:150] + known[10:12]))) == set(known[10:12])  # any iterable


class Unprocessing:
    """The moto DynamoDB client, except that BatchGetItem reads only the first key of a request and leaves
    the others unprocessed, the first `times` calls (as DynamoDB does when throttled)."""

    def __init__(self, dynamodb: Any, times: int) -> None:
        self._dynamodb = dynamodb
        self.left = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dynamodb, name)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.left <= 0:
            return dict(self._dynamodb.batch_get_item(RequestItems=RequestItems))
        self.left -= 1
        ((table, request),) = RequestItems.items()
        first, rest = request["Keys"][:1], request["Keys"][1:]
        answer = dict(self._dynamodb.batch_get_item(RequestItems={table: {**request, "Keys": first}}))
        answer["UnprocessedKeys"] = {table: {**request, "Keys": rest}} if rest else {}
        return answer


def known_ids(ledger: Ledger, count: int) -> list[str]:
    ids = [new_id() for _ in range(count)]
    for batch_id in ids:
        ledger.mark_pending(batch_id, created_at=CREATED, status=None)
    return ids


def test_unprocessed_reads_are_retried_after_a_backoff_with_jitter(ledger: Ledger, deployment: Any) -> None:
    ids = known_ids(ledger, 5)
    slept: list[float] = []
    dynamodb = Unprocessing(deployment.clients.dynamodb, times=3)
    throttled = Ledger(ledger.table_name, dynamodb, sleep=slept.append, rand=lambda: 0.5)
    assert set(throttled.get_many(ids)) == set(ids)
    assert dynamodb.calls == 4
    assert slept == [0.025, 0.05, 0.1]  # half (the draw) of 0.05, 0.1, 0.2 (the exponential ceilings)


def test_no_backoff_wait_crosses_the_deadline(ledger: Ledger, deployment: Any) -> None:
    ids = known_ids(ledger, 3)
    slept: list[float] = []
    dynamodb = Unprocessing(deployment.clients.dynamodb, times=100)
    throttled = Ledger(ledger.table_name, dynamodb, sleep=slept.append, rand=lambda: 1.0)
    with pytest.raises(DeadlineExceededError, match="unprocessed"):
        throttled.get_many(ids, Deadline.after(0.03))  # the first wait (0.05 s) would already cross it
    assert dynamodb.calls == 1
    assert slept == []


def test_unprocessed_reads_give_up_after_the_last_attempt(ledger: Ledger, deployment: Any) -> None:
    ids = known_ids(ledger, READ_ATTEMPTS + 2)  # one read per call: some are still unprocessed at the end
    slept: list[float] = []
    dynamodb = Unprocessing(deployment.clients.dynamodb, times=100)
    throttled = Ledger(ledger.table_name, dynamodb, sleep=slept.append, rand=lambda: 1.0)
    with pytest.raises(LedgerError, match=f"after {READ_ATTEMPTS} attempts"):
        throttled.get_many(ids, Deadline.after(60))
    assert dynamodb.calls == READ_ATTEMPTS
    assert slept == [min(2.0, 0.05 * 2**n) for n in range(READ_ATTEMPTS - 1)]  # none after the last


# -- poller transitions --------------------------------------------------------------------------------


def test_mark_pending_records_a_batch_in_progress(ledger: Ledger) -> None:
    batch_id = new_id()
    assert ledger.mark_pending(batch_id, created_at=CREATED, status=None)
    entry = ledger.get(batch_id)
    assert entry is not None
    assert (entry.state, entry.batch_created_at, entry.batch_status) == (PENDING, CREATED, None)
    assert not entry.settled
    assert entry.updated_at is not None
    first_seen = entry.extra["firstSeenAt"]
    # seen again: still pending, status refreshed, first sighting kept
    assert ledger.mark_pending(batch_id, created_at=CREATED, status="uploading")
    again = ledger.get(batch_id)
    assert again is not None
    assert (again.state, again.batch_status, again.extra["firstSeenAt"]) == (PENDING, "uploading", first_seen)
    assert pending_ids(ledger) == [batch_id]


def test_every_time_the_ledger_writes_is_read_from_its_clock(ledger: Ledger, clock: Clock) -> None:
    clock.now = 1_614_630_172.0
    batch_id = new_id()
    assert ledger.mark_pending(batch_id, created_at=None, status=None)
    entry = ledger.get(batch_id)
    assert entry is not None
    written = "2021-03-01T20:22:52.000Z"
    assert (entry.updated_at, entry.extra["firstSeenAt"], entry.batch_created_at) == (written, written, written)
    clock.advance(60)
    assert ledger.mark_queued(batch_id, created_at=None, seen=entry)
    queued = ledger.get(batch_id)
    assert queued is not None
    assert (queued.updated_at, queued.extra["queuedAt"]) == ("2021-03-01T20:23:52.000Z",) * 2
    assert queued.batch_created_at == written


@pytest.mark.parametrize("state", [QUEUED, EXPORTING, EXPORTED, CLOSED, IGNORED])
def test_mark_pending_never_moves_a_batch_back(ledger: Ledger, clock: Clock, state: str) -> None:
    batch_id = put_in_state(ledger, state, clock)
    before = ledger.get(batch_id)
    assert not ledger.mark_pending(batch_id, created_at=CREATED, status=None)
    after = ledger.get(batch_id)
    assert after is not None
    assert before is not None
    assert after.state == state
    assert after.extra == before.extra  # untouched
    assert pending_ids(ledger) == []


@pytest.mark.parametrize("state", [None, PENDING])
@pytest.mark.parametrize("target", [CLOSED, IGNORED])
def test_mark_closed_settles_new_and_pending_batches(ledger: Ledger, clock: Clock, state: str | None,
                                                     target: str) -> None:
    batch_id = put_in_state(ledger, state, clock)
    assert ledger.mark_closed(batch_id, created_at=CREATED, status="cancelled", state=target)
    entry = ledger.get(batch_id)
    assert entry is not None
    assert (entry.state, entry.batch_status, entry.settled) == (target, "cancelled", True)
    assert "pendingKey" not in entry.extra
    assert pending_ids(ledger) == []


@pytest.mark.parametrize("state", [QUEUED, EXPORTING, EXPORTED, CLOSED, IGNORED])
def test_mark_closed_refuses_settled_batches(ledger: Ledger, clock: Clock, state: str) -> None:
    batch_id = put_in_state(ledger, state, clock)
    assert not ledger.mark_closed(batch_id, created_at=CREATED, status="cancelled")
    assert state_of(ledger, batch_id) == state


def test_mark_closed_takes_only_closed_or_ignored(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="'exported'"):
        ledger.mark_closed(new_id(), created_at=CREATED, status=None, state=EXPORTED)


@pytest.mark.parametrize("state", [None, PENDING, CLOSED, IGNORED])
def test_mark_queued_from_open_or_closed_states(ledger: Ledger, clock: Clock, state: str | None) -> None:
    batch_id = put_in_state(ledger, state, clock)
    assert ledger.mark_queued(batch_id, created_at="2030-01-01T00:00:00.000Z", trigger="webhook")
    entry = ledger.get(batch_id)
    assert entry is not None
    assert (entry.state, entry.trigger, entry.batch_status, entry.settled) == (QUEUED, "webhook", "submitted", True)
    assert "queuedAt" in entry.extra
    # an earlier creation time is kept; a new batch takes the one given
    assert entry.batch_created_at == ("2030-01-01T00:00:00.000Z" if state is None else CREATED)
    assert pending_ids(ledger) == []


@pytest.mark.parametrize("state", [QUEUED, EXPORTING, EXPORTED])
def test_mark_queued_refuses_batches_already_queued_or_further(ledger: Ledger, clock: Clock, state: str) -> None:
    batch_id = put_in_state(ledger, state, clock)
    before = ledger.get(batch_id)
    assert not ledger.mark_queued(batch_id, created_at=CREATED, trigger="webhook")
    assert ledger.get(batch_id) == before


def test_mark_queued_without_a_creation_time_still_records_one(ledger: Ledger) -> None:
    batch_id = new_id()
    assert ledger.mark_queued(batch_id, created_at=None)
    entry = ledger.get(batch_id)
    assert entry is not None
    assert entry.batch_created_at
    assert entry.trigger == "schedule"


# -- the pending index ---------------------------------------------------------------------------------


def test_pending_lists_only_pending_batches_oldest_first(ledger: Ledger, clock: Clock) -> None:
    old, middle, new = new_id(), new_id(), new_id()
    ledger.mark_pending(new, created_at="2024-05-03T00:00:00.000Z", status=None)
    ledger.mark_pending(old, created_at="2024-05-01T00:00:00.000Z", status=None)
    ledger.mark_pending(middle, created_at="2024-05-02T00:00:00.000Z", status=None)
    for state in (QUEUED, EXPORTING, EXPORTED, CLOSED, IGNORED):
        put_in_state(ledger, state, clock)
    ledger.save_checkpoint(Checkpoint(baseline_completed_at=parse_timestamp("2024-05-01T00:00:00.000Z")))
    entries = list(ledger.pending())
    assert [entry.batch_id for entry in entries] == [old, middle, new]
    assert all(entry.state == PENDING for entry in entries)


def test_pending_lists_every_age_and_mark_checked_records_the_turn_of_pending_batches_only(
    ledger: Ledger, clock: Clock
) -> None:
    ancient, late = new_id(), new_id()
    ledger.mark_pending(ancient, created_at="2015-01-01T00:00:00.000Z", status=None)
    ledger.mark_pending(late, created_at="2024-06-01T00:00:00.000Z", status=None)
    before = ledger.get(late)
    assert before is not None
    assert before.checked_at is None

    clock.advance(1)  # a write that set updatedAt would now change it
    assert ledger.mark_checked(late, at="2024-06-02T00:00:00.000Z")

    assert pending_ids(ledger) == [ancient, late]
    after = ledger.get(late)
    assert after is not None
    assert after.checked_at == "2024-06-02T00:00:00.000Z"
    assert after.updated_at == before.updated_at  # mark_queued's check of what the poller read still holds
    queued = put_in_state(ledger, QUEUED, clock)
    assert not ledger.mark_checked(queued, at="2024-06-02T00:00:00.000Z")
    assert not ledger.mark_checked(new_id(), at="2024-06-02T00:00:00.000Z")  # creates nothing
    assert state_of(ledger, queued) == QUEUED


@pytest.mark.parametrize("leave", ["queued", "closed", "ignored", "claimed"])
def test_batches_leave_the_index_when_they_leave_pending(ledger: Ledger, leave: str) -> None:
    stays, goes = new_id(), new_id()
    ledger.mark_pending(stays, created_at=CREATED, status=None)
    ledger.mark_pending(goes, created_at=CREATED, status=None)
    assert set(pending_ids(ledger)) == {stays, goes}
    if leave == "queued":
        assert ledger.mark_queued(goes, created_at=CREATED)
    elif leave == "claimed":
        ledger.claim(goes, owner="a", lease_seconds=60, trigger="webhook")
    else:
        assert ledger.mark_closed(goes, created_at=CREATED, status="cancelled", state=leave)
    assert pending_ids(ledger) == [stays]


def test_the_pending_index_is_the_templates_sparse_index(deployment: Any, ledger: Ledger) -> None:
    batch_id = new_id()
    ledger.mark_pending(batch_id, created_at=CREATED, status=None)
    answer = deployment.clients.dynamodb.query(
        TableName=deployment.refs["LedgerTable"], IndexName=PENDING_INDEX,
        KeyConditionExpression="pendingKey = :p", ExpressionAttributeValues={":p": {"S": "pending"}},
    )
    assert [item["batchId"]["S"] for item in answer["Items"]] == [batch_id]


# -- claim and the lease -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [None, PENDING, QUEUED])
def test_claim_takes_the_lease(ledger: Ledger, clock: Clock, state: str | None) -> None:
    batch_id = put_in_state(ledger, state, clock)
    entry = ledger.claim(batch_id, owner="worker-1", lease_seconds=120, trigger="webhook")
    assert entry.state == EXPORTING
    assert entry.lease_owner == "worker-1"
    assert entry.lease_expires_at == pytest.approx(clock.now + 120)
    assert (entry.parts, entry.next_skip, entry.trigger) == ((), 0, "webhook")
    assert entry.settled
    assert "exportStartedAt" in entry.extra
    assert pending_ids(ledger) == []


def test_claim_while_another_lease_is_live_is_busy(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="first", lease_seconds=60, trigger="schedule")
    clock.advance(59)
    with pytest.raises(BatchBusyError, match=batch_id):
        ledger.claim(batch_id, owner="second", lease_seconds=60, trigger="webhook")
    with pytest.raises(BatchBusyError):  # a replay does not break a live lease either
        ledger.claim(batch_id, owner="second", lease_seconds=60, trigger="replay", replay=True)
    entry = ledger.get(batch_id)
    assert entry is not None
    assert entry.lease_owner == "first"
    assert entry.trigger == "schedule"


def test_the_owner_may_claim_again(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="first", lease_seconds=60, trigger="schedule")
    ledger.record_part(batch_id, owner="first", part=PART, next_skip=10, lease_seconds=60)
    clock.advance(10)
    entry = ledger.claim(batch_id, owner="first", lease_seconds=60, trigger="schedule")
    assert entry.lease_expires_at == pytest.approx(clock.now + 60)
    assert len(entry.parts) == 1


def test_takeover_after_the_lease_expired_keeps_finished_parts(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="crashed", lease_seconds=60, trigger="schedule")
    ledger.record_part(batch_id, owner="crashed", part=PART, next_skip=10, lease_seconds=60)
    second = {**PART, "uri": "s3://bucket/p1", "key": "p1", "rows": 5}
    ledger.record_part(batch_id, owner="crashed", part=second, next_skip=15, lease_seconds=60)
    clock.advance(61)
    entry = ledger.claim(batch_id, owner="rescuer", lease_seconds=60, trigger="schedule")
    assert entry.lease_owner == "rescuer"
    assert [part["key"] for part in entry.parts] == ["p0", "p1"]
    assert entry.parts[0] == PART
    assert entry.next_skip == 15
    # the crashed run, back from the dead, can no longer write
    with pytest.raises(LeaseLostError, match=batch_id):
        ledger.record_part(batch_id, owner="crashed", part=PART, next_skip=25, lease_seconds=60)
    with pytest.raises(LeaseLostError):
        ledger.mark_exported(batch_id, owner="crashed", manifest_uri="s3://x", row_count=15, exported_at="t")
    with pytest.raises(LeaseLostError):
        ledger.release(batch_id, owner="crashed")
    with pytest.raises(LeaseLostError):
        ledger.return_to_pending(batch_id, owner="crashed", status=None)
    after = ledger.get(batch_id)
    assert after is not None
    assert (after.state, after.lease_owner, after.next_skip, len(after.parts)) == (EXPORTING, "rescuer", 15, 2)


def test_a_lease_expires_only_after_its_time(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="first", lease_seconds=60, trigger="schedule")
    clock.advance(60)  # exactly at the expiry time: still held
    with pytest.raises(BatchBusyError):
        ledger.claim(batch_id, owner="second", lease_seconds=60, trigger="schedule")
    clock.advance(0.5)
    assert ledger.claim(batch_id, owner="second", lease_seconds=60, trigger="schedule").lease_owner == "second"


def test_record_part_appends_in_order_and_extends_the_lease(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="worker", lease_seconds=30, trigger="schedule")
    for index in range(3):
        clock.advance(25)
        part = {**PART, "key": f"p{index}", "rows": 10}
        ledger.record_part(batch_id, owner="worker", part=part, next_skip=10 * (index + 1), lease_seconds=30)
    entry = ledger.get(batch_id)
    assert entry is not None
    assert [part["key"] for part in entry.parts] == ["p0", "p1", "p2"]
    assert entry.next_skip == 30
    assert entry.lease_expires_at == pytest.approx(clock.now + 30)
    clock.advance(29)  # 104 s after the claim, far beyond its first 30 s: the lease was renewed
    with pytest.raises(BatchBusyError):
        ledger.claim(batch_id, owner="other", lease_seconds=30, trigger="schedule")


@pytest.mark.parametrize("state", [None, PENDING, QUEUED, EXPORTED])
def test_writes_without_the_lease_are_refused(ledger: Ledger, clock: Clock, state: str | None) -> None:
    batch_id = put_in_state(ledger, state, clock)
    with pytest.raises(LeaseLostError):
        ledger.record_part(batch_id, owner="holder", part=PART, next_skip=10, lease_seconds=60)
    with pytest.raises(LeaseLostError):
        ledger.mark_exported(batch_id, owner="holder", manifest_uri="s3://x", row_count=1, exported_at="t")
    assert state_of(ledger, batch_id) == state


def test_writes_by_another_owner_are_refused_while_the_lease_is_live(ledger: Ledger) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="holder", lease_seconds=60, trigger="schedule")
    with pytest.raises(LeaseLostError):
        ledger.record_part(batch_id, owner="intruder", part=PART, next_skip=10, lease_seconds=60)
    with pytest.raises(LeaseLostError):
        ledger.mark_exported(batch_id, owner="intruder", manifest_uri="s3://x", row_count=1, exported_at="t")
    entry = ledger.get(batch_id)
    assert entry is not None
    assert entry.parts == ()
    assert entry.state == EXPORTING


def test_the_platform_exports_own_marks_are_the_lease_owners_only(ledger: Ledger, clock: Clock) -> None:
    job_id = "us_jb_ledger01"
    ledger.claim(job_id, owner="holder", lease_seconds=60, trigger="schedule")
    ledger.record_part(job_id, owner="holder", part=PART, next_skip=10, lease_seconds=60)
    ledger.record_job_acknowledged(job_id, owner="holder")
    first = ledger.get(job_id)
    assert first is not None
    assert first.job_acknowledged_at is not None
    clock.advance(5)
    ledger.record_job_acknowledged(job_id, owner="holder")  # the first mark stays
    ledger.record_locks(job_id, owner="holder", sheet_ids=["us_sh_1", "us_sh_2"])
    entry = ledger.get(job_id)
    assert entry is not None
    assert (entry.job_acknowledged_at, entry.locked_sheets) == (first.job_acknowledged_at, ("us_sh_1", "us_sh_2"))
    for write in (lambda owner: ledger.reset_parts(job_id, owner=owner),
                  lambda owner: ledger.record_locks(job_id, owner=owner, sheet_ids=[]),
                  lambda owner: ledger.record_job_acknowledged(job_id, owner=owner),
                  lambda owner: ledger.settle(job_id, owner=owner, status="canceled")):
        with pytest.raises(LeaseLostError):
            write("intruder")
    ledger.reset_parts(job_id, owner="holder")
    reset = ledger.get(job_id)
    assert reset is not None
    assert (reset.parts, reset.next_skip, reset.state) == ((), 0, EXPORTING)
    ledger.settle(job_id, owner="holder", status="canceled")
    settled = ledger.get(job_id)
    assert settled is not None
    assert (settled.state, settled.batch_status, settled.lease_owner, settled.settled) == (
        CLOSED, "canceled", None, True)
    assert ledger.claim(job_id, owner="next", lease_seconds=60, trigger="schedule").state == EXPORTING


def test_release_lets_another_owner_claim_at_once(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="first", lease_seconds=900, trigger="schedule")
    ledger.record_part(batch_id, owner="first", part=PART, next_skip=10, lease_seconds=900)
    ledger.release(batch_id, owner="first")
    released = ledger.get(batch_id)
    assert released is not None
    assert released.state == EXPORTING
    entry = ledger.claim(batch_id, owner="second", lease_seconds=900, trigger="schedule")  # no clock change
    assert entry.lease_owner == "second"
    assert entry.parts == (PART,)
    assert entry.next_skip == 10


def test_mark_exported_finishes_and_a_second_claim_is_refused(ledger: Ledger, clock: Clock) -> None:
    batch_id = new_id()
    ledger.claim(batch_id, owner="worker", lease_seconds=60, trigger="webhook")
    ledger.record_part(batch_id, owner="worker", part=PART, next_skip=10, lease_seconds=60)
    ledger.mark_exported(batch_id, owner="worker", manifest_uri="s3://bucket/manifest.json", row_count=10,
                         exported_at="2024-05-01T11:00:00.000Z")
    entry = ledger.get(batch_id)
    assert entry is not None
    assert (entry.state, entry.manifest_uri, entry.row_count, entry.exported_at) == (
        EXPORTED, "s3://bucket/manifest.json", 10, "2024-05-01T11:00:00.000Z"
    )
    assert entry.lease_owner is None
    assert entry.lease_expires_at == 0.0
    assert entry.parts == (PART,)
    clock.advance(10_000)
    for owner in ("worker", "someone-else"):
        with pytest.raises(AlreadyExportedError, match=re.escape("2024-05-01T11:00:00.000Z")):
            ledger.claim(batch_id, owner=owner, lease_seconds=60, trigger="webhook")
    assert ledger.get(batch_id) == entry


def test_replay_restarts_an_exported_batch_from_scratch(ledger: Ledger, clock: Clock) -> None:
    batch_id = put_in_state(ledger, EXPORTED, clock)
    exported = ledger.get(batch_id)
    assert exported is not None
    assert exported.parts
    assert exported.next_skip == 10
    entry = ledger.claim(batch_id, owner="replayer", lease_seconds=60, trigger="replay", replay=True)
    assert (entry.state, entry.lease_owner, entry.trigger) == (EXPORTING, "replayer", "replay")
    assert (entry.parts, entry.next_skip) == ((), 0)
    assert (entry.manifest_uri, entry.row_count, entry.exported_at) == (None, None, None)
    # its continuation (not a fresh replay) resumes, keeping what the replay wrote
    ledger.record_part(batch_id, owner="replayer", part=PART, next_skip=10, lease_seconds=60)
    ledger.release(batch_id, owner="replayer")
    resumed = ledger.claim(batch_id, owner="next", lease_seconds=60, trigger="replay")
    assert resumed.parts == (PART,)


@pytest.mark.parametrize("state", [None, PENDING, QUEUED])
def test_replay_of_a_batch_never_exported_is_an_ordinary_claim(ledger: Ledger, clock: Clock,
                                                                state: str | None) -> None:
    batch_id = put_in_state(ledger, state, clock)
    entry = ledger.claim(batch_id, owner="replayer", lease_seconds=60, trigger="replay", replay=True)
    assert entry.state == EXPORTING
    assert entry.lease_owner == "replayer"


def test_return_to_pending_hands_the_batch_back_to_the_poller(ledger: Ledger, clock: Clock) -> None:
    batch_id = put_in_state(ledger, QUEUED, clock)
    ledger.claim(batch_id, owner="worker", lease_seconds=60, trigger="schedule")
    ledger.return_to_pending(batch_id, owner="worker", status="uploading")
    entry = ledger.get(batch_id)
    assert entry is not None
    assert (entry.state, entry.batch_status, entry.lease_owner, entry.batch_created_at) == (
        PENDING, "uploading", None, CREATED
    )
    assert pending_ids(ledger) == [batch_id]
    assert ledger.claim(batch_id, owner="other", lease_seconds=60, trigger="schedule").lease_owner == "other"


def test_a_batch_claimed_unseen_and_returned_to_pending_is_in_the_index(ledger: Ledger) -> None:
    # A job that reaches the exporter before the ledger has seen the batch (e.g. a replay job sent by hand).
    batch_id = new_id()
    ledger.claim(batch_id, owner="worker", lease_seconds=60, trigger="replay")
    ledger.return_to_pending(batch_id, owner="worker", status=None)
    assert pending_ids(ledger) == [batch_id]
    entry = ledger.get(batch_id)
    assert entry is not None
    assert entry.batch_created_at
    # a known creation time can be given
    other = new_id()
    ledger.claim(other, owner="worker", lease_seconds=60, trigger="replay")
    ledger.return_to_pending(other, owner="worker", status=None, created_at="2020-01-01T00:00:00.000Z")
    assert pending_ids(ledger)[0] == other


# -- checkpoint and number types -----------------------------------------------------------------------


def test_checkpoint_round_trip(ledger: Ledger) -> None:
    assert ledger.checkpoint() == Checkpoint()
    resume = ResumePoint(offset=200, ids=("b", "a"), total=900)
    saved = Checkpoint(baseline_completed_at=parse_timestamp("2024-05-01T00:00:00.000Z"),
                       last_poll_complete=False, full_walk_pages=3, walk_resume=resume)
    ledger.save_checkpoint(saved)
    assert ledger.checkpoint() == saved
    later = dataclasses.replace(saved, last_full_walk_at=parse_timestamp("2024-05-02T00:00:00Z"), walk_resume=None)
    ledger.save_checkpoint(later)
    assert ledger.checkpoint() == later  # the whole checkpoint: a field set to None is gone
    assert ledger.get(CHECKPOINT_ID) is not None  # stored under the reserved id, never listed as pending
    assert list(ledger.pending()) == []


def test_each_source_has_a_checkpoint_of_its_own(ledger: Ledger) -> None:
    legacy = Checkpoint(last_poll_complete=True)
    platform = Checkpoint(last_poll_complete=False, full_walk_pages=1)
    ledger.save_checkpoint(legacy)
    ledger.save_checkpoint(platform, "platform")
    assert ledger.checkpoint() == ledger.checkpoint(LEGACY_SOURCE) == legacy
    assert ledger.checkpoint("platform") == platform
    assert ledger.get("#poller:platform") is not None
    assert list(ledger.pending()) == []


def test_a_checkpoint_written_before_versions_still_loads(ledger: Ledger, deployment: Any) -> None:
    """The item as earlier relays wrote it: field by field (numbers as DynamoDB numbers, cleared fields NULL),
    no schemaVersion."""
    old = {"baselineCompletedAt": {"S": "2024-05-01T00:00:00.000Z"},
           "lastFullWalkAt": {"S": "2024-05-02T00:00:00.000Z"},
           "lastPollAt": {"S": "2024-05-02T00:05:00.000Z"}, "lastPollComplete": {"BOOL": True},
           "newestCreatedAt": {"S": "2024-05-01T23:00:00.000Z"}, "fullWalkPages": {"N": "7"},
           "resumeBelow": {"NULL": True},
           "walkResume": {"M": {"offset": {"N": "500"}, "ids": {"L": [{"S": "x"}, {"S": "y"}]},
                                "totalCount": {"N": "1200"}}}}
    deployment.clients.dynamodb.update_item(
        TableName=ledger.table_name, Key={"batchId": {"S": CHECKPOINT_ID}},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(old))),
        ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(old)},
        ExpressionAttributeValues={f":v{i}": value for i, value in enumerate(old.values())},
    )
    loaded = ledger.checkpoint()
    assert loaded == Checkpoint(
        baseline_completed_at=parse_timestamp("2024-05-01T00:00:00.000Z"),
        last_full_walk_at=parse_timestamp("2024-05-02T00:00:00.000Z"),
        last_poll_at=parse_timestamp("2024-05-02T00:05:00.000Z"), last_poll_complete=True,
        newest_created_at=parse_timestamp("2024-05-01T23:00:00.000Z"), full_walk_pages=7,
        walk_resume=ResumePoint(offset=500, ids=("x", "y"), total=1200),
    )
    ledger.save_checkpoint(loaded)  # written back in the current version, the same checkpoint
    item = deployment.clients.dynamodb.get_item(TableName=ledger.table_name, Key={"batchId": {"S": CHECKPOINT_ID}})
    assert item["Item"]["schemaVersion"] == {"N": str(VERSION)}
    assert "resumeBelow" not in item["Item"]
    assert ledger.checkpoint() == loaded


def test_a_checkpoint_from_a_newer_relay_is_refused_by_name(ledger: Ledger, deployment: Any) -> None:
    deployment.clients.dynamodb.put_item(TableName=ledger.table_name, Item={
        "batchId": {"S": CHECKPOINT_ID}, "schemaVersion": {"N": str(VERSION + 1)}})
    with pytest.raises(ValueError, match="schemaVersion"):
        ledger.checkpoint()


def test_parts_round_trip_floats_decimals_and_ints(ledger: Ledger, clock: Clock) -> None:
    clock.now = 1_700_000_000.375
    batch_id = new_id()
    ledger.claim(batch_id, owner="worker", lease_seconds=30.25, trigger="schedule")
    part = {**PART, "ratio": 0.125, "exact": Decimal("2.5"), "sizes": [1, 2.75], "meta": {"ms": 0.5}}
    ledger.record_part(batch_id, owner="worker", part=part, next_skip=10, lease_seconds=30.25)
    entry = ledger.get(batch_id)
    assert entry is not None
    assert entry.parts == ({**PART, "ratio": 0.125, "exact": 2.5, "sizes": [1, 2.75], "meta": {"ms": 0.5}},)
    assert isinstance(entry.parts[0]["rows"], int)
    assert isinstance(entry.parts[0]["bytes"], int)
    assert entry.lease_expires_at == 1_700_000_030.625
    assert isinstance(entry.next_skip, int)


def test_entries_read_alike_one_by_one_and_in_bulk(ledger: Ledger, clock: Clock) -> None:
    ids = [put_in_state(ledger, state, clock) for state in (PENDING, QUEUED, EXPORTING, EXPORTED, CLOSED)]
    bulk = ledger.get_many(ids)
    for batch_id in ids:
        single = ledger.get(batch_id)
        assert isinstance(single, LedgerEntry)
        assert bulk[batch_id] == single
