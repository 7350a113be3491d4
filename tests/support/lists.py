"""An in-memory list of imports for the walk's tests (no HTTP), and a poller reduced to what the walk sees.

`MemoryList` serves its entries page by page like a source's list endpoint: from the offset asked for (the
legacy API's `skip`/`take`) or the page that contains it (`by_page`, the Platform's `pageNumber`), with an
optional cap on the page size, and calls `before_read` before each answer so a test can change the list
between and during the reads. `MiniPoller` walks it as `flatfile_relay.poller` does: a ledger of the ids
decided, "known" meaning known to the ledger when the poll first met the item, and the checkpoint carried
from poll to poll with `Checkpoint.after_walk`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.walk import ListPage, ListSlice, ListView, Outcome, Walk

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    """One listed import: its id and its `createdAt` (None: missing)."""

    id: str
    created: datetime | None


def newest_first(count: int, *, start: int = 0, prefix: str = "e") -> list[Entry]:
    """`count` entries a minute apart, newest first (ids `e<n>`, the highest number on top)."""
    return [Entry(f"{prefix}{n}", T0 + timedelta(minutes=n)) for n in reversed(range(start, start + count))]


@dataclass
class MemoryList:
    """A list served `page_size` entries a page (at most `cap`), changed by tests between and during reads."""

    entries: list[Entry]
    page_size: int
    cap: int | None = None
    by_page: bool = False
    before_read: Callable[[MemoryList, int], None] | None = None
    reads: list[int] = field(default_factory=list)

    def read(self, offset: int) -> ListSlice[Entry]:
        self.reads.append(offset)
        if self.before_read is not None:
            self.before_read(self, offset)
        size = min(self.page_size, self.cap or self.page_size)
        start = offset // self.page_size * self.page_size if self.by_page else offset
        return ListSlice(self.entries[start:start + size], start, len(self.entries))

    def view(self) -> ListView[Entry]:
        return ListView(read=self.read, key=lambda entry: entry.id, created_at=lambda entry: entry.created)

    def ids(self) -> set[str]:
        return {entry.id for entry in self.entries}


@dataclass
class PollResult:
    outcome: Outcome | None
    walk: Walk[Entry]
    acted: list[str]  # every id on the pages acted on, in order (re-read ones again)


@dataclass
class MiniPoller:
    """The poller's side of the walk: decides each item once per poll (recording it in `ledger`) and says
    whether a page was known, carrying the checkpoint from poll to poll."""

    listing: MemoryList
    ledger: set[str] = field(default_factory=set)
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    now: datetime = T0

    def poll(self, *, full: bool | None = None, pages: int | None = None) -> PollResult:
        """One poll's walk (`full`: default, while no walk has reached the end; `pages`: cut after that many)."""
        self.now += timedelta(minutes=5)
        seen: set[str] = set()
        known: set[str] = set()
        acted: list[str] = []

        def act(page: ListPage[Entry]) -> bool:
            ids = [entry.id for entry in page.items]
            acted.extend(ids)
            fresh = [item_id for item_id in ids if item_id not in seen]
            known.update(item_id for item_id in fresh if item_id in self.ledger)
            seen.update(fresh)
            self.ledger.update(fresh)
            return all(item_id in known for item_id in ids)

        checkpoint = self.checkpoint
        walk = Walk(
            self.listing.view(), act, page_size=self.listing.page_size,
            out_of_time=lambda: pages is not None and walk.pages_read >= pages,
            full=checkpoint.baseline_completed_at is None if full is None else full,
            newest_known=checkpoint.newest_created_at, resume_below=checkpoint.resume_below,
            resume=checkpoint.walk_resume,
        )
        outcome = walk.run()
        self.checkpoint = checkpoint.after_walk(walk, outcome, self.now)
        return PollResult(outcome, walk, acted)
