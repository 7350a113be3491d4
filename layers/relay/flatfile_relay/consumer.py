"""The sample downstream consumer: read a notice, verify and stream the export, summarise its rows.

Both sources' exports are read the same way (`flatfile_relay.reader`): a legacy batch's rows, or a Flatfile
Platform submit job's records, sheet by sheet. A Platform summary also counts each sheet (`SheetSummary`: records,
valid, invalid) and checks those counts against the manifest's `sheets`. A real consumer replaces `summarize` with
its own processing. Notices are delivered at least once, so a real consumer deduplicates by `batchId` (or makes
its processing idempotent, as summarising is).

Example:
    >>> summary = summarize([
    ...     {"valid": True, "deleted": False, "mapped": {"sku": "A-1", "qty": ""}},
    ...     {"valid": False, "deleted": False, "mapped": {"sku": "A-2", "qty": "3"}},
    ...     {"valid": True, "deleted": True, "mapped": {"sku": "A-3", "qty": "1"}},
    ... ])
    >>> summary.rows, summary.valid, summary.invalid, summary.deleted
    (3, 1, 1, 1)
    >>> summary.fill_rates
    {'sku': 1.0, 'qty': 0.5}
    >>> records = summarize([{"sheet": "orders", "valid": True, "mapped": {"id": 1}},
    ...                      {"sheet": "orders", "valid": False, "mapped": {"id": None}}])
    >>> [(sheet.slug, sheet.rows, sheet.invalid) for sheet in records.sheets]
    [('orders', 2, 1)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flatfile_relay.ids import PLATFORM
from flatfile_relay.manifest import Manifest, Notice, UnsupportedSchemaError
from flatfile_relay.reader import ReaderError, iter_rows, load_manifest

__all__ = ["RowSummary", "SheetSummary", "handle_notice", "summarize"]


@dataclass(frozen=True)
class SheetSummary:
    """Counts of one sheet's records in a Platform export.

    Attributes:
        slug: the sheet's slug (the rows' `sheet`).
        name: the sheet's name (from the manifest; the slug until `handle_notice` sets it).
        rows, valid, invalid: its records, and how many are valid or not.
    """

    slug: str
    name: str
    rows: int = 0
    valid: int = 0
    invalid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"sheet": self.slug, "name": self.name, "rows": self.rows, "valid": self.valid,
                "invalid": self.invalid}


@dataclass(frozen=True)
class RowSummary:
    """Counts of an export's rows and how often each `mapped` field is filled.

    Attributes:
        rows: every row.
        valid, invalid: rows not deleted, by their `valid` flag.
        deleted: rows the end user deleted (whatever their `valid` flag; legacy rows only have the flag).
        fill_rates: per `mapped` field, the share of the rows not deleted where it holds a value (not
            null, not an empty or blank string, not an empty list or object), rounded to 4 decimals.
        sheets: a Platform export's sheets, in the order their rows came (every sheet of the manifest, those
            without records included, once `handle_notice` set them); empty for a legacy batch.
        field_stats: the manifest's `fieldStats` (per field: `filled`, `invalid`, first `messages`), a Platform
            export's per sheet slug; set by `handle_notice` (empty for a manifest without them).
        batch_id, manifest_uri, source: set by `handle_notice`.
    """

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    deleted: int = 0
    fill_rates: dict[str, float] = field(default_factory=dict)
    sheets: tuple[SheetSummary, ...] = ()
    field_stats: dict[str, Any] = field(default_factory=dict)
    batch_id: str | None = None
    manifest_uri: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "batchId": self.batch_id, "manifestUri": self.manifest_uri, "source": self.source, "rows": self.rows,
            "valid": self.valid, "invalid": self.invalid, "deleted": self.deleted,
            "fillRates": dict(self.fill_rates),
        }
        if self.sheets:
            summary["sheets"] = [sheet.to_dict() for sheet in self.sheets]
        if self.field_stats:
            summary["fieldStats"] = self.field_stats
        return summary

    def invalid_fields(self) -> list[str]:
        """The fields with invalid cells, worded for a log line: ``email: 3 invalid ("Must be a valid ...")``
        (a Platform field prefixed with its sheet's slug)."""
        stats = self.field_stats
        per_sheet = {f"{slug}.{key}": value for slug, fields in stats.items() for key, value in fields.items()} \
            if self.source == PLATFORM else stats
        worded = []
        for key, value in per_sheet.items():
            if value.get("invalid"):
                said = f" ({'; '.join(value['messages'])})" if value.get("messages") else ""
                worded.append(f"{key}: {value['invalid']} invalid{said}")
        return worded


class _Counts:
    """Running counts of rows (of an export, or of one of its sheets)."""

    def __init__(self) -> None:
        self.rows = self.valid = self.invalid = self.deleted = 0

    def add(self, row: Mapping[str, Any]) -> bool:
        """Count `row`; True when it is not deleted (its fields then count towards the fill rates)."""
        self.rows += 1
        if row.get("deleted") is True:
            self.deleted += 1
            return False
        if row.get("valid") is True:
            self.valid += 1
        else:
            self.invalid += 1
        return True


def summarize(rows: Iterable[Mapping[str, Any]]) -> RowSummary:
    """Count valid / invalid / deleted rows, per sheet when rows name one (a Platform export's records), and
    the fill rate of each `mapped` field (one pass, streaming)."""
    total = _Counts()
    sheets: dict[str, _Counts] = {}
    filled: dict[str, int] = {}
    for row in rows:
        sheet = row.get("sheet")
        if isinstance(sheet, str):
            sheets.setdefault(sheet, _Counts()).add(row)
        if not total.add(row):
            continue
        mapped = row.get("mapped")
        if isinstance(mapped, Mapping):
            for key, value in mapped.items():
                filled[key] = filled.get(key, 0) + (1 if _filled(value) else 0)
    kept = total.valid + total.invalid
    rates = {key: round(count / kept, 4) for key, count in filled.items()} if kept else {}
    return RowSummary(
        rows=total.rows, valid=total.valid, invalid=total.invalid, deleted=total.deleted, fill_rates=rates,
        sheets=tuple(SheetSummary(slug=slug, name=slug, rows=counts.rows, valid=counts.valid,
                                  invalid=counts.invalid) for slug, counts in sheets.items()),
    )


def handle_notice(body: str | bytes, s3: Any) -> RowSummary:
    """Process one notice (or the export event carrying it, see `Notice.from_message`): check it, stream its
    export (verified part by part) and summarise it.

    Raises ManifestError / UnsupportedSchemaError (not a notice this consumer understands),
    CorruptPartError (a part does not match the manifest), ReaderError (notice and manifest disagree, or a
    Platform sheet holds another number of records than the manifest says).
    """
    notice = Notice.from_message(body)
    manifest = load_manifest(notice.manifest_uri, s3)
    if manifest.schema_version != notice.schema_version:
        raise UnsupportedSchemaError(
            f"notice schemaVersion {notice.schema_version} and manifest schemaVersion "
            f"{manifest.schema_version} differ"
        )
    if (manifest.batch_id, manifest.row_count, manifest.source) != (notice.batch_id, notice.row_count, notice.source):
        raise ReaderError(
            f"notice ({notice.source} export {notice.batch_id}, {notice.row_count} rows) does not match the manifest "
            f"at {notice.manifest_uri} ({manifest.source} export {manifest.batch_id}, {manifest.row_count} rows)"
        )
    summary = summarize(iter_rows(manifest, s3))
    if manifest.source == PLATFORM:
        summary = replace(summary, sheets=_sheets_of(manifest, summary))
    return replace(summary, batch_id=notice.batch_id, manifest_uri=notice.manifest_uri, source=manifest.source,
                   field_stats=_field_stats_of(manifest))


def _field_stats_of(manifest: Manifest) -> dict[str, Any]:
    """The manifest's field quality as plain JSON: `{field: stats}`, a Platform export's `{sheet: {field: stats}}`."""
    def plain(stats: Mapping[str, Any] | None) -> dict[str, Any]:
        return {key: value.to_dict() for key, value in (stats or {}).items()}

    if manifest.source == PLATFORM:
        return {sheet.slug: plain(sheet.field_stats) for sheet in manifest.sheets or () if sheet.field_stats}
    return plain(manifest.field_stats)


def _sheets_of(manifest: Manifest, summary: RowSummary) -> tuple[SheetSummary, ...]:
    """The manifest's sheets, in its order, with the counts read; ReaderError when a count differs."""
    read = {sheet.slug: sheet for sheet in summary.sheets}
    listed = manifest.sheets or ()
    unknown = sorted(set(read) - {sheet.slug for sheet in listed})
    if unknown:
        raise ReaderError(f"export {manifest.batch_id}: rows of sheets the manifest does not list: {unknown[:5]}")
    sheets = []
    for sheet in listed:
        counted = read.get(sheet.slug, SheetSummary(slug=sheet.slug, name=sheet.name))
        if counted.rows != sheet.row_count:
            raise ReaderError(f"export {manifest.batch_id}: sheet {sheet.slug} holds {counted.rows} records, the "
                              f"manifest says {sheet.row_count}")
        sheets.append(replace(counted, name=sheet.name))
    return tuple(sheets)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True
