"""Pending batches of any age: re-checked within a per-poll budget, a full walk when cheaper, never dropped."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from support.relay import PAGE, Relay

from flatfile_relay.deadline import Deadline
from flatfile_relay.ledger import CLOSED, PENDING, QUEUED

pytestmark = pytest.mark.usefixtures("relay")

POLL = timedelta(minutes=5)  # the template's default schedule


def abandoned(relay: Relay, count: int, days: float = 90, newer: int = 3 * PAGE) -> list[str]:
    """`count` imports started over the last `days` and never finished, below `newer` submitted batches (so an
    idle poll stops its walk on the first page), seen in progress by a first poll; youngest first. They are the
    only pending batches (the sample in progress is gone)."""
    relay.emu.state.remove_batch(relay.emu.samples["in_progress"])
    now = datetime.now(UTC)
    ids = [relay.emu.state.add_batch(None, created_at=now - timedelta(days=days * (i + 1) / count))["id"]
           for i in range(count)]
    relay.add_batches(newer)
    assert relay.poll().reached_end
    relay.drain_jobs()
    assert all(relay.entry(batch_id).state == PENDING for batch_id in ids)
    return ids


def rechecked_ids(relay: Relay) -> list[str]:
    """The batches whose GET /rest/batch/{id} the emulator served since its log was cleared."""
    return [record.path.rsplit("/", 1)[1] for record in relay.emu.requests_to("/rest/batch/")]


def test_an_import_started_10_days_ago_and_submitted_late_is_queued_at_the_next_poll(relay: Relay) -> None:
    now = datetime.now(UTC)
    late = relay.emu.state.add_batch(None, created_at=now - timedelta(days=10))["id"]
    ancient = relay.emu.state.add_batch(None, created_at=now - timedelta(days=400))["id"]
    gone = relay.emu.samples["in_progress"]
    relay.add_batches(3 * PAGE)
    relay.poll()
    relay.drain_jobs()
    relay.emu.state.set_status(late, "submitted")
    relay.emu.state.remove_batch(gone)
    relay.emu.clear_request_log()

    report = relay.poll(now=now + POLL)

    assert report.early_stop
    assert relay.list_requests() == 1
    assert report.rechecked == 3  # no age limit: 10 and 400 days old are re-checked alike
    assert report.jobs_sent == [late]
    assert [job.batch_id for job in relay.drain_jobs()] == [late]
    assert relay.entry(late).state == QUEUED
    deleted = relay.entry(gone)
    assert (deleted.state, deleted.batch_status) == (CLOSED, "deleted")  # 404: settled, never asked again
    still = relay.entry(ancient)
    assert still.state == PENDING
    assert still.checked_at is not None
    assert [e.batch_id for e in relay.ledger.pending()] == [ancient]


def test_more_pending_than_the_budget_each_is_rechecked_within_the_stated_bound(relay: Relay) -> None:
    """docs/architecture.md, "Late imports": with N pending, a budget B and Y created within LookbackHours, the
    young are re-checked at every poll and the others at least every ceil((N - Y) / (B - Y)) polls."""
    budget, count = 4, 14
    ids = abandoned(relay, count)  # 90 days apart / 14: one within LOOKBACK_HOURS (7 days)
    young = [b for b in ids if relay.entry(b).batch_created_at >= _iso(datetime.now(UTC) - timedelta(hours=168))]
    assert len(young) == 1
    relay.configure(recheck_budget=budget, row_prefetch=3)
    cycle = math.ceil((count - len(young)) / (budget - len(young)))
    start = datetime.now(UTC)
    last_seen = dict.fromkeys(ids, 0)
    gaps: list[int] = []
    for number in range(1, 2 * cycle + 1):
        relay.emu.clear_request_log()
        report = relay.poll(now=start + number * POLL)
        asked = rechecked_ids(relay)
        assert not report.full_walk
        assert report.complete
        assert len(asked) == report.rechecked == budget  # abandoned imports cost the budget, no more
        assert report.deferred == count - budget
        assert relay.list_requests() == 1
        assert young[0] in asked  # the youngest: at every poll
        for batch_id in asked:
            gaps.append(number - last_seen[batch_id])
            last_seen[batch_id] = number
    assert max(gaps) <= cycle
    assert all(number >= cycle for number in last_seen.values())  # every one had its turn lately

    # the batch re-checked longest ago (the worst case) is submitted: queued within the bound
    worst = min(last_seen, key=lambda b: (last_seen[b], b != young[0]))
    relay.emu.state.set_status(worst, "submitted")
    for number in range(2 * cycle + 1, 3 * cycle + 1):
        if relay.poll(now=start + number * POLL).jobs_sent:
            break
    assert relay.entry(worst).state == QUEUED
    assert [job.batch_id for job in relay.drain_jobs()] == [worst]
    assert number - last_seen[worst] <= cycle


def test_more_pending_than_the_budget_a_full_walk_looks_at_every_one_within_the_hour(relay: Relay) -> None:
    ids = abandoned(relay, 12)
    relay.configure(recheck_budget=2, lookback_hours=0)  # a rotation of 6 polls, and no young ones
    checkpoint = relay.ledger.checkpoint()
    walked_at, walk_pages = checkpoint.last_full_walk_at, checkpoint.full_walk_pages
    polls = [relay.poll(now=walked_at + n * POLL) for n in range(1, 12)]

    # without a walk, the last poll before the hour (55 min) would leave the hour behind at the next one
    assert [p.full_walk for p in polls] == [False] * 10 + [True]
    assert polls[-1].reached_end
    assert polls[-1].pages == walk_pages
    assert polls[-1].rechecked == 0  # the walk showed every pending batch: nothing left to re-check
    assert all(relay.entry(b).state == PENDING for b in ids)


def test_a_full_walk_replaces_the_rechecks_when_it_takes_fewer_requests(relay: Relay) -> None:
    count = 12
    ids = abandoned(relay, count, newer=0)
    pages = math.ceil(len(relay.emu.state.account_batches()) / PAGE)
    assert pages <= count  # the whole list costs fewer requests than re-checking each one
    late = ids[-1]  # the oldest, 90 days
    relay.emu.state.set_status(late, "submitted")
    relay.emu.clear_request_log()

    report = relay.poll(now=datetime.now(UTC) + POLL)

    assert report.full_walk
    assert report.reached_end
    assert report.rechecked == 0
    assert rechecked_ids(relay) == []
    assert relay.list_requests() == pages
    assert report.jobs_sent == [late]
    assert report.pending == count - 1


def test_a_deadline_during_the_rechecks_keeps_jobs_and_ledger_in_step(relay: Relay) -> None:
    count = 6
    ids = abandoned(relay, count)  # fewer than the pages of the list: re-checked one by one
    for batch_id in ids:
        relay.emu.state.set_status(batch_id, "submitted")
    relay.configure(row_prefetch=4)
    relay.emu.clear_request_log()

    first = relay.poll(deadline=_CutAfterRechecks(relay, 3), reserve=0.0)

    assert not first.complete
    assert 0 < len(first.jobs_sent) < count
    sent = [job.batch_id for job in relay.drain_jobs()]
    assert sorted(sent) == sorted(first.jobs_sent)  # every job sent is marked queued, and no other
    assert {b for b in ids if relay.entry(b).state == QUEUED} == set(sent)
    assert all(relay.entry(b).state == PENDING for b in ids if b not in sent)  # the rest still tracked

    second = relay.poll()

    assert second.complete
    assert sorted(sent + [job.batch_id for job in relay.drain_jobs()]) == sorted(ids)  # each once
    assert list(relay.ledger.pending()) == []


class _CutAfterRechecks(Deadline):
    """A deadline that passes once the emulator has answered `count` re-checks (`GET /rest/batch/{id}`)."""

    def __init__(self, relay: Relay, count: int) -> None:
        super().__init__(math.inf)
        self.relay, self.count = relay, count

    def remaining(self) -> float:
        return 0.0 if len(rechecked_ids(self.relay)) >= self.count else math.inf


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
