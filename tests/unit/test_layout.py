"""S3 layout: the contract's keys and URIs, and clear errors for what cannot be one."""

from __future__ import annotations

from typing import Any

import pytest

from flatfile_relay.layout import manifest_key, parse_s3_uri, part_key, s3_uri, webhook_key

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"


def test_keys_depend_only_on_prefix_batch_and_index() -> None:
    assert part_key("flatfile/", BATCH, 0) == f"flatfile/batches/{BATCH}/part-00000.jsonl.gz"
    assert part_key("flatfile/", BATCH, 123456) == f"flatfile/batches/{BATCH}/part-123456.jsonl.gz"
    assert manifest_key("flatfile/", BATCH) == f"flatfile/batches/{BATCH}/manifest.json"
    assert manifest_key("", BATCH) == f"batches/{BATCH}/manifest.json"
    assert manifest_key("a/b", BATCH) == f"a/b/batches/{BATCH}/manifest.json"
    assert webhook_key("flatfile/", BATCH, "e-1", 2) == f"flatfile/webhooks/{BATCH}/e-1-2.json"


@pytest.mark.parametrize("bad", ["", "a/b", "..", ".", "x\ny"])
def test_path_segments_that_would_escape_the_batch_folder_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be used in an S3 key"):
        manifest_key("flatfile/", bad)
    with pytest.raises(ValueError, match="cannot be used in an S3 key"):
        webhook_key("flatfile/", BATCH, bad, 0)


@pytest.mark.parametrize("index", [-1, True, 1.5])
def test_part_indexes_are_whole_numbers(index: Any) -> None:
    with pytest.raises(ValueError, match="part index"):
        part_key("", BATCH, index)


def test_s3_uris_round_trip_and_bad_ones_are_refused() -> None:
    assert parse_s3_uri(s3_uri("bucket", "a/b c/ü.json")) == ("bucket", "a/b c/ü.json")
    for bad in ("bucket/key", "https://bucket/key"):
        with pytest.raises(ValueError, match="not an s3:// URI"):
            parse_s3_uri(bad)
    for bad in ("s3://bucket", "s3:///key", "s3://bucket/"):
        with pytest.raises(ValueError, match="needs a bucket and a key"):
            parse_s3_uri(bad)
    with pytest.raises(ValueError, match="not an S3 bucket name"):
        s3_uri("", "key")
    with pytest.raises(ValueError, match="cannot be empty"):
        s3_uri("bucket", "")
