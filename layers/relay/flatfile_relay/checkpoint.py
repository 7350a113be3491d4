"""The poller's checkpoint: what one source's walks have established, kept between polls.

One item per source in the ledger's table: ``#poller`` for the legacy source (the key every deployment has
used), ``#poller:<name>`` for any other. Stored with a `schemaVersion` (`VERSION`); an item without one was
written before versions existed and has the same fields, so it loads as it is. A field that cannot be read
counts as absent (an unreadable `walkResume`: the next walk starts afresh; an unreadable
`baselineCompletedAt`: a new first copy, which then records a readable one).

Example:
    >>> item = {"baselineCompletedAt": "2024-05-01T00:00:00.000Z", "fullWalkPages": 3,
    ...         "walkResume": {"offset": 200, "ids": ["a"], "totalCount": 900}}
    >>> checkpoint = Checkpoint.from_item(item)
    >>> checkpoint.full_walk_pages, checkpoint.walk_resume
    (3, ResumePoint(offset=200, ids=('a',), total=900))
    >>> Checkpoint.from_item(checkpoint.to_item()) == checkpoint
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flatfile_relay.timestamps import format_timestamp, parse_timestamp_or_none
from flatfile_relay.walk import Outcome, ResumePoint, Walk

#: the version `Checkpoint.to_item` writes (0: an item written before versions, same fields)
VERSION = 1
#: the source whose checkpoint keeps the item key every deployment has used
LEGACY_SOURCE = "legacy"
CHECKPOINT_ID = "#poller"
#: while more items are pending than a poll re-checks, a full walk looks at every one at least this often
PENDING_WALK_EVERY = timedelta(hours=1)

_VERSION = "schemaVersion"
#: stored name of each timestamp field
_TIMES = {
    "baseline_completed_at": "baselineCompletedAt",
    "last_full_walk_at": "lastFullWalkAt",
    "last_poll_at": "lastPollAt",
    "newest_created_at": "newestCreatedAt",
    "resume_below": "resumeBelow",
}

#: every field the stored form may hold
STORED_FIELDS = (_VERSION, *_TIMES.values(), "lastPollComplete", "fullWalkPages", "walkResume")


def checkpoint_id(source: str) -> str:
    """The ledger key of a source's checkpoint.

    Example:
        >>> checkpoint_id("legacy"), checkpoint_id("platform")
        ('#poller', '#poller:platform')
    """
    return CHECKPOINT_ID if source == LEGACY_SOURCE else f"{CHECKPOINT_ID}:{source}"


def is_checkpoint_id(key: str) -> bool:
    """True for the ledger key of any source's checkpoint (not a batch).

    Example:
        >>> is_checkpoint_id("#poller:platform"), is_checkpoint_id("0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11")
        (True, False)
    """
    return key == CHECKPOINT_ID or key.startswith(CHECKPOINT_ID + ":")


@dataclass(frozen=True)
class Checkpoint:
    """What the walks of one source have established (all None on a new deployment).

    Attributes:
        baseline_completed_at: when a walk first reached the end of the list (the first copy completed).
        last_full_walk_at: when a walk last reached the end of the list.
        last_poll_at: when the last poll ran.
        last_poll_complete: whether it did everything it set out to do.
        newest_created_at: the newest `createdAt` any walk saw.
        full_walk_pages: the pages the last walk that reached the end would take in one go.
        resume_below: no early stop above this `createdAt`: below it, items no walk has seen may sit.
        walk_resume: where a walk cut short stopped (`walkResume`).
    """

    baseline_completed_at: datetime | None = None
    last_full_walk_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_poll_complete: bool | None = None
    newest_created_at: datetime | None = None
    full_walk_pages: int | None = None
    resume_below: datetime | None = None
    walk_resume: ResumePoint | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Checkpoint:
        """The checkpoint in a stored item (plain values, the key left out); unreadable fields count as absent.

        Raises:
            ValueError: the item was written by a newer relay (a `schemaVersion` this one does not know).

        Example:
            >>> Checkpoint.from_item({"lastPollComplete": "yes", "fullWalkPages": 0}) == Checkpoint()
            True
        """
        version = item.get(_VERSION, 0)
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= VERSION:
            raise ValueError(
                f"the poller's checkpoint has {_VERSION} {str(version)[:20]!r}, which this relay cannot read "
                f"(it reads up to {VERSION}): deploy the relay that wrote it, or delete the checkpoint item "
                "to make the next poll a new first copy"
            )
        times = {name: parse_timestamp_or_none(item.get(stored)) for name, stored in _TIMES.items()}
        complete, pages = item.get("lastPollComplete"), item.get("fullWalkPages")
        return cls(
            **times,
            last_poll_complete=complete if isinstance(complete, bool) else None,
            full_walk_pages=pages if isinstance(pages, int) and not isinstance(pages, bool) and pages > 0 else None,
            walk_resume=_resume_point(item.get("walkResume")),
        )

    def to_item(self) -> dict[str, Any]:
        """The stored form: plain values, `schemaVersion` first, fields that are None left out.

        Example:
            >>> Checkpoint(last_poll_complete=False).to_item()
            {'schemaVersion': 1, 'lastPollComplete': False}
        """
        item: dict[str, Any] = {_VERSION: VERSION}
        for name, stored in _TIMES.items():
            moment = getattr(self, name)
            if moment is not None:
                item[stored] = format_timestamp(moment)
        if self.last_poll_complete is not None:
            item["lastPollComplete"] = self.last_poll_complete
        if self.full_walk_pages is not None:
            item["fullWalkPages"] = self.full_walk_pages
        if self.walk_resume is not None:
            resume = self.walk_resume
            item["walkResume"] = {"offset": resume.offset, "ids": list(resume.ids), "totalCount": resume.total}
        return item

    # -- what the checkpoint says about the next walk ---------------------------------------------------

    def full_walk_due(self, now: datetime, every_hours: float) -> bool:
        """Is a full walk due: no first copy yet, periodic full walks off (`every_hours` 0 walks every poll
        in full), or the last one `every_hours` old?

        Example:
            >>> Checkpoint().full_walk_due(datetime(2024, 1, 1), 24.0)
            True
        """
        if self.baseline_completed_at is None or every_hours <= 0:
            return True
        last = self.last_full_walk_at
        return last is None or now - last >= timedelta(hours=every_hours)

    def walk_for_pending(self, now: datetime, pending: int, budget: int) -> bool:
        """Is a full walk due for the `pending` items' sake, with a re-check `budget` per poll? Yes when the
        last full walk took no more pages than the re-checks it replaces; and, while more are pending than
        the budget, when the last one is an hour old by the next poll (the time since the previous poll
        stands for the schedule's period), so every pending item is looked at within the hour.

        Example:
            >>> Checkpoint(full_walk_pages=3).walk_for_pending(datetime(2024, 1, 1), pending=5, budget=100)
            True
        """
        pages = self.full_walk_pages
        if pages is not None and 0 < pages <= min(pending, budget):
            return True  # no dearer than re-checking them one by one, and it shows every one
        if pending <= budget:
            return False  # every one is re-checked at this poll
        last_walk, last_poll = self.last_full_walk_at, self.last_poll_at
        period = timedelta(0) if last_poll is None else min(max(now - last_poll, timedelta(0)), PENDING_WALK_EVERY)
        return last_walk is None or now - last_walk + period >= PENDING_WALK_EVERY

    # -- what a walk established ------------------------------------------------------------------------

    def after_walk(self, walk: Walk[Any], outcome: Outcome | None, now: datetime) -> Checkpoint:
        """This checkpoint with what `walk` established (`outcome` None: cut short by an error or the deadline).

        A walk that reached the end records `last_full_walk_at` (and `baseline_completed_at` once). A walk cut
        short remembers where it stopped (`walk_resume`) and the oldest item it saw (`resume_below`); one
        that finished clears both. The newest item known becomes the newest the walk saw when it read the
        whole list, else the newest it saw while the list looked newest-first (`Walk.newest_in_order`). Cut
        while reading the top, before carrying on a cut walk, that walk's point stands, and the newest known
        item stays as it was (the next top is read down past the new items the top may still hold).
        """
        finished = outcome in (Outcome.END, Outcome.STOP)
        reached_end = outcome is Outcome.END
        newest_known, newest_seen, newest_in_order = walk.newest_known, walk.newest_seen, walk.newest_in_order
        in_top = walk.resume is not None and not walk.jumped and not finished
        changes: dict[str, Any] = {}
        if reached_end:
            changes["last_full_walk_at"] = now
            if self.baseline_completed_at is None:
                changes["baseline_completed_at"] = now
        if reached_end and not walk.jumped:
            # this poll saw the whole list: the newest item is exactly the newest seen (even if one was deleted)
            changes["newest_created_at"] = newest_seen
        elif newest_in_order is not None and (newest_known is None or newest_in_order > newest_known) and not in_top:
            # vouched for: every item above it, newest first, was read (unlike an item read out of order)
            changes["newest_created_at"] = newest_in_order
        if finished:
            changes.update(resume_below=None, walk_resume=None)
        elif walk.pages_read:
            if walk.position is not None and not in_top:  # else the cut walk's point stands
                changes["walk_resume"] = walk.position
            # Everything above the lowest point any cut walk reached is known now; below it there may be
            # items no walk has seen yet, so no early stop above that point.
            oldest, resume_below = walk.oldest_seen, walk.resume_below
            below = oldest if resume_below is None or oldest is None else min(oldest, resume_below)
            if below is not None:
                changes["resume_below"] = below
        return replace(self, **changes)


def _resume_point(value: Any) -> ResumePoint | None:
    """A stored `walkResume`; None when there is none or it is unreadable (walk afresh)."""
    if not isinstance(value, dict):
        return None
    offset, ids, total = value.get("offset"), value.get("ids"), value.get("totalCount")
    if not isinstance(offset, int) or not isinstance(total, int) or not isinstance(ids, list) or not ids:
        return None
    return ResumePoint(offset, tuple(str(i) for i in ids), total)


__all__ = [
    "CHECKPOINT_ID",
    "LEGACY_SOURCE",
    "PENDING_WALK_EVERY",
    "STORED_FIELDS",
    "VERSION",
    "Checkpoint",
    "checkpoint_id",
    "is_checkpoint_id",
]
