"""The sample downstream consumer: read a notice, verify and stream the batch, summarise its rows.

A real consumer replaces `summarize` with its own processing. Notices are delivered at least once, so a
real consumer deduplicates by `batchId` (or makes its processing idempotent, as summarising is).

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flatfile_relay.manifest import Notice, UnsupportedSchemaError
from flatfile_relay.reader import ReaderError, iter_rows, load_manifest

__all__ = ["RowSummary", "handle_notice", "summarize"]


@dataclass(frozen=True)
class RowSummary:
    """Counts of a batch's rows and how often each `mapped` field is filled.

    Attributes:
        rows: every row.
        valid, invalid: rows not deleted, by their `valid` flag.
        deleted: rows the end user deleted (whatever their `valid` flag).
        fill_rates: per `mapped` field, the share of the rows not deleted where it holds a value (not
            null, not an empty or blank string, not an empty list or object), rounded to 4 decimals.
        batch_id, manifest_uri: set by `handle_notice`.
    """

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    deleted: int = 0
    fill_rates: dict[str, float] = field(default_factory=dict)
    batch_id: str | None = None
    manifest_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "batchId": self.batch_id, "manifestUri": self.manifest_uri, "rows": self.rows,
            "valid": self.valid, "invalid": self.invalid, "deleted": self.deleted,
            "fillRates": dict(self.fill_rates),
        }


def summarize(rows: Iterable[Mapping[str, Any]]) -> RowSummary:
    """Count valid / invalid / deleted rows and the fill rate of each `mapped` field (one pass, streaming)."""
    total = valid = invalid = deleted = 0
    filled: dict[str, int] = {}
    for row in rows:
        total += 1
        if row.get("deleted") is True:
            deleted += 1
            continue
        if row.get("valid") is True:
            valid += 1
        else:
            invalid += 1
        mapped = row.get("mapped")
        if isinstance(mapped, Mapping):
            for key, value in mapped.items():
                filled[key] = filled.get(key, 0) + (1 if _filled(value) else 0)
    kept = valid + invalid
    rates = {key: round(count / kept, 4) for key, count in filled.items()} if kept else {}
    return RowSummary(rows=total, valid=valid, invalid=invalid, deleted=deleted, fill_rates=rates)


def handle_notice(body: str | bytes, s3: Any) -> RowSummary:
    """Process one notice (or the export event carrying it, see `Notice.from_message`): check it, stream its
    batch (verified part by part) and summarise it.

    Raises ManifestError / UnsupportedSchemaError (not a notice this consumer understands),
    CorruptPartError (a part does not match the manifest), ReaderError (notice and manifest disagree).
    """
    notice = Notice.from_message(body)
    manifest = load_manifest(notice.manifest_uri, s3)
    if manifest.schema_version != notice.schema_version:
        raise UnsupportedSchemaError(
            f"notice schemaVersion {notice.schema_version} and manifest schemaVersion "
            f"{manifest.schema_version} differ"
        )
    if manifest.batch_id != notice.batch_id or manifest.row_count != notice.row_count:
        raise ReaderError(
            f"notice (batch {notice.batch_id}, {notice.row_count} rows) does not match the manifest at "
            f"{notice.manifest_uri} (batch {manifest.batch_id}, {manifest.row_count} rows)"
        )
    summary = summarize(iter_rows(manifest, s3))
    return replace(summary, batch_id=notice.batch_id, manifest_uri=notice.manifest_uri)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True
