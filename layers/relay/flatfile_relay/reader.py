"""Read an export back, verified, whichever source it came from: for downstream teams.

Each part is downloaded to a temporary file (spilling to disk beyond 16 MB) while it is hashed; its size
and sha256 are checked against the manifest *before* anything is decompressed, then its lines are
decompressed and parsed one at a time, and its row count is checked at the end of the part. Memory stays
bounded whatever the size of the batch. Any mismatch raises `CorruptPartError`, naming the part and what
differed (in a Platform export, also a record of another sheet than the one its part names): rows already
yielded from that part must then be discarded (process a batch transactionally, or deduplicate by row `id`).

Example:
    from flatfile_relay.reader import iter_rows, load_manifest

    manifest_uri = notice["manifestUri"]              # from the notices queue
    manifest = load_manifest(manifest_uri, s3)        # batch metadata, rowCount, parts
    for row in iter_rows(manifest_uri, s3):           # every row, in order, verified
        if row["valid"] and not row.get("deleted"):   # `deleted`: legacy rows only
            handle(row["mapped"])                     # both sources: field key -> value

A Flatfile Platform export (``manifest.source == "platform"``) holds its workbook's sheets one after the other,
each part holding one sheet's records: ``iter_rows(manifest, s3, sheet="orders")`` reads only that sheet's parts,
and ``manifest.sheets`` lists every sheet (slug, name, records exported) in the workbook's order.

`s3` is the S3 client the caller built (in a function, its `runtime.clients.s3`): nothing is built here.
Outside Lambda, `flatfile_relay_devkit.reader` does the same checks with the standard library only, from S3
or from a local copy such as ./out (docs/output.md, "Writing a downstream consumer").
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from flatfile_relay.errors import ContractError
from flatfile_relay.ids import PLATFORM
from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.manifest import Manifest, ManifestError, Part

__all__ = [
    "CHUNK_SIZE",
    "MAX_MANIFEST_BYTES",
    "SPOOL_SIZE",
    "CorruptPartError",
    "ReaderError",
    "iter_part_rows",
    "iter_rows",
    "load_manifest",
    "sheet_parts",
]

CHUNK_SIZE = 1024 * 1024
SPOOL_SIZE = 16 * 1024 * 1024
#: Manifests are small; a larger object is not one.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class ReaderError(ContractError, RuntimeError):
    """The export cannot be read: what is stored does not match what its notice or manifest says."""


class CorruptPartError(ReaderError):
    """A part does not match its manifest entry (size, sha256, gzip stream, JSON lines or row count).

    Attributes:
        uri: the part's s3:// URI.
        reason: what mismatched.
    """

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"corrupt part {uri}: {reason}")
        self.uri = uri
        self.reason = reason


def load_manifest(manifest_uri: str, s3: Any) -> Manifest:
    """Download and check the manifest at `manifest_uri` (ManifestError names what is wrong).

    Example:
        manifest = load_manifest("s3://bucket/flatfile/manifests/<batchId>.json", s3)
        print(manifest.row_count, [part.uri for part in manifest.parts])
    """
    client = s3
    bucket, key = _location(manifest_uri, "manifest")
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        data = body.read(MAX_MANIFEST_BYTES + 1)
    finally:
        body.close()
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{manifest_uri} is larger than {MAX_MANIFEST_BYTES} bytes: not a manifest")
    try:
        return Manifest.from_json(data)
    except ManifestError as error:
        raise ManifestError(f"{manifest_uri}: {error}") from None


def iter_rows(manifest_uri: str | Manifest, s3: Any, *, sheet: str | None = None) -> Iterator[dict[str, Any]]:
    """Every row of an export in order (a legacy batch's in `sequence` order, a Platform job's sheet by sheet),
    each part verified before it is read.

    `manifest_uri` may also be a `Manifest` already loaded. `sheet` (a Platform export's sheet slug) reads only
    that sheet's parts. Raises CorruptPartError, ManifestError (also for a `sheet` the export does not have).
    """
    manifest = manifest_uri if isinstance(manifest_uri, Manifest) else load_manifest(manifest_uri, s3)
    for part in sheet_parts(manifest, sheet) if sheet is not None else manifest.parts:
        yield from iter_part_rows(part, s3)


def sheet_parts(manifest: Manifest, sheet: str) -> list[Part]:
    """The parts of a Platform export that hold the records of the sheet with slug `sheet`, in order.

    Raises ManifestError for a legacy export (no sheets) or a slug that is not one of the export's sheets.

    Example:
        >>> parts = sheet_parts(manifest, "orders")      # doctest: +SKIP
    """
    if manifest.source != PLATFORM or manifest.sheets is None:
        raise ManifestError(f"export {manifest.batch_id} is a legacy batch: it has no sheets (read it whole)")
    slugs = [known.slug for known in manifest.sheets]
    if sheet not in slugs:
        raise ManifestError(f"export {manifest.batch_id} has no sheet {sheet[:64]!r}; its sheets: {', '.join(slugs)}")
    return [part for part in manifest.parts if part.sheet == sheet]


def iter_part_rows(part: Part, s3: Any) -> Iterator[dict[str, Any]]:
    """The rows of one part: downloaded and checked (size, sha256) first, then decompressed line by line."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE) as spool:
        _download_verified(part, s3, spool)
        spool.seek(0)
        yield from _decode(part, spool)


def _download_verified(part: Part, s3: Any, target: IO[bytes]) -> None:
    bucket, key = _location(part.uri, "part")
    answer = s3.get_object(Bucket=bucket, Key=key)
    body = answer["Body"]
    try:
        length = answer.get("ContentLength")
        if isinstance(length, int) and length != part.bytes:
            raise CorruptPartError(part.uri, f"the object has {length} bytes, the manifest says {part.bytes}")
        digest = hashlib.sha256()
        size = 0
        while True:
            chunk = body.read(CHUNK_SIZE)
            if not chunk:
                break
            size += len(chunk)
            if size > part.bytes:
                raise CorruptPartError(
                    part.uri, f"the object holds more than the {part.bytes} bytes in the manifest"
                )
            digest.update(chunk)
            target.write(chunk)
    finally:
        body.close()
    if size != part.bytes:
        raise CorruptPartError(part.uri, f"the object has {size} bytes, the manifest says {part.bytes}")
    if digest.hexdigest() != part.sha256:
        raise CorruptPartError(
            part.uri, f"sha256 of the object is {digest.hexdigest()}, the manifest says {part.sha256}"
        )


def _decode(part: Part, source: IO[bytes]) -> Iterator[dict[str, Any]]:
    rows = 0
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    row = json.loads(line)
                except ValueError:
                    raise CorruptPartError(part.uri, f"line {number} is not JSON") from None
                if not isinstance(row, dict):
                    raise CorruptPartError(part.uri, f"line {number} is not a JSON object")
                if part.sheet is not None and row.get("sheet") != part.sheet:
                    raise CorruptPartError(part.uri, f"line {number} is not a record of sheet {part.sheet}")
                rows += 1
                if rows > part.rows:
                    raise CorruptPartError(
                        part.uri, f"it holds more than the {part.rows} rows in the manifest"
                    )
                yield row
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise CorruptPartError(part.uri, f"not a valid gzip stream ({error})") from None
    if rows != part.rows:
        raise CorruptPartError(part.uri, f"it holds {rows} rows, the manifest says {part.rows}")


def _location(uri: str, what: str) -> tuple[str, str]:
    try:
        return parse_s3_uri(uri)
    except ValueError as error:
        raise ManifestError(f"{what} location: {error}") from None
