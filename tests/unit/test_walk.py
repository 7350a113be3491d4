"""The list walk (`flatfile_relay.walk`) on an in-memory list: the pager, one poll's walk, the re-check plan."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from support.lists import T0, Entry, MemoryList, MiniPoller, newest_first

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.walk import ListSlice, ListView, Outcome, ResumePoint, created_since, pages, recheck_plan


def ids(entries: list[Entry]) -> list[str]:
    return [entry.id for entry in entries]


# -- the pager ------------------------------------------------------------------------------------------


def test_pages_advance_by_what_came_back() -> None:
    listing = MemoryList(newest_first(11), page_size=5, cap=3)
    read = list(pages(listing.view()))
    assert [page.offset for page in read] == [0, 3, 6, 9]
    assert [page.raw_count for page in read] == [3, 3, 3, 2]
    assert [entry for page in read for entry in page.items] == listing.entries
    assert all(page.newest_first_so_far and page.total_count == 11 for page in read)
    assert read[1].newest_created_at == listing.entries[3].created


def test_a_source_may_answer_the_page_that_contains_the_offset() -> None:
    listing = MemoryList(newest_first(10), page_size=4, by_page=True)
    read = list(pages(listing.view(), start=5))
    assert listing.reads == [5, 8]
    assert [page.offset for page in read] == [4, 8]
    assert ids([entry for page in read for entry in page.items]) == ids(listing.entries[4:])


def test_an_answer_that_does_not_hold_the_offset_asked_for_is_refused() -> None:
    view = ListView(lambda offset: ListSlice(["a"], offset + 1, 5), key=str, created_at=lambda item: None)
    with pytest.raises(ValueError, match="asked for offset 0"):
        next(pages(view))
    view = ListView(lambda offset: ListSlice(["a"], 0, 5), key=str, created_at=lambda item: None)
    with pytest.raises(ValueError, match="a page must hold the offset"):
        list(pages(view, start=2))
    with pytest.raises(ValueError, match="start"):
        next(pages(view, start=-1))


def test_items_that_shift_down_while_paging_are_left_out_when_seen_again() -> None:
    def two_new_on_top(listing: MemoryList, offset: int) -> None:
        if offset == 3:
            listing.entries[:0] = newest_first(2, start=1000, prefix="new")

    listing = MemoryList(newest_first(6), page_size=3, before_read=two_new_on_top)
    old = ids(listing.entries)
    read = list(pages(listing.view()))
    seen = ids([entry for page in read for entry in page.items])
    assert len(seen) == len(set(seen))
    assert set(old) <= set(seen)
    assert read[1].raw_count == 3
    assert ids(read[1].items) == [old[3]]  # two of the page were on the page before
    assert all(page.newest_first_so_far for page in read)  # still newest-first: those two were seen already


def test_items_read_again_after_stepping_back_leave_a_newest_first_list_newest_first() -> None:
    def delete_the_last_two(listing: MemoryList, offset: int) -> None:
        if offset == 8 and len(listing.entries) == 12:
            del listing.entries[-2:]  # the count shrinks: the pager steps back over e5 and e4 again

    listing = MemoryList(newest_first(12), page_size=4, before_read=delete_the_last_two)
    read = list(pages(listing.view()))
    assert listing.reads == [0, 4, 8, 6]
    assert ids(read[2].items) == ["e3", "e2"]
    assert all(page.newest_first_so_far for page in read)


def test_the_pager_steps_back_when_the_list_shrinks(caplog: pytest.LogCaptureFixture) -> None:
    def delete_the_first(listing: MemoryList, offset: int) -> None:
        if offset == 4 and listing.entries[0].id == "e9":
            del listing.entries[0]

    listing = MemoryList(newest_first(10), page_size=2, before_read=delete_the_first)
    with caplog.at_level(logging.INFO, logger="flatfile_relay.walk"):
        seen = ids([entry for page in pages(listing.view()) for entry in page.items])
    assert listing.reads == [0, 2, 4, 3, 5, 7]
    assert seen == [f"e{n}" for n in range(9, -1, -1)]  # e5 moved up to offset 3: read all the same
    assert "shrank by 1" in caplog.text


def test_a_count_that_keeps_flapping_cannot_hold_the_pager_in_place() -> None:
    entries = newest_first(6)
    answered = [0]

    def read(offset: int) -> ListSlice[Entry]:
        answered[0] += 1
        return ListSlice(entries[offset:offset + 1], offset, len(entries) - answered[0] % 2)  # 5, 6, 5, ...

    seen = [e.id for page in pages(ListView(read, lambda e: e.id, lambda e: e.created)) for e in page.items]
    assert answered[0] <= 2 * len(entries)
    assert len(seen) == len(set(seen)) >= len(entries) - 1


def test_one_item_out_of_order_or_undated_makes_the_rest_of_the_list_unordered() -> None:
    entries = newest_first(8)
    entries[2], entries[3] = entries[3], entries[2]
    assert [page.newest_first_so_far for page in pages(MemoryList(entries, 2).view())] == [True, False, False, False]
    undated = [*newest_first(2), Entry("x", None), *newest_first(2, start=-5)]
    read = list(pages(MemoryList(undated, 2).view()))
    assert [page.newest_first_so_far for page in read] == [True, False, False]
    assert read[1].newest_created_at is None


def test_created_since_stops_after_a_page_wholly_older_only_in_a_newest_first_list() -> None:
    listing = MemoryList(newest_first(10), page_size=2)
    since = T0 + timedelta(minutes=6, seconds=30)
    found = list(created_since(pages(listing.view()), since, lambda entry: entry.created))
    assert ids(found) == ["e9", "e8", "e7"]
    assert listing.reads == [0, 2, 4]  # e5, e4: wholly older, stop
    oldest_first = MemoryList(list(reversed(newest_first(10))), page_size=2)
    found = list(created_since(pages(oldest_first.view()), since, lambda entry: entry.created))
    assert ids(found) == ["e7", "e8", "e9"]
    assert len(oldest_first.reads) == 5


# -- one poll's walk ------------------------------------------------------------------------------------


def test_a_first_walk_reads_the_whole_list_and_says_where_it_ended() -> None:
    poller = MiniPoller(MemoryList(newest_first(25), page_size=4))
    result = poller.poll()
    assert result.outcome is Outcome.END
    assert result.acted == ids(poller.listing.entries)
    assert result.walk.pages_read == 7
    assert result.walk.position == ResumePoint(25, tuple(ids(poller.listing.entries)[-10:]), 25)
    assert poller.checkpoint.baseline_completed_at == poller.checkpoint.last_full_walk_at == poller.now
    assert poller.checkpoint.newest_created_at == poller.listing.entries[0].created


def test_a_later_walk_stops_at_the_first_page_of_known_items() -> None:
    poller = MiniPoller(MemoryList(newest_first(25), page_size=4))
    poller.poll()
    poller.listing.entries[:0] = newest_first(3, start=1000, prefix="new")
    result = poller.poll()
    assert result.outcome is Outcome.STOP
    assert result.walk.pages_read == 2  # 3 new and 1 known, then 4 known
    assert poller.checkpoint.newest_created_at == poller.listing.entries[0].created
    assert poller.poll().walk.pages_read == 1  # idle: one page


def test_no_early_stop_in_a_full_walk_or_a_list_that_is_not_newest_first() -> None:
    poller = MiniPoller(MemoryList(newest_first(12), page_size=4))
    poller.poll()
    assert poller.poll(full=True).outcome is Outcome.END
    poller.listing.entries.reverse()
    result = poller.poll()
    assert result.outcome is Outcome.END
    assert result.walk.pages_read == 3


def test_items_known_only_from_elsewhere_and_newer_than_any_walk_saw_do_not_stop_the_walk() -> None:
    """The poller is the webhook's safety net: newer items the webhook delivered must not hide an older one
    whose webhook never arrived."""
    poller = MiniPoller(MemoryList(newest_first(8), page_size=4))
    poller.poll()
    missed = newest_first(1, start=50, prefix="missed")
    delivered = newest_first(4, start=60, prefix="hooked")
    poller.listing.entries[:0] = delivered + missed
    poller.ledger.update(ids(delivered))
    result = poller.poll()
    assert "missed50" in result.acted
    assert result.outcome is Outcome.STOP
    assert poller.poll().walk.pages_read == 1


def test_a_page_that_reaches_down_to_items_a_walk_saw_stops_the_walk_whatever_is_newer_above_them() -> None:
    """Items the poller needs nothing for (another source's, another operation's job, one a webhook delivered)
    landed on top since the last walk: the first page holds them and, below them, items a walk saw, so
    nothing unseen can sit lower down. (With a whole page of them on top, the next page is read: below a page
    of new items, more new ones may sit.)"""
    poller = MiniPoller(MemoryList(newest_first(12), page_size=4))
    poller.poll()
    newer = newest_first(3, start=1000, prefix="unrelated")
    poller.listing.entries[:0] = newer
    poller.ledger.update(ids(newer))  # known (as an unrelated item counts as known)

    result = poller.poll()

    assert result.outcome is Outcome.STOP
    assert result.walk.pages_read == 1  # 3 new and known, then e11, which the first walk saw
    assert poller.checkpoint.newest_created_at == newer[0].created
    assert poller.poll().walk.pages_read == 1
    whole_page = newest_first(4, start=2000, prefix="more")
    poller.listing.entries[:0] = whole_page
    poller.ledger.update(ids(whole_page))
    assert poller.poll().walk.pages_read == 2


def test_a_cut_walk_is_carried_on_below_where_it_stopped() -> None:
    poller = MiniPoller(MemoryList(newest_first(120), page_size=5))
    first = poller.poll(pages=8)
    assert first.outcome is Outcome.CUT
    assert poller.checkpoint.walk_resume == ResumePoint(40, tuple(ids(poller.listing.entries)[30:40]), 120)
    assert poller.checkpoint.baseline_completed_at is None
    poller.listing.entries[:0] = newest_first(3, start=1000, prefix="new")  # the list grows on top ...
    del poller.listing.entries[10]  # ... and loses one above the point reached
    rest = poller.poll()
    assert rest.outcome is Outcome.END
    assert rest.walk.jumped
    assert set(poller.listing.ids()) <= poller.ledger
    assert rest.walk.pages_read <= 2 + 3 + 16  # the top, then from a little above where the first poll stopped
    assert poller.checkpoint.walk_resume is None
    assert poller.checkpoint.baseline_completed_at == poller.now


def test_a_cut_walk_whose_last_items_are_gone_walks_on_from_the_top(caplog: pytest.LogCaptureFixture) -> None:
    poller = MiniPoller(MemoryList(newest_first(120), page_size=5))
    poller.poll(pages=8)
    resume = poller.checkpoint.walk_resume
    assert resume is not None
    poller.listing.entries = [entry for entry in poller.listing.entries if entry.id not in resume.ids]
    with caplog.at_level(logging.WARNING, logger="flatfile_relay.walk"):
        rest = poller.poll()
    assert "not found again" in caplog.text
    assert rest.outcome is Outcome.END
    assert set(poller.listing.ids()) <= poller.ledger


def test_a_cut_walk_is_found_again_when_new_items_arrived_on_top_while_it_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Items that shift down between two pages are read twice: the place a cut walk remembers holds each once,
    in list order, so the next poll finds it."""
    def two_new_on_top(listing: MemoryList, offset: int) -> None:
        if offset == 35:
            listing.entries[:0] = newest_first(2, start=1000, prefix="new")

    poller = MiniPoller(MemoryList(newest_first(120), page_size=5, before_read=two_new_on_top))
    poller.poll(pages=8)
    resume = poller.checkpoint.walk_resume
    assert resume is not None
    assert len(resume.ids) == len(set(resume.ids)) == 10
    assert list(resume.ids) == ids(poller.listing.entries)[30:40]  # where they are now
    with caplog.at_level(logging.WARNING, logger="flatfile_relay.walk"):
        rest = poller.poll()
    assert "not found again" not in caplog.text
    assert rest.outcome is Outcome.END
    assert rest.walk.pages_read == 2 + 1 + 18  # the top, the page above the place, then on to the end
    assert set(poller.listing.ids()) <= poller.ledger


