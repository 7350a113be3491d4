"""The seam between the export run (`flatfile_relay.exporter`) and where the rows come from.

The run is the same for every source: the lease, the parts and their ledger records, resuming after the last
finished part, the manifest written last, stale parts, the notice, the event, the ledger marks, the continuation
job and the outcome. An `ExportSource` says only what is the source's own:

- `open`: read what to export and decide (a legacy batch not submitted yet, a Platform job another listener
  took...): `Opened` (export it: its id as written, its partition date, when it was submitted) or `Handback`
  (nothing to export now, and what the ledger should say);
- `pages`: the rows from where the finished parts end, a page at a time, in order (`RowPage`): each page says
  what a part record ending inside it holds (`RowPage.mark`) and whether a part must end with it;
- `count`: add rows to the counts and `fieldStats` kept while the rows stream (`flatfile_relay.tally`);
- `schemas`: the schema of what was written, per group (`flatfile_relay.schema_drift`);
- `counts`: the source's own counts, per group of rows (`BATCH`, or a Platform sheet's slug), which what was
  written must match before anything is published (`flatfile_relay.reconcile`);
- `manifest_fields`: the manifest's `batch` and the fields the source adds (`source`, `filename`, ...);
- `finish`, `give_up`, `close`: the source's own start/finish/give-up steps (a Platform job is completed once
  the export is durable, failed when the relay gives up on it, its sheets unlocked whatever happens).

A source that finds its rows changed while it read them raises `SourceChangedError`: the run forgets the parts
and starts again from the first row. One that finds, while reading, that it has nothing to export after all (a
Platform job someone else ended meanwhile) raises `HandbackError`: the run acts as if `open` had said so.

Example:
    >>> page = RowPage(texts=['{"id":"a"}', '{"id":"b"}'], mark=lambda end: {"lastSequence": end})
    >>> page.count, page.mark(2), page.closes_part
    (2, {'lastSequence': 2}, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from flatfile_relay.deadline import Deadline
from flatfile_relay.errors import ContractError, TransientError
from flatfile_relay.ledger import LedgerEntry
from flatfile_relay.reconcile import SourceCounts
from flatfile_relay.schema_drift import ExportSchema
from flatfile_relay.tally import BATCH, Tally

__all__ = [
    "BATCH",
    "LEFT_ALONE",
    "NOT_FOUND",
    "NOT_READY",
    "ExportSource",
    "Handback",
    "HandbackError",
    "Opened",
    "RowPage",
    "SourceChangedError",
]

#: `Handback.decision`: the source does not know the export id (the ledger hands it back to the poller)
NOT_FOUND = "not-found"
#: `Handback.decision`: not ready to export yet (a batch not submitted, a job not ready): back to the poller
NOT_READY = "not-ready"
#: `Handback.decision`: never to be exported by this relay (a job another listener took or someone ended)
LEFT_ALONE = "left-alone"


class SourceChangedError(TransientError, RuntimeError):
    """The rows changed while the export read them: the export starts again from the first row (raised again by
    the run when they keep changing: the job is retried later)."""


@dataclass(frozen=True)
class Opened:
    """What `ExportSource.open` found to export.

    Attributes:
        export_id: the id in keys, manifest and notice (as the source writes it).
        date: the partition date of the rows (`YYYY-MM-DD`, UTC).
        submitted_at: when the export was asked for in the source (the lag counts from it), as the API wrote it.
    """

    export_id: str
    date: str
    submitted_at: Any = None


@dataclass(frozen=True)
class Handback:
    """What `ExportSource.open` decided instead of exporting: `decision` (`NOT_FOUND`, `NOT_READY`,
    `LEFT_ALONE`), the source's `status` for the ledger, and a `detail` for the outcome."""

    decision: str
    status: str | None = None
    detail: str = ""


class HandbackError(ContractError):
    """A source hands the export back while reading it (`handback`: what the ledger should say); the run catches
    it (reading on would not help)."""

    def __init__(self, handback: Handback) -> None:
        super().__init__(handback.detail)
        self.handback = handback


@dataclass(frozen=True)
class RowPage:
    """One page of rows, in order.

    Attributes:
        texts: each row's JSON Lines text (without its line break), when the source has it.
        rows: the rows as objects, always (counted for the manifest; written as compact JSON when `texts` is None).
        mark: the fields of the ledger record of a part that ends after the first `end` rows of this page
            (where a resumed export carries on: a legacy row's `sequence`, a Platform sheet and offset).
        closes_part: a part must end with this page (the last page of a Platform sheet: a part never spans two).
        last: no page follows (the run then writes the last part whatever the time left).
        group: whose counts the rows add to (`BATCH`, or the slug of a Platform sheet).
    """

    mark: Callable[[int], dict[str, Any]]
    texts: Sequence[str] | None = None
    rows: Sequence[Mapping[str, Any]] = field(default=())
    closes_part: bool = False
    last: bool = False
    group: str = BATCH

    @property
    def count(self) -> int:
        """How many rows the page holds."""
        return len(self.texts) if self.texts is not None else len(self.rows)


class ExportSource(Protocol):
    """Where an export's rows come from (see the module docs); one object per invocation and export.

    `record_before_finish`: the source's `finish` tells someone outside the relay that the export is done (a
    Platform job is completed), and what `open` decides on a retry depends on the ledger saying the export was
    announced: the run records the notice and the event before `finish`. Otherwise (nothing to tell, a legacy
    batch) they are recorded with the export's end, in one ledger write.
    """

    record_before_finish: bool

    def open(self, entry: LedgerEntry, deadline: Deadline) -> Opened | Handback:
        """Read what to export and decide; `entry` is the ledger's, as claimed."""
        ...

    def pages(self, parts: Sequence[Mapping[str, Any]], next_skip: int, deadline: Deadline) -> Iterator[RowPage]:
        """The rows after the finished `parts` (`next_skip` rows in all), a page at a time, to the last one."""
        ...

    def count(self, rows: Sequence[Mapping[str, Any]], tally: Tally) -> None:
        """Add rows of `RowPage.rows` (validity, deleted, cells) to `tally`."""
        ...

    def schemas(self, tallies: Mapping[str, Tally]) -> dict[str, ExportSchema]:
        """The schema of each group's rows (`tallies`: what was written of each, its fields as first seen)."""
        ...

    def counts(self, deadline: Deadline) -> dict[str, SourceCounts]:
        """The source's own counts per group (`RowPage.group`), read now (after the last row)."""
        ...

    def manifest_fields(self, parts: Sequence[Mapping[str, Any]], deadline: Deadline) -> dict[str, Any]:
        """The manifest's `batch` and the fields the source adds (`Manifest` field names), for these parts."""
        ...

    def finish(self, row_count: int, deadline: Deadline) -> None:
        """The export is durable (manifest, notice, event): the source's own last step, before the ledger's mark."""
        ...

    def give_up(self, error: BaseException) -> None:
        """The invocation fails with `error` (re-raised by the run): the source's own step, if any."""
        ...

    def close(self) -> None:
        """The invocation ends, whatever happened (release what `open` or `pages` took)."""
        ...
