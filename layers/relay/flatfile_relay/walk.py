"""The list walk: paging through a source's list of imports, in whatever order the source keeps it.

Pure: no HTTP, no AWS, no clock. The caller hands in how to read one page at an offset (the only I/O), what
an item's id and `createdAt` are, and a callback that acts on each page. The rest lives here:

- `pages`: the pager. Advances by what came back (a source may answer fewer items than asked, or the page
  that *contains* the offset asked for), de-duplicates by id, steps back when the list's `totalCount`
  shrinks (items deleted while paging move the rest up), and tracks whether the list looked newest-first.
- `Walk`: one poll's walk (`Phase`: the top of the list, the search for a cut walk's last items, reading on;
  `Outcome`: how a stretch ended), with the early-stop rule and the resume point (`ResumePoint`,
  `boundary`) of a walk an earlier poll could not finish. The poller's module docstring is the spec.
- `recheck_plan`: which pending items a poll re-checks one by one, within its budget.

Example:
    >>> listed = [{"id": "c", "at": 3}, {"id": "b", "at": 2}, {"id": "a", "at": 1}]
    >>> view = ListView(read=lambda offset: ListSlice(listed[offset:offset + 2], offset, len(listed)),
    ...                 key=lambda item: item["id"], created_at=lambda item: None)
    >>> [page.ids for page in pages(view)]
    [('c', 'b'), ('a',)]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from itertools import pairwise
from typing import Generic, TypeVar

logger = logging.getLogger("flatfile_relay.walk")

T = TypeVar("T")
E = TypeVar("E")

#: a cut walk remembers this many of the last items it read, to find its place again
BOUNDARY = 10
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ListSlice(Generic[T]):
    """What one request for a page of the list answered.

    Attributes:
        items: the items, in list order.
        offset: where the first of them sits in the list: the offset asked for, or lower when the source
            answers the page that contains it (a source that pages by page number).
        total: the list's `totalCount` as this answer gave it.
    """

    items: Sequence[T]
    offset: int
    total: int


@dataclass(frozen=True)
class ListView(Generic[T]):
    """How a walk reads a list.

    Attributes:
        read: one page at an offset (the only I/O; it may raise, the walk lets it through).
        key: an item's id as listed (de-duplicates pages, finds a cut walk's place again).
        created_at: an item's `createdAt` (None when missing or unreadable: the list then counts as unordered).
    """

    read: Callable[[int], ListSlice[T]]
    key: Callable[[T], str]
    created_at: Callable[[T], datetime | None]


@dataclass(frozen=True)
class ListPage(Generic[T]):
    """One page of a list, as the pager yields it.

    Attributes:
        items: the items on this page not seen on an earlier page of the same pager (de-duplicated by id).
        raw_count: how many items the page held, duplicates included.
        offset: where the page starts in the list.
        total_count: `totalCount` as this page reported it (it can grow while paging).
        newest_first_so_far: True while every `createdAt` seen so far, in list order, is not newer than the
            one before it (False as soon as one is newer, missing or unreadable; items seen again do not count).
        newest_created_at: the newest `createdAt` on this page (None if the page is empty or a `createdAt`
            on it is missing or unreadable).
        ids: the id of every item on the page, in list order, duplicates included (where the page sits in
            the list: a walk resumed later looks for them).
    """

    items: list[T]
    raw_count: int
    offset: int
    total_count: int
    newest_first_so_far: bool
    newest_created_at: datetime | None = None
    ids: tuple[str, ...] = ()


class _Order:
    """Whether the list looked newest-first so far: every `createdAt`, in the order items were first seen, not
    newer than the one before it (an item seen again, because the list shifted or the pager stepped back, is
    where it was: it says nothing new about the order)."""

    def __init__(self) -> None:
        self.newest_first = True
        self.previous: datetime | None = None

    def saw(self, dates: Iterable[datetime | None]) -> None:
        """Take in the dates of the items first seen on a page, in list order."""
        for created in dates:
            if created is None:
                self.newest_first = False
                continue
            if self.previous is not None and created > self.previous:
                self.newest_first = False
            self.previous = created


def pages(view: ListView[T], start: int = 0) -> Iterator[ListPage[T]]:
    """Page through the list from offset `start` (0: the top), in the source's order.

    Pages advance by the number of items actually returned, re-reading `totalCount` on every page (it can
    grow), until a page is empty or the offset reaches `totalCount`. Items already seen on an earlier page
    (offsets shift when items are added) are left out of `items`. When `totalCount` shrinks (items deleted
    while paging moved the rest up), the page is read again from as many places earlier, so no item slips
    past unseen; once per offset reached, so a count that keeps flapping cannot hold the walk in place.

    Example:
        >>> listed = ["b", "a"]
        >>> view = ListView(lambda offset: ListSlice(listed[offset:offset + 1], offset, len(listed)),
        ...                 key=str, created_at=lambda item: None)
        >>> [(page.offset, page.items) for page in pages(view)]
        [(0, ['b']), (1, ['a'])]
    """
    if start < 0:
        raise ValueError(f"start must be 0 or more, got {start}")
    seen: set[str] = set()
    order = _Order()
    previous_total: int | None = None
    rewound_at = 0
    skip = start
    while True:
        answer = view.read(skip)
        end = answer.offset + len(answer.items)
        if answer.offset > skip or (answer.items and end <= skip < answer.total):
            raise ValueError(
                f"the list was asked for offset {skip} of {answer.total} and answered {len(answer.items)} items "
                f"from offset {answer.offset}: a page must hold the offset asked for"
            )
        if previous_total is not None and answer.total < previous_total and skip > rewound_at:
            logger.info("list: shrank by %d while paging; stepping back", previous_total - answer.total)
            rewound_at = skip
            skip = max(0, skip - (previous_total - answer.total))
            previous_total = answer.total
            continue
        previous_total = answer.total
        page = _page(view, answer, seen, order)
        logger.debug("list page at %d: %d items (%d new) of %d",
                     page.offset, page.raw_count, len(page.items), page.total_count)
        yield page
        if not answer.items or end >= answer.total:
            return
        skip = end


def _page(view: ListView[T], answer: ListSlice[T], seen: set[str], order: _Order) -> ListPage[T]:
    ids = tuple(view.key(item) for item in answer.items)
    items = []
    for item, item_id in zip(answer.items, ids, strict=True):
        if item_id not in seen:
            seen.add(item_id)
            items.append(item)
    order.saw(view.created_at(item) for item in items)
    dates = [view.created_at(item) for item in answer.items]
    dated = [moment for moment in dates if moment is not None]
    newest = max(dated) if dated and len(dated) == len(dates) else None  # None: one is missing
    return ListPage(items=items, raw_count=len(answer.items), offset=answer.offset, total_count=answer.total,
                    newest_first_so_far=order.newest_first, newest_created_at=newest, ids=ids)


def created_since(pages: Iterable[ListPage[T]], since: datetime, created_at: Callable[[T], datetime | None]
                  ) -> Iterator[T]:
    """The items created at or after `since` (and those whose `createdAt` is missing or unreadable: nothing is
    dropped silently), stopping after a page once the order seen so far is newest-first and the whole page
    is older than `since`. In any other order every page is read. (With an unordered list, a page of n
    items looks newest-first by chance once in n!, so keep pages large.)

    Example:
        >>> page = ListPage(items=[3, 1], raw_count=2, offset=0, total_count=2, newest_first_so_far=True)
        >>> list(created_since([page], datetime(2024, 1, 2, tzinfo=UTC),
        ...                    lambda day: datetime(2024, 1, day, tzinfo=UTC)))
        [3]
    """
    for page in pages:
        for item in page.items:
            created = created_at(item)
            if created is None or created >= since:
                yield item
        if page.newest_first_so_far and page.newest_created_at is not None and page.newest_created_at < since:
            logger.debug("list: stopped at offset %d, the rest is older", page.offset)
            return


# -- one poll's walk --------------------------------------------------------------------------------------


class Phase(Enum):
    """The stretches of a walk."""

    TOP = "top"  #: the top of the list, as every walk starts
    SEARCH = "search"  #: looking for a cut walk's last items near where it stopped
    ON = "on"  #: reading on: the cut walk carried on, or a walk from the top


class Outcome(Enum):
    """What a stretch of the walk ended with."""

    END = "end"  #: the end of the list
    STOP = "stop"  #: an early stop: nothing unseen can sit lower down
    CUT = "cut"  #: the time ran short
    JUMP = "jump"  #: the top is done: carry on a cut walk from its resume point (phase TOP)
    MISSED = "missed"  #: a cut walk's last items were not found where they should be (phase SEARCH)


@dataclass(frozen=True)
class ResumePoint:
    """Where a walk cut short stopped: the offset it reached, the ids of the last items it read before it (in
    list order), and the list's `totalCount` then.

    Example:
        >>> ResumePoint(offset=2000, ids=("a", "b"), total=100_000).offset
        2000
    """

    offset: int
    ids: tuple[str, ...]
    total: int


def boundary(read: Sequence[str], ids: Sequence[str]) -> int | None:
    """Where a cut walk's last items (`ids`, in list order) sit in `read`: the index of the last one found,
    when those found are next to each other in the same order (deleted ones may be missing); else None.

    Example:
        >>> boundary(["n", "a", "c", "x"], ["a", "b", "c"]), boundary(["c", "a"], ["a", "b", "c"])
        (2, None)
    """
    where = {item_id: index for index, item_id in enumerate(read)}
    found = [where[item_id] for item_id in ids if item_id in where]
    if not found or any(later != earlier + 1 for earlier, later in pairwise(found)):
        return None
    return found[-1]


def last_ids(read: Sequence[str]) -> tuple[str, ...]:
    """The last `BOUNDARY` distinct ids of `read` (ids in list order, as the pages gave them), each where it
    was read last: an item read twice because the list shifted down between two pages sits once, where the
    list has it now, so the run can be found again.

    Example:
        >>> last_ids(["a", "b", "c", "b", "c", "d"])
        ('a', 'b', 'c', 'd')
    """
    latest = {item_id: index for index, item_id in enumerate(read)}
    return tuple(sorted(latest, key=latest.__getitem__))[-BOUNDARY:]


def reaches_down_to(dates: Sequence[datetime | None], moment: datetime) -> bool:
    """True when the page's dates (in list order, newest first) are all there and the last one is at or before
    `moment`: in a newest-first list, everything below the page is older still.

    Example:
        >>> day = lambda n: datetime(2024, 1, n, tzinfo=UTC)
        >>> reaches_down_to([day(9), day(2)], day(2)), reaches_down_to([day(9), day(3)], day(2))
        (True, False)
        >>> reaches_down_to([day(9), None], day(2)), reaches_down_to([], day(2))
        (False, False)
    """
    return bool(dates) and all(d is not None for d in dates) and min(d for d in dates if d is not None) <= moment


def all_older(dates: Iterable[datetime | None], moment: datetime, *, or_equal: bool = False) -> bool:
    """True when there are dates and every one is before `moment` (or at it, with `or_equal`); a missing
    date: False.

    Example:
        >>> day = datetime(2024, 1, 2, tzinfo=UTC)
        >>> all_older([day], day), all_older([day], day, or_equal=True), all_older([], day)
        (False, True, False)
    """
    dates = list(dates)
    return bool(dates) and all(d is not None and (d < moment or (or_equal and d == moment)) for d in dates)


@dataclass
class Walk(Generic[T]):
    """One poll's walk of the list (the poller's module docstring is the spec).

    The top comes first, as in every walk. When an earlier walk was cut short (`resume`), the top is read only
    while it can hold items no walk has seen (newest-first, down to a page of known ones), then the walk jumps
    to where the cut one stopped and carries on from there. It stops early only on a page of items `act`
    says were all known, reaching down to `newest_known` (its last item created at or before it: newer known
    items above it on the same page do not matter), in a list seen newest-first from its top, and not above
    `resume_below`; never when `full`.

    Attributes:
        view: how to read the list.
        act: acts on a page (ledger, decisions, queueing); True when every item on it was known before.
        page_size: the source's page size (how far back to look for a cut walk's last items).
        out_of_time: True when no further page should be read.
        full: walk the whole list (no early stop).
        newest_known: the newest `createdAt` any earlier walk saw.
        resume_below: no early stop above this (a cut walk's lowest point).
        resume: where a cut walk stopped, until it is carried on.

    What the walk established, for the checkpoint: `pages_read`, `total` (the last `totalCount` read),
    `position` (where this walk stands; None while looking for `resume`), `jumped` (it left the top for a
    cut walk's resume point), `newest_seen`, `oldest_seen`, and `newest_in_order`: the newest `createdAt` the
    walk vouches for, on pages of the top read while the list still looked newest-first (an item seen out
    of order landed on top while the walk read: it says nothing of the new items beside it), and none when
    the walk left the top because it looked unordered (the rest of the top was not read).

    Example:
        >>> listed = [{"id": "b"}, {"id": "a"}]
        >>> view = ListView(lambda offset: ListSlice(listed[offset:offset + 1], offset, len(listed)),
        ...                 key=lambda item: item["id"], created_at=lambda item: None)
        >>> acted = []
        >>> walk = Walk(view, lambda page: acted.extend(page.ids) or False, page_size=1,
        ...             out_of_time=lambda: False)
        >>> walk.run(), acted, walk.position
        (<Outcome.END: 'end'>, ['b', 'a'], ResumePoint(offset=2, ids=('b', 'a'), total=2))
    """

    view: ListView[T]
    act: Callable[[ListPage[T]], bool]
    page_size: int
    out_of_time: Callable[[], bool]
    full: bool = True
    newest_known: datetime | None = None
    resume_below: datetime | None = None
    resume: ResumePoint | None = None
    position: ResumePoint | None = field(default=None, init=False)
    jumped: bool = field(default=False, init=False)
    pages_read: int = field(default=0, init=False)
    total: int = field(default=0, init=False)
    newest_seen: datetime | None = field(default=None, init=False)
    newest_in_order: datetime | None = field(default=None, init=False)
    oldest_seen: datetime | None = field(default=None, init=False)
    #: does the list start at or above `newest_known`? (None: not known yet)
    starts_at_top: bool | None = field(default=None, init=False, repr=False)
    top_newest_first: bool = field(default=False, init=False, repr=False)  # the top looked newest-first

    def run(self) -> Outcome:
        """Walk: END of the list, STOP early, or CUT by the time (what `view.read` and `act` raise goes through)."""
        if self.out_of_time():
            return Outcome.CUT
        outcome = self._read(0, Phase.TOP)
        resume, top = self.resume, self.position
        if outcome is Outcome.JUMP and resume is not None and top is not None:  # (a jump comes with both)
            outcome = self._resume(resume, top)
        return outcome

    def _resume(self, resume: ResumePoint, top: ResumePoint) -> Outcome:
        """Carry on from where a cut walk stopped: find its last items again near the offset it reached (moved
        down by as many items as the list grew, if the top showed the list newest-first, or not moved), then
        read on from there. When they cannot be found (deleted, or the order changed), the walk starts afresh
        from where the top stopped (`top`: where it stands): slower, never a gap."""
        self.jumped, self.position = True, None
        back = max(len(resume.ids), self.page_size // 4)
        grown = top.total - resume.total if self.top_newest_first else 0
        starts = dict.fromkeys(max(0, resume.offset + shift - back) for shift in (grown, 0))
        for start in starts:
            outcome = self._read(start, Phase.SEARCH, limit=start + 2 * back + len(resume.ids))
            if outcome is not Outcome.MISSED:
                return outcome
        logger.warning("walk: the items a cut walk stopped at were not found again (deleted, or the list's "
                       "order changed); walking on from offset %d instead", top.offset)
        self.resume, self.position = None, top
        return self._read(top.offset, Phase.ON)

    def _read(self, start: int, phase: Phase, limit: int = 0) -> Outcome:
        """Handle pages from `start` until the walk's next step: END of the list, STOP early, CUT by the time,
        JUMP to a cut walk's resume point (phase TOP), MISSED it (phase SEARCH: not found within `limit`)."""
        read: list[str] = []  # ids on the pages of a search, in list order
        for page in pages(self.view, start):
            self.pages_read += 1
            self.total = page.total_count
            known_before = self.act(page)
            self._saw(page, phase)
            if phase is Phase.SEARCH:
                read.extend(page.ids)
                if boundary(read, self.resume.ids if self.resume else ()) is None:
                    if page.offset + page.raw_count >= limit or not page.raw_count:
                        return Outcome.MISSED
                    if self.out_of_time():
                        return Outcome.CUT
                    continue
                phase, self.resume = Phase.ON, None  # found: from here on this is the cut walk, carried on
                self.position = ResumePoint(page.offset + page.raw_count, last_ids(read), page.total_count)
            else:
                self._advance(page)
            outcome = self._after(page, phase, known_before)
            if outcome is not None:
                return outcome
        return Outcome.MISSED if phase is Phase.SEARCH else Outcome.END

    def _after(self, page: ListPage[T], phase: Phase, known_before: bool) -> Outcome | None:
        """Whether the walk goes on after `page` (None) or where it goes instead."""
        if phase is Phase.TOP and self.starts_at_top is None and page.raw_count:
            first = page.newest_created_at
            self.starts_at_top = first is not None and (self.newest_known is None or first >= self.newest_known)
        if phase is Phase.TOP:
            self.top_newest_first = page.newest_first_so_far
        newest_first = bool(self.starts_at_top and self.top_newest_first and page.newest_first_so_far)
        settled = bool(
            newest_first
            and page.items
            and known_before
            # the page reaches down to items an earlier walk saw: an item known only from a webhook or a
            # job, or one the source calls unrelated, and created after the newest one any walk saw, may sit
            # above an older one no walk has seen yet; below an item at or before it, nothing unseen can
            and self.newest_known is not None
            and reaches_down_to(self._dates(page), self.newest_known)
        )
        if phase is Phase.TOP and self.resume is not None:
            position = self.position
            if position is not None and position.offset >= self.resume.offset - len(self.resume.ids):
                self.resume = None  # the top itself reached the cut walk's last items: just read on
            elif settled or not newest_first:
                if not newest_first:  # the top was not read down to known items: it vouches for nothing
                    self.newest_in_order = None
                return Outcome.JUMP  # nothing unseen can sit lower down the top: carry on the cut walk
        elif (
            settled
            and not self.full
            and (self.resume_below is None or all_older(self._dates(page), self.resume_below))
        ):
            return Outcome.STOP
        if self.out_of_time():
            logger.info("walk: the time is short, stopped after %d pages", self.pages_read)
            return Outcome.CUT
        return None

    def _dates(self, page: ListPage[T]) -> list[datetime | None]:
        return [self.view.created_at(item) for item in page.items]

    def _saw(self, page: ListPage[T], phase: Phase) -> None:
        dates = [d for d in self._dates(page) if d is not None]
        if dates:
            self.newest_seen = max([*dates, *([self.newest_seen] if self.newest_seen else [])])
            self.oldest_seen = min([*dates, *([self.oldest_seen] if self.oldest_seen else [])])
            if phase is Phase.TOP and page.newest_first_so_far:
                self.newest_in_order = max([*dates, *([self.newest_in_order] if self.newest_in_order else [])])

    def _advance(self, page: ListPage[T]) -> None:
        """The walk read on to the end of `page` (the last ids carry over from the page before it)."""
        if not page.raw_count:
            return
        last = self.position
        earlier = last.ids if last is not None and last.offset == page.offset else ()
        self.position = ResumePoint(page.offset + page.raw_count, last_ids((*earlier, *page.ids)), page.total_count)


# -- the pending re-checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecheckPlan(Generic[E]):
    """The pending items a poll re-checks one by one (`chosen`, in order), and how many wait for a later poll."""

    chosen: list[E]
    deferred: int


def recheck_plan(
    waiting: Iterable[E], *, budget: int, young_since: datetime,
    created: Callable[[E], datetime | None], checked: Callable[[E], datetime | None],
) -> RecheckPlan[E]:
    """Spend the budget on the pending items the walk did not show: those created at or after `young_since`
    youngest first, then the others least recently checked first (youngest first among equals; a missing
    date counts as the oldest).

    Example:
        >>> day = lambda n: datetime(2024, 1, n, tzinfo=UTC)
        >>> plan = recheck_plan([(1, 9), (2, 5), (8, None)], budget=2, young_since=day(7),
        ...                     created=lambda e: day(e[0]), checked=lambda e: e[1] and day(e[1]))
        >>> plan.chosen, plan.deferred
        ([(8, None), (2, 5)], 1)
    """
    order = sorted(waiting, key=lambda e: created(e) or _OLDEST, reverse=True)
    young = [e for e in order if (created(e) or _OLDEST) >= young_since]
    older = [e for e in order if (created(e) or _OLDEST) < young_since]
    older.sort(key=lambda e: checked(e) or _OLDEST)  # stable: youngest first on ties
    order = young + older
    chosen = order[:budget]
    return RecheckPlan(chosen, len(order) - len(chosen))


__all__ = [
    "BOUNDARY",
    "ListPage",
    "ListSlice",
    "ListView",
    "Outcome",
    "Phase",
    "RecheckPlan",
    "ResumePoint",
    "Walk",
    "all_older",
    "boundary",
    "created_since",
    "last_ids",
    "pages",
    "reaches_down_to",
    "recheck_plan",
]
