"""consumer: the row summary, and how a notice is checked against its manifest."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import pytest
from support.memory_s3 import MemoryS3
from support.platform_output import platform_export, submit

from flatfile_relay.consumer import RowSummary, handle_notice, summarize
from flatfile_relay.manifest import Manifest, ManifestError, Notice, Part, UnsupportedSchemaError
from flatfile_relay.reader import CorruptPartError, ReaderError
from flatfile_relay_devkit.emulator.platform import PlatformState

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
MANIFEST_URI = f"s3://bucket/flatfile/manifests/{BATCH}.json"


def test_rows_are_counted_by_their_flags_and_fields_by_how_often_they_are_filled() -> None:
    rows = [
        {"valid": True, "deleted": False, "mapped": {"sku": "A", "qty": "1", "tags": ["x"], "n": 0}},
        {"valid": True, "deleted": False, "mapped": {"sku": "B", "qty": "  ", "tags": [], "n": None}},
        {"valid": False, "deleted": False, "mapped": {"sku": "", "qty": "3", "meta": {}}},
        {"valid": False, "deleted": False, "mapped": {"sku": "D", "qty": None, "meta": {"k": 1}}},
        {"valid": True, "deleted": True, "mapped": {"sku": "E", "qty": "9", "extra": "only deleted"}},
        {"valid": False, "deleted": True},
    ]

    summary = summarize(iter(rows))

    assert (summary.rows, summary.valid, summary.invalid, summary.deleted) == (6, 2, 2, 2)
    assert summary.fill_rates == {"sku": 0.75, "qty": 0.5, "tags": 0.25, "n": 0.25, "meta": 0.25}


def test_an_empty_batch_summarises_to_zeros() -> None:
    assert summarize([]) == RowSummary()
    assert summarize([{"deleted": True, "mapped": {"a": "x"}}]).fill_rates == {}


def test_rows_without_flags_or_mapped_count_as_invalid_and_do_not_break_the_summary() -> None:
    summary = summarize([{"id": "1"}, {"valid": "yes", "mapped": "not an object"}])
    assert (summary.rows, summary.valid, summary.invalid) == (2, 0, 2)


def exported(rows: list[dict[str, Any]]) -> tuple[MemoryS3, Notice]:
    s3 = MemoryS3()
    data = gzip.compress(b"".join(json.dumps(row).encode() + b"\n" for row in rows), mtime=0)
    part_uri = f"s3://bucket/flatfile/rows/submitted_date=2021-03-01/{BATCH}/part-00000.jsonl.gz"
    s3.put(part_uri, data)
    parts = (Part(uri=part_uri, rows=len(rows), bytes=len(data), sha256=hashlib.sha256(data).hexdigest()),)
    manifest = Manifest(batch_id=BATCH, batch={"id": BATCH}, row_count=len(rows), parts=parts,
                        exported_at="2021-03-01T20:23:04.512Z", trigger="webhook")
    s3.put(MANIFEST_URI, manifest.to_json().encode())
    return s3, Notice.for_manifest(manifest, MANIFEST_URI)


def test_a_notice_is_summarised_from_its_verified_parts() -> None:
    s3, notice = exported([{"valid": True, "deleted": False, "mapped": {"sku": "A"}}] * 3)

    summary = handle_notice(notice.to_json(), s3)

    assert summary.rows == summary.valid == 3
    assert (summary.batch_id, summary.manifest_uri) == (BATCH, MANIFEST_URI)
    assert summary.to_dict()["fillRates"] == {"sku": 1.0}


def test_a_notice_that_disagrees_with_its_manifest_is_rejected() -> None:
    s3, notice = exported([{"valid": True, "deleted": False}])
    body = json.loads(notice.to_json())
    body["rowCount"] = 2

    with pytest.raises(ReaderError, match="does not match the manifest"):
        handle_notice(json.dumps(body), s3)


def test_a_tampered_part_is_rejected() -> None:
    s3, notice = exported([{"valid": True, "deleted": False}])
    part = ("bucket", f"flatfile/rows/submitted_date=2021-03-01/{BATCH}/part-00000.jsonl.gz")
    s3.objects[part] = bytes(len(s3.objects[part]))

    with pytest.raises(CorruptPartError, match="sha256"):
        handle_notice(notice.to_json(), s3)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"type": "flatfile.export.job", "schemaVersion": 1}', UnsupportedSchemaError),
        ('{"type": "flatfile.batch.exported", "schemaVersion": 2}', UnsupportedSchemaError),
        ("not json", ManifestError),
    ],
)
def test_what_is_not_a_notice_of_this_version_is_rejected(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        handle_notice(body, MemoryS3())


# -- a Flatfile Platform export: records counted per sheet ----------------------------------------------------


def test_platform_records_are_counted_per_sheet_in_the_order_they_come() -> None:
    summary = summarize([
        {"sheet": "customers", "valid": True, "mapped": {"name": "Ada"}},
        {"sheet": "orders", "valid": False, "mapped": {"amount": None}},
        {"sheet": "orders", "valid": True, "mapped": {"amount": 0}},
        {"sheet": "orders", "mapped": {"amount": 3}},  # no `valid`: not counted as valid
    ])
    assert (summary.rows, summary.valid, summary.invalid, summary.deleted) == (4, 2, 2, 0)
    assert [(s.slug, s.rows, s.valid, s.invalid) for s in summary.sheets] == [("customers", 1, 1, 0),
                                                                            ("orders", 3, 1, 2)]
    assert summary.fill_rates == {"name": 0.25, "amount": 0.5}
    assert "sheets" not in summarize([{"valid": True, "deleted": False}]).to_dict()


def test_a_platform_notice_is_summarised_per_sheet_with_the_manifests_names_and_empty_sheets() -> None:
    state = PlatformState.with_samples(7)
    s3 = MemoryS3()
    export = platform_export(state, submit(state, "customers_orders"), "bucket", part_max_rows=7)
    export.write(s3)

    summary = handle_notice(export.notice.to_json(), s3)

    assert (summary.source, summary.batch_id, summary.rows) == ("platform", export.job_id, 42)
    assert [(s.slug, s.name, s.rows) for s in summary.sheets] == [("customers", "Customers", 12),
                                                                  ("orders", "Orders", 30)]
    assert summary.to_dict()["sheets"][1]["name"] == "Orders"
    empty = platform_export(state, submit(state, "returns"), "bucket")
    empty.write(s3)
    assert [(s.slug, s.name, s.rows) for s in handle_notice(empty.notice.to_json(), s3).sheets] == [
        ("returns", "Returns", 0)]


def test_a_platform_part_whose_records_are_of_another_sheet_is_rejected() -> None:
    """Each part names its sheet in the manifest, and each record its sheet: the reader checks they agree, so a
    sheet read alone (`iter_rows(..., sheet=)`) is that sheet's records."""
    state = PlatformState.with_samples(7)
    s3 = MemoryS3()
    export = platform_export(state, submit(state, "products"), "bucket")
    document = json.loads(export.manifest.to_json())
    document["parts"][0]["sheet"] = "other"
    document["sheets"].append({"id": "us_sh_other", "slug": "other", "name": "Other", "rowCount": 0})
    export.write(s3)
    s3.put(export.manifest_uri, json.dumps(document).encode())

    with pytest.raises(CorruptPartError, match="line 1 is not a record of sheet other"):
        handle_notice(export.notice.to_json(), s3)
