"""The legacy API (Portal v2 / Concierge) as a source of imports: its batches, over a `FlatfileClient`.

A batch is exported once `submitted`; `cancelled` and `failed` are final; in progress (`null`) or any other
status may still become `submitted`. Ids are UUIDs, used in canonical form (the ledger key the webhook and
the exporter use too); a batch 404 on a re-check is gone.

Example:
    >>> source = LegacySource(client)                                               # doctest: +SKIP
    >>> source.classify({"id": batch_id, "status": "cancelled"})                    # doctest: +SKIP
    <Disposition.CLOSED: 'closed'>
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flatfile_relay.checkpoint import LEGACY_SOURCE
from flatfile_relay.flatfile.errors import NotFoundError
from flatfile_relay.flatfile.pagination import batch_created_at
from flatfile_relay.ids import canonical_uuid, require_batch_id
from flatfile_relay.sources import Disposition

if TYPE_CHECKING:
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.flatfile.client import FlatfileClient
    from flatfile_relay.jobs import ExportJob
    from flatfile_relay.walk import ListSlice

SUBMITTED = "submitted"
#: statuses after which a batch will not be submitted (a full walk would still notice if one were)
FINAL_STATUSES = frozenset({"cancelled", "failed"})

Batch = dict[str, Any]


class LegacySource:
    """The batches of the client's license, `page_size` to a page (default: the client's `batch_page_size`).

    Example:
        >>> LegacySource(client, page_size=100).name                                 # doctest: +SKIP
        'legacy'
    """

    name = LEGACY_SOURCE

    def __init__(self, client: FlatfileClient, page_size: int | None = None) -> None:
        self.client = client
        self.page_size = client.batch_page_size if page_size is None else page_size

    def read_page(self, offset: int, deadline: Deadline) -> ListSlice[Batch]:
        """`GET /rest/batches` at `offset` (`FlatfileClient.list_batches`)."""
        return self.client.list_batches(offset, self.page_size, deadline)

    def read_item(self, item_id: str, deadline: Deadline) -> Batch | None:
        """`GET /rest/batch/{id}`; None when Flatfile no longer has the batch (404)."""
        try:
            return self.client.get_batch(item_id, deadline)
        except NotFoundError:
            return None

    def list_key(self, item: Batch) -> str:
        return str(item["id"])  # the client checked that every listed batch has a string id

    def item_id(self, item: Batch) -> str:
        """The batch id as a canonical UUID; ValueError (naming the value) when it is none."""
        return require_batch_id(item.get("id", ""))

    def owns(self, item_id: str) -> bool:
        """Batch ids are UUIDs."""
        try:
            canonical_uuid(item_id)
        except ValueError:
            return False
        return True

    def created_at(self, item: Batch) -> datetime | None:
        return batch_created_at(item)

    def status(self, item: Batch) -> str | None:
        status = item.get("status")
        return None if status is None else str(status)

    def classify(self, item: Batch) -> Disposition:
        """`submitted`: export; `cancelled` or `failed`: closed; anything else (`null`, unknown): pending.

        Example:
            >>> source = LegacySource(None, page_size=100)
            >>> source.classify({"status": None}), source.classify({"status": "failed"})
            (<Disposition.PENDING: 'pending'>, <Disposition.CLOSED: 'closed'>)
        """
        status = item.get("status")
        if status == SUBMITTED:
            return Disposition.EXPORT
        if status in FINAL_STATUSES:
            return Disposition.CLOSED
        return Disposition.PENDING

    def export_job(self, item_id: str, item: Batch, trigger: str) -> ExportJob:
        """The export job of a batch, with what the list said of it (`BatchSnapshot`: the exporter starts with
        the rows)."""
        from flatfile_relay.jobs import BatchSnapshot, ExportJob  # deferred: see DEFERRED_IMPORTS

        return ExportJob.create(item_id, trigger=trigger, batch=BatchSnapshot.of_batch(item))


__all__ = ["FINAL_STATUSES", "SUBMITTED", "Batch", "LegacySource"]