def test_a_top_read_again_after_stepping_back_is_still_read_down_to_known_items() -> None:
    """The cut walk is carried on only once the top holds nothing new: stepping back over new items must not
    make the list look unordered (which would jump at once, past new items not read yet)."""
    poller = MiniPoller(MemoryList(newest_first(60), page_size=5))
    poller.poll(pages=8)
    new = newest_first(15, start=1000, prefix="new")
    poller.listing.entries[:0] = new

    def delete_the_oldest_two(listing: MemoryList, offset: int) -> None:
        if offset == 10 and listing.entries[-1].id == "e0":
            del listing.entries[-2:]

    poller.listing.before_read = delete_the_oldest_two
    rest = poller.poll()
    assert rest.outcome is Outcome.END
    assert set(ids(new)) <= set(rest.acted)
    poller.listing.before_read = None
    assert poller.poll().walk.pages_read == 1


def test_a_new_item_read_out_of_order_does_not_vouch_for_the_new_items_beside_it() -> None:
    """While the second poll reads the top, one item it read is deleted (the pager steps back) and three new
    ones land on top: the pager steps back onto the middle one, newer than what it read before. Seen out of
    order, it proves nothing about the two beside it, which the walk did not read."""
    poller = MiniPoller(MemoryList(newest_first(30), page_size=1))
    poller.poll(pages=14)
    poller.listing.entries[:0] = newest_first(2, start=1000, prefix="a")
    reads_at: dict[int, int] = {}

    def churn(listing: MemoryList, offset: int) -> None:
        reads_at[offset] = reads_at.get(offset, 0) + 1
        if offset == 2 and reads_at[offset] == 1:
            del listing.entries[0]  # a1001, read already
        if offset == 1 and reads_at[offset] == 2:  # stepping back
            listing.entries[:0] = newest_first(3, start=2000, prefix="b")

    poller.listing.before_read = churn
    second = poller.poll(pages=14)
    assert "b2001" in second.acted
    assert not {"b2002", "b2000"} & set(second.acted)
    poller.listing.before_read = None
    while poller.poll(pages=14).outcome is Outcome.CUT:
        pass
    assert set(poller.listing.ids()) <= poller.ledger


