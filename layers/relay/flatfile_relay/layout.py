"""Where the relay writes in S3: every key depends only on the batch (and the prefix), never on time.

    {prefix}rows/submitted_date={YYYY-MM-DD}/{batchId}/part-00000.jsonl.gz   rows, gzip JSON Lines, in row order
    {prefix}manifests/{batchId}.json                                         one line of JSON, written last
    {prefix}webhooks/{batchId}/{eventId}-{index}.json                        raw webhook payloads

`rows/` holds nothing but row parts and `manifests/` nothing but manifests, so a table (Glue, Athena,
DuckDB) can sit on each. The date is the batch's own submission day in UTC (`submittedAt`, else
`createdAt`), so a rerun of an export overwrites the same objects instead of adding new ones. The batch
folder is deliberately not `batchId=...`: engines that detect Hive partitions would turn it into a column
that collides with the rows' `batchId`.

Example:
    >>> part_key("flatfile/", "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27", "2021-03-01", 3)
    'flatfile/rows/submitted_date=2021-03-01/8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27/part-00003.jsonl.gz'
    >>> parse_s3_uri(s3_uri("bucket", manifest_key("", "b-1")))
    ('bucket', 'manifests/b-1.json')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from flatfile_relay.checks import whole_number
from flatfile_relay.errors import ContractError
from flatfile_relay.timestamps import parse_timestamp_or_none

__all__ = [
    "MANIFESTS",
    "MANIFEST_SUFFIX",
    "PARTITION_KEY",
    "PART_SUFFIX",
    "ROWS",
    "UndatedBatchError",
    "batch_rows_prefix",
    "manifest_key",
    "manifests_prefix",
    "parse_s3_uri",
    "part_key",
    "rows_prefix",
    "s3_uri",
    "submitted_date",
    "webhook_key",
]

PART_SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".json"
ROWS = "rows/"
MANIFESTS = "manifests/"
#: the Hive partition key of the rows prefix (a column of the `rows` table)
PARTITION_KEY = "submitted_date"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UndatedBatchError(ContractError, ValueError):
    """A batch with neither a readable `submittedAt` nor `createdAt`: its rows have no partition."""


def submitted_date(batch: Mapping[str, Any]) -> str:
    """The partition date of a batch: its `submittedAt` as a UTC day, else its `createdAt`.

    Example:
        >>> submitted_date({"submittedAt": "2021-03-01T23:30:00-02:00", "createdAt": "2021-02-27T10:00:00Z"})
        '2021-03-02'
        >>> submitted_date({"submittedAt": None, "createdAt": "2021-02-27T10:00:00.000Z"})
        '2021-02-27'
    """
    for name in ("submittedAt", "createdAt"):
        moment = parse_timestamp_or_none(batch.get(name))
        if moment is not None:
            return moment.astimezone(UTC).date().isoformat()
    raise UndatedBatchError(
        f"batch {str(batch.get('id'))[:64]} has neither a readable submittedAt nor createdAt; "
        "its rows cannot be placed in a submitted_date partition"
    )


def rows_prefix(prefix: str) -> str:
    """The prefix holding only row parts (the `rows` table's location)."""
    return f"{_prefix(prefix)}{ROWS}"


def manifests_prefix(prefix: str) -> str:
    """The prefix holding only manifests, one per batch (the `batches` table's location)."""
    return f"{_prefix(prefix)}{MANIFESTS}"


def batch_rows_prefix(prefix: str, batch_id: str, date: str) -> str:
    """The folder holding one batch's row parts (`{prefix}rows/submitted_date={date}/{batchId}/`).

    Example:
        >>> batch_rows_prefix("", "b-1", "2021-03-01")
        'rows/submitted_date=2021-03-01/b-1/'
    """
    if not isinstance(date, str) or not _DATE.match(date):
        raise ValueError(f"a partition date must look like YYYY-MM-DD, not {str(date)[:32]!r}")
    return f"{rows_prefix(prefix)}{PARTITION_KEY}={date}/{_component(batch_id, 'batch id')}/"


def part_key(prefix: str, batch_id: str, date: str, index: int) -> str:
    """The key of part number `index` (0-based) of a batch submitted on `date`.

    Example:
        >>> part_key("", "b-1", "2021-03-01", 0)
        'rows/submitted_date=2021-03-01/b-1/part-00000.jsonl.gz'
    """
    whole_number(index, "part index", low=0)
    return f"{batch_rows_prefix(prefix, batch_id, date)}part-{index:05d}{PART_SUFFIX}"


def manifest_key(prefix: str, batch_id: str) -> str:
    """The key of a batch's manifest.

    Example:
        >>> manifest_key("exports/", "b-1")
        'exports/manifests/b-1.json'
    """
    return f"{manifests_prefix(prefix)}{_component(batch_id, 'batch id')}{MANIFEST_SUFFIX}"


def webhook_key(prefix: str, batch_id: str, event_id: str, index: int) -> str:
    """The key of one raw webhook payload (part `index` of webhook event `event_id`).

    Example:
        >>> webhook_key("flatfile/", "b-1", "e-9", 2)
        'flatfile/webhooks/b-1/e-9-2.json'
    """
    whole_number(index, "webhook part index", low=0)
    return (
        f"{_prefix(prefix)}webhooks/{_component(batch_id, 'batch id')}/"
        f"{_component(event_id, 'webhook event id')}-{index}.json"
    )


def s3_uri(bucket: str, key: str) -> str:
    """`s3://bucket/key`.

    Example:
        >>> s3_uri("my-bucket", "a/b.json")
        's3://my-bucket/a/b.json'
    """
    if not bucket or "/" in bucket:
        raise ValueError(f"not an S3 bucket name: {bucket!r}")
    if not key:
        raise ValueError("an S3 object key cannot be empty")
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`(bucket, key)` of an `s3://bucket/key` URI; ValueError when it is not one.

    Example:
        >>> parse_s3_uri("s3://my-bucket/flatfile/manifests/b-1.json")
        ('my-bucket', 'flatfile/manifests/b-1.json')
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {str(uri)[:200]!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise ValueError(f"an s3:// URI needs a bucket and a key: {uri[:200]!r}")
    return bucket, key


def _prefix(prefix: str) -> str:
    if prefix and not prefix.endswith("/"):
        return prefix + "/"
    return prefix


def _component(value: str, what: str) -> str:
    """A value used as one path segment: non-empty, no `/`, not `.` or `..`, no control characters."""
    if (
        not isinstance(value, str)
        or not value
        or "/" in value
        or value in (".", "..")
        or any(ord(char) < 32 or ord(char) == 127 for char in value)
    ):
        raise ValueError(f"{what} {str(value)[:64]!r} cannot be used in an S3 key")
    return value
