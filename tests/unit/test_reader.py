"""reader: verification of each part against its manifest entry, with an in-memory S3 stand-in."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import pytest
from support.memory_s3 import MemoryS3

from flatfile_relay.manifest import Manifest, ManifestError, Part
from flatfile_relay.reader import CorruptPartError, iter_part_rows, iter_rows, load_manifest

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"


def gz_lines(*lines: bytes) -> bytes:
    return gzip.compress(b"".join(line + b"\n" for line in lines), mtime=0)


def add_part(s3: MemoryS3, index: int, data: bytes, rows: int) -> Part:
    uri = f"s3://bucket/flatfile/rows/submitted_date=2021-03-01/{BATCH}/part-{index:05d}.jsonl.gz"
    s3.put(uri, data)
    return Part(uri=uri, rows=rows, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def add_manifest(s3: MemoryS3, parts: list[Part]) -> str:
    manifest = Manifest(batch_id=BATCH, batch={"id": BATCH}, row_count=sum(p.rows for p in parts),
                        parts=tuple(parts), exported_at="2021-03-01T20:23:04.512Z", trigger="schedule")
    uri = f"s3://bucket/flatfile/manifests/{BATCH}.json"
    s3.put(uri, manifest.to_json().encode())
    return uri


def test_rows_stream_part_after_part_and_nothing_is_read_before_iteration() -> None:
    s3 = MemoryS3()
    parts = [add_part(s3, 0, gz_lines(b'{"sequence":0}', b'{"sequence":1}'), 2),
             add_part(s3, 1, gz_lines(b'{"sequence":2,"mapped":{"n":"a\\nb"}}'), 1)]
    uri = add_manifest(s3, parts)

    rows = iter_rows(uri, s3)
    assert s3.gets == []
    assert [row["sequence"] for row in rows] == [0, 1, 2]
    assert len(s3.gets) == 3
    assert load_manifest(uri, s3).parts == tuple(parts)


def test_a_part_of_the_right_size_but_other_bytes_fails_on_its_sha256_before_decompressing() -> None:
    s3 = MemoryS3()
    part = add_part(s3, 0, gz_lines(b'{"a":1}'), 1)
    s3.put(part.uri, b"x" * part.bytes)  # not even gzip: decompressing would fail differently

    with pytest.raises(CorruptPartError) as caught:
        list(iter_part_rows(part, s3))

    assert caught.value.uri == part.uri
    assert str(caught.value).startswith(f"corrupt part {part.uri}: sha256 of the object is ")
    assert part.sha256 in str(caught.value)


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_part_of_another_size_fails_naming_both_sizes(delta: int) -> None:
    s3 = MemoryS3()
    data = gz_lines(b'{"a":1}')
    part = add_part(s3, 0, data, 1)
    s3.put(part.uri, data[:delta] if delta < 0 else data + b"\0")

    with pytest.raises(CorruptPartError, match=rf"has {len(data) + delta} bytes, the manifest says {len(data)}"):
        list(iter_part_rows(part, s3))


def test_a_body_longer_than_announced_is_cut_off_at_the_manifest_size() -> None:
    class LyingS3(MemoryS3):
        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
            answer = super().get_object(Bucket, Key)
            answer.pop("ContentLength")
            return answer

    s3 = LyingS3()
    data = gz_lines(b'{"a":1}')
    part = add_part(s3, 0, data, 1)
    s3.put(part.uri, data + b"\0" * (4 * 1024 * 1024))

    with pytest.raises(CorruptPartError, match="holds more than the"):
        list(iter_part_rows(part, s3))


@pytest.mark.parametrize(
    ("data", "rows", "message"),
    [
        (gz_lines(b'{"a":1}', b'{"a":2}'), 1, "holds more than the 1 rows in the manifest"),
        (gz_lines(b'{"a":1}'), 2, "holds 1 rows, the manifest says 2"),
        (gz_lines(b'{"a":1}', b"not json"), 2, "line 2 is not JSON"),
        (gz_lines(b'{"a":1}', b"[1, 2]"), 2, "line 2 is not a JSON object"),
        (b"plain text, not gzip", 1, "not a valid gzip stream"),
        (gz_lines(b'{"a":1}')[:-6], 1, "not a valid gzip stream"),
    ],
)
def test_a_part_whose_content_disagrees_with_the_manifest_fails_clearly(data: bytes, rows: int, message: str) -> None:
    s3 = MemoryS3()
    part = add_part(s3, 0, data, rows)  # the manifest matches the bytes: only the content is wrong

    with pytest.raises(CorruptPartError, match=message):
        list(iter_part_rows(part, s3))


def test_a_manifest_that_is_not_one_is_refused_naming_its_location() -> None:
    s3 = MemoryS3()
    uri = f"s3://bucket/flatfile/manifests/{BATCH}.json"
    s3.put(uri, json.dumps({"schemaVersion": 3}).encode())

    with pytest.raises(ManifestError, match=rf"{uri}: manifest.schemaVersion is 3"):
        load_manifest(uri, s3)


def test_a_platform_sheet_is_read_alone_and_a_legacy_batch_has_none() -> None:
    from support.platform_output import platform_export, submit

    from flatfile_relay.reader import sheet_parts
    from flatfile_relay_devkit.emulator.platform import PlatformState

    state = PlatformState.with_samples(7)
    s3 = MemoryS3()
    export = platform_export(state, submit(state, "customers_orders"), "bucket", part_max_rows=5)
    export.write(s3)
    manifest = load_manifest(export.manifest_uri, s3)

    assert [part.sheet for part in sheet_parts(manifest, "customers")] == ["customers"] * 3
    s3.gets.clear()
    assert list(iter_rows(manifest, s3, sheet="customers")) == export.rows_of("customers")
    assert len(s3.gets) == 3  # the orders' parts are not read
    with pytest.raises(ManifestError, match="has no sheet 'Orders'; its sheets: customers, orders"):
        sheet_parts(manifest, "Orders")
    legacy = load_manifest(add_manifest(s3, [add_part(s3, 0, gz_lines(b'{"a": 1}'), 1)]), s3)
    with pytest.raises(ManifestError, match="is a legacy batch: it has no sheets"):
        list(iter_rows(legacy, s3, sheet="customers"))
