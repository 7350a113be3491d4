"""The walk against random lists that change between and during page reads (Hypothesis).

The list is an in-memory `MemoryList` (offsets, or pages that contain the offset as the Platform serves them),
walked by `MiniPoller` (the poller's ledger and checkpoint, reduced to ids). Mutations: new imports on top
(a growing top), imports added anywhere above the reading point (lists that are not newest-first), deletions,
reorders between polls, and imports known only from a webhook. What must hold:

- a walk acts on every item present from its start to its end, and on none twice (one stretch, one pager),
  also when the list was reordered since the walk before;
- an early stop never leaves behind an item no walk has seen that was there all along (newest-first lists);
- walks cut after a few pages, each carried on by the next poll, together cover everything;
- a checkpoint survives its stored form, and an item written before versions loads.

Limits the strategies keep to, because the walk does not claim more: reorders happen between walks that
read the whole list (a reorder while a walk reads can move an item above its reading point; one that keeps a
cut walk's last items together moves others across them unnoticed; and a list reordered is no longer
newest-first, so an early stop may not see it: the periodic full walk is the answer). During one walk at
most one deletion
event (after stepping back for one, the pager does not step back again before it passes that point: see
test_walk.py's xfail), and new imports in a newest-first list arrive on top (newer than any before). A poll
cut after `pages` pages must be able to look for the last items a cut walk read (`BOUNDARY` of them, in a
window of three times as many), so the cut polls read at least that much beyond the top (with pages of 100,
as the poller reads them, that is one page), and the imports that land on top while the walks are cut
fit in one poll (a poll cut while it reads new imports on top vouches for none of them, so the next one
reads them again).

Runs are reproducible (derandomized, no example database) and kept to a few seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from support.lists import T0, Entry, MemoryList, MiniPoller

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.walk import BOUNDARY, Outcome, ResumePoint

PROPERTY = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class World:
    """The list and what changes it: draws each change from Hypothesis's `data`."""

    def __init__(self, data: st.DataObject, listing: MemoryList, ordered: bool) -> None:
        self.data = data
        self.listing = listing
        self.poller = MiniPoller(listing)
        self.ordered = ordered
        self.clock = 1000  # minutes after T0: every new import on top is newer than all before it
        self.serial = 0
        self.most_new: int | None = None  # how many new imports may land in all
        self.deletions_left = 1
        self.unhooked: list[str] = []  # new imports whose webhook may still arrive

    def __repr__(self) -> str:
        dated = [e.created.strftime("%M") if e.created else "-" for e in self.listing.entries]
        return (f"World({len(self.listing.entries)} listed, ordered={self.ordered}, "
                f"page_size={self.listing.page_size}, "
                f"cap={self.listing.cap}, by_page={self.listing.by_page}, minutes={dated})")

    def new_entry(self, created: datetime | None) -> Entry:
        self.serial += 1
        self.unhooked.append(f"n{self.serial}")
        return Entry(f"n{self.serial}", created)

    def room(self) -> bool:
        return self.most_new is None or self.serial < self.most_new

    def top(self) -> None:
        for _ in range(self.data.draw(st.integers(1, 3), label="new on top")):
            if not self.room():
                return
            self.clock += 1
            created = T0 + timedelta(minutes=self.clock) if self.ordered else self.data.draw(dates(), label="date")
            self.listing.entries.insert(0, self.new_entry(created))

    def above(self, offset: int) -> None:
        """An import added above the reading point (not on top: only in a list that is not newest-first)."""
        if not self.room():
            return
        at = self.data.draw(st.integers(0, min(offset, len(self.listing.entries))), label="insert at")
        self.listing.entries.insert(at, self.new_entry(self.data.draw(dates(), label="date")))

    def delete(self) -> None:
        entries = self.listing.entries
        if entries:
            for _ in range(self.data.draw(st.integers(1, min(3, len(entries))), label="deletions")):
                del entries[self.data.draw(st.integers(0, len(entries) - 1), label="delete at")]

    def webhook(self) -> None:
        """The webhook of one new import arrives: the ledger knows it, no walk has seen it."""
        if self.unhooked:
            self.poller.ledger.add(self.unhooked.pop(self.data.draw(st.integers(0, len(self.unhooked) - 1))))

    def reorder(self) -> None:
        self.listing.entries = self.data.draw(st.permutations(self.listing.entries), label="reorder")

    def change(self, kinds: list[str], offset: int = 0) -> None:
        kind = self.data.draw(st.sampled_from(["none", "none", "none", *kinds]), label="change")
        if kind != "none":
            note(f"{kind} at offset {offset}: {[e.id for e in self.listing.entries]}")
        if kind == "delete":
            if self.deletions_left == 0:
                return
            self.deletions_left -= 1
        {"none": lambda: None, "top": self.top, "above": lambda: self.above(offset), "delete": self.delete,
         "webhook": self.webhook, "reorder": self.reorder}[kind]()

    def during(self, kinds: list[str]) -> None:
        """Change the list before each read of the polls that follow (`kinds`: what may happen)."""
        self.listing.before_read = lambda listing, offset: self.change(kinds, offset)

    def poll(self, **options: int | bool | None) -> tuple[Outcome | None, set[str]]:
        """One poll; its outcome and the ids present throughout it."""
        self.deletions_left = 1
        before = self.listing.ids()
        result = self.poller.poll(**options)
        note(f"poll {options}: {result.outcome}, read {self.listing.reads[-result.walk.pages_read - 3:]}, "
             f"acted {result.acted}, now {[e.id for e in self.listing.entries]}, {self.poller.checkpoint}")
        return result.outcome, before & self.listing.ids()


def dates() -> st.SearchStrategy[datetime | None]:
    return st.one_of(st.none(), st.integers(0, 2000).map(lambda minutes: T0 + timedelta(minutes=minutes)))


