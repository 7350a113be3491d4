"""flatfile_relay_devkit.reader on local copies: what it checks in a manifest, and where a local copy ends.

The verification of parts against S3 and a copy, side by side with the layer's reader, is in
tests/integration/consumer/test_reader_s3.py.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from flatfile_relay_devkit.reader import (
    CorruptPartError,
    LocalS3,
    ManifestError,
    iter_rows,
    load_manifest,
    sheet_summaries,
)

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
MANIFEST = f"s3://any-bucket/flatfile/manifests/{BATCH}.json"


def export(root: Path, batches: list[list[dict[str, Any]]], **manifest: Any) -> str:
    """A batch as the exporter writes it, into a local copy at `root`; returns the manifest's URI."""
    entries = []
    for index, rows in enumerate(batches):
        data = gzip.compress(b"".join(json.dumps(row).encode() + b"\n" for row in rows), mtime=0)
        key = f"flatfile/rows/submitted_date=2021-03-01/{BATCH}/part-{index:05d}.jsonl.gz"
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
        entries.append({"uri": f"s3://any-bucket/{key}", "rows": len(rows), "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
    document = {"schemaVersion": 1, "batchId": BATCH, "batch": {"id": BATCH}, "trigger": "schedule",
                "rowCount": sum(len(rows) for rows in batches), "parts": entries,
                "exportedAt": "2021-03-01T20:23:04.512Z", **manifest}
    path = root / "flatfile" / "manifests" / f"{BATCH}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return MANIFEST


def test_rows_stream_part_after_part_from_a_directory(tmp_path: Path) -> None:
    uri = export(tmp_path, [[{"sequence": 0}, {"sequence": 1}], [{"sequence": 2}]])

    rows = iter_rows(uri, tmp_path)

    assert [row["sequence"] for row in rows] == [0, 1, 2]
    assert load_manifest(uri, LocalS3(tmp_path)).row_count == 3


def test_nothing_is_read_before_the_first_row_is_asked_for(tmp_path: Path) -> None:
    reads: list[str] = []

    class Counting(LocalS3):
        def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
            reads.append(Key)
            return super().get_object(Bucket=Bucket, Key=Key)

    rows = iter_rows(export(tmp_path, [[{"a": 1}]]), Counting(tmp_path))
    assert reads == []
    assert list(rows) == [{"a": 1}]
    assert len(reads) == 2


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schemaVersion": 2}, "schemaVersion must be 1"),
        ({"batchId": ""}, "batchId must be a non-empty string"),
        ({"rowCount": 5}, "rowCount differs from the sum of its parts' rows"),
        ({"rowCount": True}, "rowCount must be an integer"),
        ({"parts": {}}, "parts must be a list"),
    ],
)
def test_a_manifest_that_breaks_the_contract_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, Any], problem: str,
) -> None:
    uri = export(tmp_path, [[{"a": 1}]], **change)

    with pytest.raises(ManifestError, match=problem) as caught:
        load_manifest(uri, tmp_path)
    assert str(caught.value).startswith(f"{MANIFEST}: ")


def test_a_part_entry_that_breaks_the_contract_is_refused(tmp_path: Path) -> None:
    uri = export(tmp_path, [[{"a": 1}]])
    path = LocalS3(tmp_path).path(uri)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["parts"][0]["sha256"] = "AB" * 32
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(ManifestError, match=r"parts\[0\]\.sha256 must be 64 lower-case hex digits"):
        load_manifest(uri, tmp_path)


def test_a_part_with_more_lines_than_the_manifest_says_fails_at_the_first_extra_row(tmp_path: Path) -> None:
    uri = export(tmp_path, [[{"a": 1}, {"a": 2}]])
    path = LocalS3(tmp_path).path(uri)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["parts"][0]["rows"] = document["rowCount"] = 1
    path.write_text(json.dumps(document), encoding="utf-8")

    rows = iter_rows(uri, tmp_path)
    assert next(rows) == {"a": 1}
    with pytest.raises(CorruptPartError, match="more than the 1 rows in the manifest"):
        next(rows)


def test_a_local_copy_names_a_missing_object_and_never_leaves_its_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"s3://b/flatfile/manifests/x\.json is not in the local copy"):
        load_manifest("s3://b/flatfile/manifests/x.json", tmp_path)
    with pytest.raises(ManifestError, match="must be an s3://bucket/key URI"):
        load_manifest("https://example.com/manifest.json", tmp_path)
    with pytest.raises(Exception, match="a key that leaves the local copy"):
        LocalS3(tmp_path).get_object(Bucket="b", Key="../../etc/passwd")


