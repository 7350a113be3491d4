"""S3 layout: the contract's keys and URIs, and clear errors for what cannot be one."""

from __future__ import annotations

from typing import Any

import pytest

from flatfile_relay.layout import (
    UndatedBatchError,
    batch_rows_prefix,
    manifest_key,
    parse_s3_uri,
    part_key,
    s3_uri,
    submitted_date,
    webhook_key,
)

BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"


def test_keys_depend_only_on_prefix_batch_date_and_index() -> None:
    rows = f"flatfile/rows/submitted_date=2021-03-01/{BATCH}/"
    assert part_key("flatfile/", BATCH, "2021-03-01", 0) == f"{rows}part-00000.jsonl.gz"
    assert part_key("flatfile/", BATCH, "2021-03-01", 123456) == f"{rows}part-123456.jsonl.gz"
    assert manifest_key("flatfile/", BATCH) == f"flatfile/manifests/{BATCH}.json"
    assert manifest_key("", BATCH) == f"manifests/{BATCH}.json"
    assert manifest_key("a/b", BATCH) == f"a/b/manifests/{BATCH}.json"
    assert webhook_key("flatfile/", BATCH, "e-1", 2) == f"flatfile/webhooks/{BATCH}/e-1-2.json"


def test_rows_manifests_and_webhook_payloads_never_share_a_prefix() -> None:
    keys = [part_key("p/", BATCH, "2021-03-01", 0), manifest_key("p/", BATCH), webhook_key("p/", BATCH, "e", 0)]
    assert [key.split("/")[1] for key in keys] == ["rows", "manifests", "webhooks"]


@pytest.mark.parametrize(
    ("batch", "date"),
    [
        ({"submittedAt": "2021-03-01T20:22:52.000Z", "createdAt": "2021-02-01T00:00:00.000Z"}, "2021-03-01"),
        ({"submittedAt": "2021-03-01T23:30:00-02:00"}, "2021-03-02"),  # the day in UTC
        ({"submittedAt": None, "createdAt": "2021-02-27T10:00:00.000Z"}, "2021-02-27"),
        ({"submittedAt": "soon", "createdAt": "2021-02-27T10:00:00.000Z"}, "2021-02-27"),
    ],
)
def test_the_partition_date_is_the_submission_day_in_utc_else_the_creation_day(batch: Any, date: str) -> None:
    assert submitted_date(batch) == date


def test_a_batch_without_any_date_is_refused_with_its_id() -> None:
    with pytest.raises(UndatedBatchError, match="batch b-9 has neither a readable submittedAt nor createdAt"):
        submitted_date({"id": "b-9", "submittedAt": None})


@pytest.mark.parametrize("bad", ["", "2021-3-1", "2021-03-01/x", None])
def test_partition_dates_must_be_plain_days(bad: Any) -> None:
    with pytest.raises(ValueError, match="partition date must look like YYYY-MM-DD"):
        batch_rows_prefix("", BATCH, bad)


@pytest.mark.parametrize("bad", ["", "a/b", "..", ".", "x\ny"])
def test_path_segments_that_would_escape_the_batch_folder_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be used in an S3 key"):
        manifest_key("flatfile/", bad)
    with pytest.raises(ValueError, match="cannot be used in an S3 key"):
        webhook_key("flatfile/", BATCH, bad, 0)


@pytest.mark.parametrize("index", [-1, True, 1.5])
def test_part_indexes_are_whole_numbers(index: Any) -> None:
    with pytest.raises(ValueError, match="part index"):
        part_key("", BATCH, "2021-03-01", index)


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
