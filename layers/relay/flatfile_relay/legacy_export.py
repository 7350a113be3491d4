"""The legacy API's side of an export (`flatfile_relay.export_source.ExportSource`): one submitted batch.

`open` reads the batch (`GET /rest/batch/{id}`) and, at the same time, the first row page (with the job's
`BatchSnapshot`, whose `countRows` says how many rows to expect: the first round of row pages, up to
FLATFILE_ROW_PREFETCH of them), so an export pays no request before its rows. The batch read decides, whatever
the job's snapshot says: unknown (404) or not `submitted`, the export goes back to the poller and the rows read
meanwhile are dropped unwritten (never published). The snapshot is only a hint: the batch read is also what the
manifest's `batch` holds (the API's object, with its end user), so it is made for every export; a one-page batch
costs two requests, made together.

`pages` streams the rows (from the pages `open` began) from the first one not yet in a finished part, in
strictly increasing `sequence` (the client checks it, on from the last row of the last finished part); every row
must belong to the batch, and the rows must not end before the count the API announced. The manifest's `batch`
is the batch as the API returned it (the relay's secrets scrubbed), with its `filename`, `submittedAt` and end
user as routing fields.

The batch's own counts (`counts`) are `countRows`, `countRowsAccepted` (or `countRowsValid`) and
`countRowsInvalid`, as the batch read at `open` gives them: accepted and invalid count rows not deleted.

Example:
    >>> source = LegacySource(client, batch_id, settings, job.batch)                 # doctest: +SKIP
    >>> opened = source.open(entry, deadline)                                         # doctest: +SKIP
    >>> opened.date                                                                   # doctest: +SKIP
    '2021-03-01'
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flatfile_relay.checks import is_count
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

if TYPE_CHECKING:
    from flatfile_relay.jobs import BatchSnapshot

__all__ = ["BATCH_COUNTS", "LegacySource"]

#: the batch's count fields behind each of the manifest's counts, the first one present counting
BATCH_COUNTS = {"rows": ("countRows",), "valid": ("countRowsAccepted", "countRowsValid"),
                "invalid": ("countRowsInvalid",), "deleted": ()}


class LegacySource:
    """The rows of one legacy batch (Portal v2 / Concierge), for `flatfile_relay.exporter`; `snapshot` is what
    the job says of the batch (None: nothing)."""

    #: nothing to tell the legacy API when the export is done (see `ExportSource`)
    record_before_finish = False

    def __init__(
        self, client: FlatfileClient, batch_id: str, settings: Settings, snapshot: BatchSnapshot | None = None
    ) -> None:
        self.client = client
        self.batch_id = batch_id
        self.settings = settings
        self.snapshot = snapshot
        self.batch: dict[str, Any] = {}
        self._begun: _Begun | None = None

    def open(self, entry: LedgerEntry, deadline: Deadline) -> Opened | Handback:
        """Read the batch and begin the rows together; the batch's own status decides (see the module docs)."""
        # a retry after the notice announces the export already written: it reads no row
        rows = self._rows(entry.parts, entry.next_skip, deadline) if entry.notice is None else iter(())
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flatfile-batch") as pool:
            read = pool.submit(self.client.get_batch, self.batch_id, deadline)
            try:
                begun = _Begun.start(rows, entry.next_skip)
            except BaseException:
                read.cancel()
                raise
            try:
                batch = read.result()
            except NotFoundError:
                begun.close()
                return Handback(NOT_FOUND, None, "Flatfile answered 404 for the batch")
            except BaseException:
                begun.close()
                raise
        status = batch.get("status")
        if status != SUBMITTED:
            begun.close()
            return Handback(NOT_READY, status if isinstance(status, str) else None, f"status {status!r}")
        self.batch, self._begun = batch, begun
        return Opened(_output_id(batch, self.batch_id), submitted_date(batch), batch.get("submittedAt"))

    def pages(self, parts: Sequence[Mapping[str, Any]], next_skip: int, deadline: Deadline) -> Iterator[RowPage]:
        begun, self._begun = self._begun, None
        if begun is not None and begun.next_skip == next_skip:
            return begun.pages()
        if begun is not None:
            begun.close()
        return self._rows(parts, next_skip, deadline)

    def _rows(self, parts: Sequence[Mapping[str, Any]], next_skip: int, deadline: Deadline) -> Iterator[RowPage]:
        """The rows after the finished `parts`, a checked page at a time (requests begin at the first `next`)."""
        last = parts[-1].get("lastSequence") if parts else None
        pages = self.client.iter_row_pages(
            self.batch_id, deadline, skip=next_skip, page_size=self.settings.page_size,
            after_sequence=last if isinstance(last, int) else None,
            expected_total=self.snapshot.count_rows if self.snapshot is not None else None,
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
            found = next((f for f in fields if is_count(self.batch.get(f))), None)
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
        """Let go of the row pages `open` began and nobody read (their requests ahead are dropped)."""
        begun, self._begun = self._begun, None
        if begun is not None:
            begun.close()


class _Begun:
    """The row walk `open` began beside the batch read: its first page (or what reading it raised) and the rest.

    A failure of the first page waits for the batch read: a batch that is unknown or not submitted hands the
    export back whatever its rows did; otherwise `pages` raises it.
    """

    def __init__(self, rows: Iterator[RowPage], next_skip: int, first: RowPage | None,
                 error: Exception | None) -> None:
        self.rows, self.next_skip, self.first, self.error = rows, next_skip, first, error

    @classmethod
    def start(cls, rows: Iterator[RowPage], next_skip: int) -> _Begun:
        """Read the first page of `rows` now (the requests of its round go out together)."""
        try:
            return cls(rows, next_skip, next(rows, None), None)
        except Exception as error:  # noqa: BLE001 - raised again by `pages`, unless the batch read hands it back
            return cls(rows, next_skip, None, error)

    def pages(self) -> Generator[RowPage, None, None]:
        """The first page, then the rest of the walk."""
        try:
            if self.error is not None:
                raise self.error
            if self.first is not None:
                yield self.first
            yield from self.rows
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self.rows, "close", None)
        if close is not None:
            close()


def _sequence_mark(rows: list[dict[str, Any]]) -> Callable[[int], dict[str, Any]]:
    """`RowPage.mark` of a page of rows: the `sequence` of the part's last row (where a resumed export goes on)."""
    return lambda end: {"lastSequence": rows[end - 1]["sequence"]}


def _output_id(batch: dict[str, Any], batch_id: str) -> str:
    """The batch id for keys, manifest and notice: as Flatfile writes it, so `batchId` equals `batch.id`.

    The ledger and the jobs use the canonical (lower-case) UUID; Flatfile's own form differs at most in letter
    case, and it is the same for every read of the batch, so keys still depend only on the batch.
    """
    value = batch.get("id")
    return value if isinstance(value, str) and value.lower() == batch_id else batch_id