def test_a_top_left_because_it_looked_unordered_vouches_for_nothing() -> None:
    """New items land on top twice while the second poll reads the top: it reads one of the first ones, then
    (the list shifted) one of the newer ones, so the top looks unordered and the walk carries the cut walk on
    at once. It read the top only in part: the newest item it saw must not let the next poll stop above
    the one it skipped."""
    poller = MiniPoller(MemoryList(newest_first(40), page_size=1))
    poller.poll(pages=20)
    reads_at: dict[int, int] = {}

    def churn(listing: MemoryList, offset: int) -> None:
        reads_at[offset] = reads_at.get(offset, 0) + 1
        if reads_at[offset] == 1 and offset in (0, 1):
            listing.entries[:0] = newest_first(2, start=1000 + 10 * offset, prefix=f"n{offset}-")

    poller.listing.before_read = churn
    second = poller.poll()
    assert second.acted[:2] == ["n0-1001", "n1-1010"]
    assert second.walk.jumped
    assert second.outcome is Outcome.END
    poller.listing.before_read = None
    third = poller.poll()
    assert third.outcome is Outcome.STOP
    assert set(poller.listing.ids()) <= poller.ledger  # n0-1000 too


def test_a_walk_cut_while_reading_new_items_on_top_keeps_the_cut_walks_place() -> None:
    poller = MiniPoller(MemoryList(newest_first(120), page_size=5))
    poller.poll(pages=8)
    before = poller.checkpoint
    poller.listing.entries[:0] = newest_first(20, start=1000, prefix="new")
    poller.poll(pages=2)  # half of the new ones
    assert poller.checkpoint.walk_resume == before.walk_resume
    assert poller.checkpoint.newest_created_at == before.newest_created_at
    rest = poller.poll()
    assert rest.outcome is Outcome.END
    assert set(poller.listing.ids()) <= poller.ledger


