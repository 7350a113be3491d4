"""Where the relay writes in S3: every key depends only on the batch (and the prefix), never on time.

    {prefix}batches/{batchId}/part-00000.jsonl.gz      rows, gzip JSON Lines, in row order
    {prefix}batches/{batchId}/manifest.json            written last
    {prefix}webhooks/{batchId}/{eventId}-{index}.json  raw webhook payloads

So a rerun of an export overwrites the same objects instead of adding new ones.

Example:
    >>> part_key("flatfile/", "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27", 3)
    'flatfile/batches/8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27/part-00003.jsonl.gz'
    >>> parse_s3_uri(s3_uri("bucket", manifest_key("", "b-1")))
    ('bucket', 'batches/b-1/manifest.json')
"""

from __future__ import annotations

PART_SUFFIX = ".jsonl.gz"
MANIFEST_NAME = "manifest.json"


def batch_prefix(prefix: str, batch_id: str) -> str:
    """The folder holding one batch's export (`{prefix}batches/{batchId}/`)."""
    return f"{_prefix(prefix)}batches/{_component(batch_id, 'batch id')}/"


def part_key(prefix: str, batch_id: str, index: int) -> str:
    """The key of part number `index` (0-based) of a batch.

    Example:
        >>> part_key("", "b-1", 0)
        'batches/b-1/part-00000.jsonl.gz'
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"part index must be a whole number >= 0, not {index!r}")
    return f"{batch_prefix(prefix, batch_id)}part-{index:05d}{PART_SUFFIX}"


def manifest_key(prefix: str, batch_id: str) -> str:
    """The key of a batch's manifest.

    Example:
        >>> manifest_key("exports/", "b-1")
        'exports/batches/b-1/manifest.json'
    """
    return f"{batch_prefix(prefix, batch_id)}{MANIFEST_NAME}"


def webhook_key(prefix: str, batch_id: str, event_id: str, index: int) -> str:
    """The key of one raw webhook payload (part `index` of webhook event `event_id`).

    Example:
        >>> webhook_key("flatfile/", "b-1", "e-9", 2)
        'flatfile/webhooks/b-1/e-9-2.json'
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"webhook part index must be a whole number >= 0, not {index!r}")
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
        >>> parse_s3_uri("s3://my-bucket/flatfile/batches/b-1/manifest.json")
        ('my-bucket', 'flatfile/batches/b-1/manifest.json')
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