# -- a Flatfile Platform export: sheets, and the parts that name them -------------------------------------------

PLATFORM = {"source": "platform", "workbookId": "us_wb_1", "spaceId": "us_sp_1", "environmentId": "us_env_1"}


def platform_export(root: Path, records_of: dict[str, list[list[dict[str, Any]]]], **manifest: Any) -> str:
    """A Platform export (sheet slug -> its parts' records) into a local copy; the manifest's URI. `manifest`
    overrides fields of the manifest."""
    sheets = {slug: [[{**record, "sheet": slug} for record in part] for part in parts]
              for slug, parts in records_of.items()}
    parts = [part for records in sheets.values() for part in records]
    uri = export(root, parts)
    path = LocalS3(root).path(uri)
    document = json.loads(path.read_text(encoding="utf-8"))
    slugs = [slug for slug, records in sheets.items() for _ in records]
    for entry, slug in zip(document["parts"], slugs, strict=True):
        entry["sheet"] = slug
    listed = [{"id": f"us_sh_{slug}", "slug": slug, "name": slug.title(),
               "rowCount": sum(len(part) for part in records)} for slug, records in sheets.items()]
    path.write_text(json.dumps({**document, **PLATFORM, "sheets": listed, **manifest}), encoding="utf-8")
    return uri


def test_a_platform_manifest_names_its_sheets_and_each_part_its_sheet(tmp_path: Path) -> None:
    uri = platform_export(tmp_path, {"customers": [[{"valid": True}]], "orders": [[{"valid": False}], [{}]],
                                     "returns": []})
    manifest = load_manifest(uri, tmp_path)
    assert manifest.source == "platform"
    assert [(sheet.slug, sheet.name, sheet.row_count) for sheet in manifest.sheets] == [
        ("customers", "Customers", 1), ("orders", "Orders", 2), ("returns", "Returns", 0)]
    assert [part.sheet for part in manifest.parts] == ["customers", "orders", "orders"]
    assert list(iter_rows(uri, tmp_path, sheet="orders")) == [{"valid": False, "sheet": "orders"}, {"sheet": "orders"}]
    assert [(s.slug, s.rows, s.valid, s.invalid) for s in sheet_summaries(manifest, tmp_path)] == [
        ("customers", 1, 1, 0), ("orders", 2, 0, 2), ("returns", 0, 0, 0)]
    legacy = load_manifest(export(tmp_path / "legacy", [[{"a": 1}]]), tmp_path / "legacy")
    assert (legacy.source, legacy.sheets, legacy.parts[0].sheet) == ("legacy", (), None)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"sheets": None}, "sheets must be a list"),
        ({"sheets": [{"id": "us_sh_1", "slug": "customers", "name": "C"}]}, r"sheets\[0\] must have a string id"),
        ({"sheets": [{"id": "us_sh_1", "slug": "customers", "name": "C", "rowCount": 2}]},
         "rowCount differs from the sum of its sheets' rowCount"),
        ({"sheets": [{"id": "us_sh_1", "slug": "other", "name": "O", "rowCount": 1}]},
         r"parts\[0\]\.sheet must name one of the export's sheets"),
        ({"source": "sftp"}, "source must be legacy or platform"),
    ],
)
def test_a_platform_manifest_that_breaks_the_contract_is_refused(tmp_path: Path, change: dict[str, Any],
                                                                 problem: str) -> None:
    uri = platform_export(tmp_path, {"customers": [[{"valid": True}]]}, **change)
    with pytest.raises(ManifestError, match=problem):
        load_manifest(uri, tmp_path)


def test_a_legacy_batch_has_no_sheet_to_read_alone(tmp_path: Path) -> None:
    uri = export(tmp_path, [[{"a": 1}]])
    with pytest.raises(ManifestError, match="is a legacy batch: it has no sheets"):
        list(iter_rows(uri, tmp_path, sheet="customers"))


def test_a_part_holding_records_of_another_sheet_than_its_entry_names_is_corrupt(tmp_path: Path) -> None:
    uri = platform_export(tmp_path, {"customers": [[{"valid": True}]], "orders": [[{"valid": True}]]})
    path = LocalS3(tmp_path).path(uri)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["parts"][0]["sheet"], document["parts"][1]["sheet"] = "orders", "customers"
    path.write_text(json.dumps(document), encoding="utf-8")

    with pytest.raises(CorruptPartError, match="line 1 is not a record of sheet orders"):
        list(iter_rows(uri, tmp_path, sheet="orders"))
