"""A walk cut short is carried on by the next poll from where it stopped, after the top of the list: found again
when batches were added or deleted above that point, walked afresh (never with a gap) when it cannot be."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from support.relay import PAGE, Relay

LISTED = 120
CUT_AFTER = 20  # pages the first poll may read


def _list_order(relay: Relay) -> list[str]:
    return [b["id"] for b in relay.api("/rest/batches", licenseKey=relay.emu.secret["licenseKey"], take=1000)["data"]]


def _first_poll_cut_short(relay: Relay) -> list[str]:
    """The first copy's first poll, cut after CUT_AFTER pages; returns the list order it saw."""
    relay.emu.state.add_batches("submitted", (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
                                              for i in range(LISTED)))
    order = _list_order(relay)
    cut = relay.poll(relay.pages_deadline(CUT_AFTER), reserve=1.0)
    assert not cut.complete
    assert cut.pages == CUT_AFTER
    resume = relay.ledger.checkpoint().walk_resume
    assert resume is not None
    assert resume.offset == CUT_AFTER * PAGE
    assert list(resume.ids) == order[CUT_AFTER * PAGE - 10:CUT_AFTER * PAGE]  # the last batches it read
    return order


def _everything_queued_once(relay: Relay, gone: set[str]) -> None:
    queued = [job.batch_id for job in relay.drain_jobs()]
    assert len(queued) == len(set(queued))
    assert set(queued) - gone == relay.submitted_ids()


def test_batches_added_and_deleted_above_the_stopping_point_neither_hide_batches_nor_restart_the_walk(
    relay: Relay,
) -> None:
    order = _first_poll_cut_short(relay)
    # while the walk waits: 3 batches it had read are deleted, 12 new ones land at the top (the list is newest
    # first), so the batches where it stopped moved down by 9
    gone = {order[30], order[60], order[95]}
    for batch_id in gone:
        relay.emu.state.remove_batch(batch_id)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    added = relay.emu.state.add_batches("submitted", (tomorrow + timedelta(seconds=i) for i in range(12)))
    total = len(_list_order(relay))

    rest = relay.poll()

    assert rest.complete
    assert rest.reached_end
    assert set(added) <= set(rest.jobs_sent)
    # the top (the new batches and one known page), then the list from where the first poll stopped
    left = total - (CUT_AFTER * PAGE + len(added) - len(gone))
    assert rest.pages <= math.ceil(len(added) / PAGE) + 1 + math.ceil((left + 10) / PAGE) + 1
    assert rest.pages < math.ceil(total / PAGE)  # not the whole list again
    checkpoint = relay.ledger.checkpoint()
    assert checkpoint.baseline_completed_at
    assert checkpoint.walk_resume is None
    # the next full walk's cost is the whole list's, not the stretch this poll read (pending batches weigh
    # re-checking one by one against it)
    assert checkpoint.full_walk_pages == math.ceil(total / PAGE)
    _everything_queued_once(relay, gone)
    assert relay.poll().pages == 1  # later polls stop early as before


def test_a_stopping_point_that_cannot_be_found_again_walks_on_from_the_top_without_a_gap(relay: Relay) -> None:
    order = _first_poll_cut_short(relay)
    resume = relay.ledger.checkpoint().walk_resume
    assert resume is not None
    boundary = set(resume.ids)
    for batch_id in boundary:  # every batch the walk could recognise its place by is deleted
        relay.emu.state.remove_batch(batch_id)
    unseen = order[CUT_AFTER * PAGE:]

    rest = relay.poll()

    assert rest.complete
    assert rest.reached_end
    assert set(unseen) <= set(rest.jobs_sent)
    assert relay.ledger.checkpoint().baseline_completed_at
    _everything_queued_once(relay, boundary)


def test_a_cut_walk_in_an_order_that_is_not_newest_first_is_carried_on_too(relay: Relay) -> None:
    relay.emu.set(order="oldest")  # new imports land at the end of the list
    order = _first_poll_cut_short(relay)
    relay.emu.state.add_batches("submitted", [datetime.now(UTC) + timedelta(days=1)])

    rest = relay.poll()

    assert rest.complete
    assert rest.pages <= 2 + math.ceil((len(order) + 1 - CUT_AFTER * PAGE + 10) / PAGE) + 1
    _everything_queued_once(relay, set())


def test_a_poll_cut_while_reading_new_batches_at_the_top_keeps_the_cut_walks_place(relay: Relay) -> None:
    _first_poll_cut_short(relay)
    before = relay.ledger.checkpoint()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    added = relay.emu.state.add_batches("submitted", (tomorrow + timedelta(seconds=i) for i in range(6 * PAGE)))

    short = relay.poll(relay.pages_deadline(3), reserve=1.0)  # only half of the new batches fit

    assert not short.complete
    assert set(short.jobs_sent) == set(added[-3 * PAGE:])
    after = relay.ledger.checkpoint()
    assert after.walk_resume == before.walk_resume  # not given up for a walk that restarts at the top
    assert after.newest_created_at == before.newest_created_at  # so the next top is read below those

    rest = relay.poll()

    assert rest.complete
    assert set(added[:3 * PAGE]) <= set(rest.jobs_sent)
    assert rest.pages < math.ceil(len(_list_order(relay)) / PAGE)
    _everything_queued_once(relay, set())


def test_a_periodic_full_walk_cut_short_is_carried_on_the_same_way(relay: Relay) -> None:
    relay.emu.state.add_batches("submitted", (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
                                              for i in range(LISTED)))
    assert relay.poll().reached_end  # the first copy, in one poll
    walked_at = relay.ledger.checkpoint().last_full_walk_at
    due = datetime.now(UTC) + timedelta(hours=25)
    pages = math.ceil(len(_list_order(relay)) / PAGE)

    cut = relay.poll(relay.pages_deadline(CUT_AFTER), reserve=1.0, now=due)
    rest = relay.poll(now=due + timedelta(minutes=5))

    assert cut.full_walk
    assert not cut.complete
    assert not cut.baseline  # counts toward the incomplete-polls alarm, as before
    assert rest.full_walk
    assert rest.reached_end
    assert rest.pages <= pages - CUT_AFTER + 1 + 2  # plus the top page and two of overlap, not the whole list
    assert relay.ledger.checkpoint().last_full_walk_at > walked_at
    assert relay.ledger.checkpoint().walk_resume is None
