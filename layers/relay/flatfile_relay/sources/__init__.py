"""Sources of imports: what the poller needs to know of a list of imports, whatever API serves it.

A source (`ImportSource`) lists its imports page by page, reads one import again for a re-check, names each
one (its id, its `createdAt`, its status) and says what the poller does with it (`Disposition`): export it
now, keep re-checking it, close it for good, or leave it alone. The walk (`flatfile_relay.walk`), the
checkpoint (one per source `name`), the ledger and the job queue are shared; a source is only this adapter.

- `legacy.LegacySource`: the legacy API (Portal v2 / Concierge), `GET /rest/batches` and `GET /rest/batch/{id}`.
- The Flatfile Platform maps onto it like this (a sketch for its own module, `sources/platform.py`): `name`
  `"platform"` (checkpoint `#poller:platform`); `read_page(offset)` is `GET jobs?environmentId&pageSize&
  pageNumber=offset // pageSize + 1&sortDirection=desc`, answering `ListSlice(data, (pageNumber - 1) *
  pageSize, pagination.totalCount)` from the `{"pagination": {"totalCount"}, "data": [...]}` envelope (the
  page that contains the offset; newest first, so idle polls stop early); `read_item` is `GET jobs/{id}`
  (404: None); `item_id` and `list_key` are the job id `us_jb_…` (`owns` tells those ids from batch UUIDs
  in the shared ledger); `created_at` and `status` are the job's. `classify`: a job whose `type` is not
  `workbook` or whose `operation` is not one of the configured submit operations is `UNRELATED`; `ready`
  is `EXPORT`; `created` and `planning` are `PENDING`; `executing` (acknowledged by a listener),
  `complete`, `failed` and `canceled` are `CLOSED`. `export_job` builds the job the Platform exporter takes.

Example:
    >>> from flatfile_relay.sources.legacy import LegacySource
    >>> source: ImportSource[dict[str, Any]] = LegacySource(client)                     # doctest: +SKIP
    >>> source.classify({"id": batch_id, "status": "submitted"})                        # doctest: +SKIP
    <Disposition.EXPORT: 'export'>
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from flatfile_relay.walk import ListSlice, ListView

if TYPE_CHECKING:
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.jobs import ExportJob

T = TypeVar("T")


class Disposition(Enum):
    """What the poller does with an import it sees (listed, or read again for a re-check)."""

    EXPORT = "export"  #: ready: queue an export job (unless the ledger says one is on its way)
    PENDING = "pending"  #: may still become ready: recorded as pending and re-checked until it settles
    CLOSED = "closed"  #: will never become ready (cancelled, failed, taken by someone else): closed in the ledger
    UNRELATED = "unrelated"  #: not an import the relay exports: nothing recorded, nothing to learn from it


class ImportSource(Protocol[T]):
    """A list of imports the poller walks, and what it needs to decide about each (`T`: one listed item).

    `name` keys the source's checkpoint (and, later, its metrics); `page_size` is how many items a page asks
    for. `read_page` reads the list at an offset (the page that contains it, reporting its real offset);
    `read_item` reads one import again, None when it is gone. `list_key` is an item's id exactly as listed
    (de-duplication, finding a cut walk's place); `item_id` the canonical id the ledger and the jobs use
    (ValueError when the item has no usable id: logged and skipped). `owns` tells whether a ledger id is one
    of this source's.
    """

    @property
    def name(self) -> str: ...

    @property
    def page_size(self) -> int: ...

    def read_page(self, offset: int, deadline: Deadline) -> ListSlice[T]: ...

    def read_item(self, item_id: str, deadline: Deadline) -> T | None: ...

    def list_key(self, item: T) -> str: ...

    def item_id(self, item: T) -> str: ...

    def owns(self, item_id: str) -> bool: ...

    def created_at(self, item: T) -> datetime | None: ...

    def status(self, item: T) -> str | None: ...

    def classify(self, item: T) -> Disposition: ...

    def export_job(self, item_id: str, item: T, trigger: str) -> ExportJob: ...


def list_view(source: ImportSource[T], deadline: Deadline) -> ListView[T]:
    """How the walk reads `source`'s list within `deadline`.

    Example:
        >>> walk = Walk(list_view(source, deadline), act, page_size=source.page_size,
        ...             out_of_time=lambda: False)                                          # doctest: +SKIP
    """
    return ListView(read=lambda offset: source.read_page(offset, deadline), key=source.list_key,
                    created_at=source.created_at)


__all__ = ["Disposition", "ImportSource", "list_view"]