def test_no_early_stop_above_the_lowest_point_a_cut_walk_reached() -> None:
    poller = MiniPoller(MemoryList(newest_first(20), page_size=4))
    poller.poll()  # the baseline
    poller.listing.entries[:0] = newest_first(12, start=1000, prefix="new")
    poller.poll(pages=1, full=False)  # cut after the first page of new ones
    assert poller.checkpoint.resume_below is not None
    rest = poller.poll()
    assert set(poller.listing.ids()) <= poller.ledger
    assert rest.outcome is Outcome.STOP
    assert poller.checkpoint.resume_below is None


def test_a_walk_out_of_time_before_it_starts_reads_nothing() -> None:
    poller = MiniPoller(MemoryList(newest_first(5), page_size=2))
    assert poller.poll(pages=0).outcome is Outcome.CUT
    assert poller.listing.reads == []
    assert poller.checkpoint == Checkpoint()


@pytest.mark.xfail(strict=True, reason="known limit of the pager: after stepping back, a second shrink before the "
                   "walk passes the point where it stepped back is not stepped back for (a flapping count must "
                   "not hold the walk in place); the next full walk sees the item")
def test_two_deletions_in_a_row_above_the_reading_point_hide_nothing() -> None:
    def delete_above(listing: MemoryList, offset: int) -> None:
        if len(listing.reads) in (3, 4):  # before the 3rd and the 4th read
            del listing.entries[0]

    listing = MemoryList(newest_first(6), page_size=1, before_read=delete_above)
    present = {entry.id for entry in listing.entries[2:]}
    seen = {entry.id for page in pages(listing.view()) for entry in page.items}
    assert present <= seen


# -- the re-check plan ----------------------------------------------------------------------------------


def test_the_recheck_budget_goes_to_young_items_first_then_the_least_recently_checked() -> None:
    day = {n: T0 + timedelta(days=n) for n in range(1, 10)}
    # (name, created, checked)
    waiting = [("old-checked-late", 1, 8), ("young", 8, None), ("old-never-checked", 2, None),
               ("younger", 9, 9), ("old-checked-early", 3, 5), ("undated", None, None)]
    plan = recheck_plan(waiting, budget=4, young_since=day[7],
                        created=lambda e: day.get(e[1]) if e[1] else None,
                        checked=lambda e: day.get(e[2]) if e[2] else None)
    assert [e[0] for e in plan.chosen] == ["younger", "young", "old-never-checked", "undated"]
    assert plan.deferred == 2
    assert recheck_plan([], budget=4, young_since=T0, created=lambda e: None, checked=lambda e: None).deferred == 0