@st.composite
def worlds(draw: st.DrawFn, data: st.DataObject, *, ordered: bool | None = None, most: int = 30) -> World:
    ordered = draw(st.booleans()) if ordered is None else ordered
    count = draw(st.integers(0, most), label="listed")
    if ordered:  # newest first, ties allowed
        minutes = sorted(draw(st.lists(st.integers(0, 900), min_size=count, max_size=count)), reverse=True)
        created: list[datetime | None] = [T0 + timedelta(minutes=m) for m in minutes]
    else:
        created = draw(st.lists(dates(), min_size=count, max_size=count))
    size = draw(st.integers(1, 5), label="page size")
    by_page = draw(st.booleans(), label="pages by number")
    cap = None if by_page else draw(st.one_of(st.none(), st.integers(1, size)), label="server cap")
    listing = MemoryList([Entry(f"e{n}", moment) for n, moment in enumerate(created)], size, cap, by_page)
    return World(data, listing, ordered)


@PROPERTY
@given(st.data())
def test_a_walk_acts_on_every_item_present_from_its_start_to_its_end_and_on_none_twice(data: st.DataObject) -> None:
    world = data.draw(worlds(data))
    world.during(["top", "delete"] if world.ordered else ["top", "above", "delete"])
    before = world.listing.ids()

    result = world.poller.poll(full=True)

    assert result.outcome is Outcome.END
    assert before & world.listing.ids() <= set(result.acted)
    assert len(result.acted) == len(set(result.acted))  # one stretch: the pager never yields an item twice


@PROPERTY
@given(st.data())
def test_a_list_reordered_between_polls_is_covered_by_every_walk_that_reads_it_to_the_end(
    data: st.DataObject,
) -> None:
    world = data.draw(worlds(data))
    for number in range(data.draw(st.integers(1, 4), label="polls")):
        if number and data.draw(st.booleans(), label="reorder"):
            world.reorder()
        world.during(["top", "above", "delete"])

        outcome, present = world.poll(full=True)

        assert outcome is Outcome.END
        assert present <= world.poller.ledger


@PROPERTY
@given(st.data())
def test_an_early_stop_never_leaves_an_unseen_item_behind_in_a_newest_first_list(data: st.DataObject) -> None:
    world = data.draw(worlds(data, ordered=True))
    for number in range(data.draw(st.integers(1, 6), label="polls")):
        for _ in range(data.draw(st.integers(0, 3), label="changes between polls")):
            world.deletions_left = 1
            world.change(["top", "delete", "webhook"])
        world.during(["top", "delete", "webhook"])
        full = None if number == 0 else data.draw(st.sampled_from([None, None, None, True]), label="full")

        outcome, present = world.poll(full=full)

        assert outcome in (Outcome.END, Outcome.STOP)
        assert present <= world.poller.ledger, f"poll {number} ({outcome}) left items unseen"
        event(f"poll ended with {outcome}")


@PROPERTY
@given(st.data())
def test_walks_cut_after_a_few_pages_and_carried_on_cover_everything(data: st.DataObject) -> None:
    world = data.draw(worlds(data, most=120))
    served = min(world.listing.page_size, world.listing.cap or world.listing.page_size)  # items a page
    # enough for the top's first page, the search for the last items (3 * BOUNDARY at most) and a little more
    least = 3 + -(-3 * BOUNDARY // served)
    pages = data.draw(st.integers(least, least + 10), label="pages a poll")
    world.most_new = (pages - 3) * served // 2  # the new imports on top fit in one poll's pages
    throughout = world.listing.ids()
    changing = ["top", "delete"] if world.ordered else ["top", "above", "delete"]
    for _ in range(data.draw(st.integers(1, 4), label="polls with changes")):
        for _ in range(data.draw(st.integers(0, 2), label="changes between polls")):
            world.deletions_left = 1
            world.change(changing)
        world.during(changing)
        world.poll(pages=pages)
        throughout &= world.listing.ids()
    world.listing.before_read = None
    for _ in range(len(world.listing.entries) + 5):  # no more changes: the walk must finish
        outcome, present = world.poll(pages=pages)
        if outcome in (Outcome.END, Outcome.STOP):
            break
    else:
        raise AssertionError("the cut walks made no progress")
    assert throughout <= world.poller.ledger
    if world.ordered:
        assert present <= world.poller.ledger


# -- the checkpoint's stored form ----------------------------------------------------------------------


def moments() -> st.SearchStrategy[datetime | None]:
    return st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
                     .map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)))


checkpoints = st.builds(
    Checkpoint,
    baseline_completed_at=moments(), last_full_walk_at=moments(), last_poll_at=moments(),
    last_poll_complete=st.one_of(st.none(), st.booleans()), newest_created_at=moments(),
    full_walk_pages=st.one_of(st.none(), st.integers(1, 10**6)), resume_below=moments(),
    walk_resume=st.one_of(st.none(), st.builds(ResumePoint, offset=st.integers(0, 10**6),
                                               ids=st.lists(st.text(min_size=1), min_size=1, max_size=10).map(tuple),
                                               total=st.integers(0, 10**6))),
)


@PROPERTY
@given(checkpoints)
def test_a_checkpoint_round_trips_and_its_unversioned_form_still_loads(checkpoint: Checkpoint) -> None:
    item = checkpoint.to_item()
    assert Checkpoint.from_item(item) == checkpoint
    old = {key: value for key, value in item.items() if key != "schemaVersion"}  # as written before versions
    assert Checkpoint.from_item(old) == checkpoint
    # cleared fields as the old relay stored them (NULL): absent all the same
    assert Checkpoint.from_item({**dict.fromkeys(("resumeBelow", "walkResume")), **old}) == checkpoint
