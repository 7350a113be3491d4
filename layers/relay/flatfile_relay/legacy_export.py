"""The legacy API's side of an export (`flatfile_relay.export_source.ExportSource`): one submitted batch.

`open` reads the batch (`GET /rest/batch/{id}`): unknown (404) or not `submitted` yet, it goes back to the poller.
`pages` streams its rows from the first one not yet in a finished part, in strictly increasing `sequence` (the
client checks it, on from the last row of the last finished part); every row must belong to the batch, and the
rows must not end before the count the API announced. The manifest's `batch` is the batch as the API returned it
(the relay's secrets scrubbed), with its `filename`, `submittedAt` and end user as routing fields. The batch's own
counts (`counts`) are `countRows`, `countRowsAccepted` (or `countRowsValid`) and `countRowsInvalid`, as the batch read
at `open` gives them: accepted and invalid count rows not deleted.

Example:
    >>> source = LegacySource(client, batch_id, settings)                            # doctest: +SKIP
    >>> opened = source.open(entry, deadline)                                         # doctest: +SKIP
    >>> opened.date                                                                   # doctest: +SKIP
    '2021-03-01'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from flatfile_relay.deadline import Deadline
from flatfile_relay.export_source import BATCH, NOT_FOUND, NOT_READY, Handback, Opened, RowPage
from flatfile_relay.flatfile import ContractError, FlatfileClient, NotFoundError
from flatfile_relay.ids import same_batch
from flatfile_relay.layout import submitted_date
from flatfile_relay.ledger import SUBMITTED, LedgerEntry
from flatfile_relay.manifest import routing
from flatfile_relay.reconcile import SourceCounts
from flatfile_relay.redaction import scrub
from flatfile_relay.schema_drift import ExportSchema, legacy_schema
from flatfile_relay.settings import Settings
from flatfile_relay.tally import Tally

__all__ = ["BATCH_COUNTS", "LegacySource"]

#: the batch's count fields behind each of the manifest's counts, the first one present counting
BATCH_COUNTS = {"rows": ("countRows",), "valid": ("countRowsAccepted", "countRowsValid"),
                "invalid": ("countRowsInvalid",), "deleted": ()}


class LegacySource:
    """The rows of one legacy batch (Portal v2 / Concierge), for `flatfile_relay.exporter`."""

    def __init__(self, client: FlatfileClient, batch_id: str, settings: Settings) -> None:
        self.client = client
        self.batch_id = batch_id
        self.settings = settings
        self.batch: dict[str, Any] = {}

    def open(self, entry: LedgerEntry, deadline: Deadline) -> Opened | Handback:
        try:
            batch = self.client.get_batch(self.batch_id, deadline)
        except NotFoundError:
            return Handback(NOT_FOUND, None, "Flatfile answered 404 for the batch")
        status = batch.get("status")
        if status != SUBMITTED:
            return Handback(NOT_READY, status if isinstance(status, str) else None, f"status {status!r}")
        self.batch = batch
        return Opened(_output_id(batch, self.batch_id), submitted_date(batch), batch.get("submittedAt"))

    def pages(self, parts: Sequence[Mapping[str, Any]], next_skip: int, deadline: Deadline) -> Iterator[RowPage]:
        last = parts[-1].get("lastSequence") if parts else None
        pages = self.client.iter_row_pages(
            self.batch_id, deadline, skip=next_skip, page_size=self.settings.page_size,
            after_sequence=last if isinstance(last, int) else None,
        )
        try:
            for page in pages:
                self._check_batch(page.rows, page.skip)
                if page.last and page.next_skip < page.total_count:
                    raise ContractError(
                        f"Flatfile's rows of batch {self.batch_id} ended at row {page.next_skip} although it "
                        f"announced {page.total_count}; the export stops rather than write an incomplete batch."
                    )
                yield RowPage(_sequence_mark(page.rows), page.texts, page.rows, last=page.last)
                if page.last:
                    return
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def _check_batch(self, rows: list[dict[str, Any]], skip: int) -> None:
        """Rows must belong to the batch (their order the client checks: `iter_row_pages`)."""
        for offset, row in enumerate(rows):
            row_batch = row.get("batchId")
            if row_batch is not None and not same_batch(row_batch, self.batch_id):
                raise ContractError(
                    f"Flatfile returned row {skip + offset} of batch {self.batch_id} marked as a row of "
                    f"batch {str(row_batch)[:64]}."
                )

    def count(self, rows: Sequence[Mapping[str, Any]], tally: Tally) -> None:
        tally.add_legacy_rows(rows)

    def schemas(self, tallies: Mapping[str, Tally]) -> dict[str, ExportSchema]:
        """The batch's template (`__schema__`) for the keys its rows hold (`flatfile_relay.schema_drift`)."""
        tally = tallies.get(BATCH)
        return {BATCH: legacy_schema(self.batch, tally.fields if tally is not None else ())}

    def counts(self, deadline: Deadline) -> dict[str, SourceCounts]:
        values: dict[str, int | None] = {}
        names: dict[str, str] = {}
        for name, fields in BATCH_COUNTS.items():
            found = next((f for f in fields if _whole(self.batch.get(f))), None)
            values[name] = self.batch[found] if found is not None else None
            if found is not None:
                names[name] = found
        return {BATCH: SourceCounts(values, names)}

    def manifest_fields(self, parts: Sequence[Mapping[str, Any]], deadline: Deadline) -> dict[str, Any]:
        # Flatfile shows the webhook URL; the relay's client holds the secret's Credentials, whose secret
        # values include the webhook tokens
        scrubbed = scrub(self.batch, self.client.credentials.secret_values)
        return {"batch": scrubbed, **routing(scrubbed)}

    def finish(self, row_count: int, deadline: Deadline) -> None:
        """Nothing to tell the legacy API."""

    def give_up(self, error: BaseException) -> None:
        """Nothing to tell the legacy API."""

    def close(self) -> None:
        """Nothing to release."""


def _sequence_mark(rows: list[dict[str, Any]]) -> Callable[[int], dict[str, Any]]:
    """`RowPage.mark` of a page of rows: the `sequence` of the part's last row (where a resumed export goes on)."""
    return lambda end: {"lastSequence": rows[end - 1]["sequence"]}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _output_id(batch: dict[str, Any], batch_id: str) -> str:
    """The batch id for keys, manifest and notice: as Flatfile writes it, so `batchId` equals `batch.id`.

    The ledger and the jobs use the canonical (lower-case) UUID; Flatfile's own form differs at most in letter
    case, and it is the same for every read of the batch, so keys still depend only on the batch.
    """
    value = batch.get("id")
    return value if isinstance(value, str) and value.lower() == batch_id else batch_id
