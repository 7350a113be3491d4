"""Read what the relay exported, verified, from S3 or from a local copy: for downstream teams, outside Lambda.

Standard library only: `pip install` the development kit (docs/output.md, "Writing a downstream consumer") and
bring your own S3 client, or none for a local copy. Nothing is ever built for you: `source` says where the
bucket is, either

- an S3 client you built (`boto3.client("s3")`, or anything with `get_object(Bucket=..., Key=...)`), or
- a local copy of the bucket whose files are its keys: a directory (`"out"`, `Path("out")`, what `make run`
  leaves in ./out) or `LocalS3("out")`; the bucket name in the URIs is ignored.

Each part is downloaded to a temporary file (spilling to disk beyond 16 MB) while it is hashed, and its size
and sha256 are checked against the manifest before anything is decompressed; then its lines are parsed one
at a time and its row count is checked at the end of the part. Memory stays bounded whatever the size of
the batch. Any mismatch raises `CorruptPartError` naming the part and what differed (in a Platform export,
also a record of another sheet than the one its part names): rows already yielded from that part must then be
discarded (process a batch transactionally, or deduplicate by row `id`).

Both sources read alike: a legacy (Portal v2) batch's rows, or a Flatfile Platform submit job's records, sheet
after sheet (each part holds one sheet's). For a Platform export, `Manifest.sheets` lists the workbook's sheets,
`iter_rows(..., sheet="orders")` reads one sheet's parts only, and `sheet_summaries` counts each sheet's records
and the invalid ones, checked against the manifest.

The relay's sample consumer (in Lambda) reads with `flatfile_relay.reader`, the same checks on the layer's
models; a test keeps the two readers' answers equal.

Example:
    >>> import json, pathlib
    >>> notice = json.loads(sorted(pathlib.Path("out/notices").glob("*.json"))[0].read_text())  # doctest: +SKIP
    >>> rows = list(iter_rows(notice["manifestUri"], "out"))                                    # doctest: +SKIP
    >>> len(rows) == notice["rowCount"]                                                         # doctest: +SKIP
    True
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

__all__ = ["CorruptPartError", "LocalS3", "Manifest", "ManifestError", "Part", "ReaderError", "Sheet", "SheetSummary",
           "Source", "iter_part_rows", "iter_rows", "load_manifest", "sheet_summaries"]

CHUNK_SIZE = 1024 * 1024
SPOOL_SIZE = 16 * 1024 * 1024
#: Manifests are small; a larger object is not one.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
#: the manifest schemaVersion this reader understands
SCHEMA_VERSION = 1
#: the manifest's `source` of each source (a manifest without one is legacy)
LEGACY, PLATFORM = "legacy", "platform"


class ReaderError(RuntimeError):
    """The export cannot be read."""


class ManifestError(ReaderError):
    """A manifest does not follow the contract (events/schemas/manifest.schema.json); names the field."""


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


class S3Client(Protocol):
    """What the reader calls on an S3 client: `get_object` (boto3's signature and answer)."""

    def get_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]: ...


#: where the bucket is: an S3 client, or a directory holding a local copy (a path or a LocalS3)
Source = S3Client | str | os.PathLike[str]


class LocalS3:
    """A local copy of a bucket as the reader's S3 client: `s3://<any bucket>/<key>` is the file `root/<key>`.

    Example:
        >>> LocalS3("out").path("s3://flatfile-relay-exportbucket/flatfile/manifests/b-1.json").as_posix()
        'out/flatfile/manifests/b-1.json'
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, uri: str) -> Path:
        """The file of an s3:// URI in the copy."""
        return self._file(*_location(uri, "object"))

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        """The object as boto3 answers it: `Body` (a binary file) and `ContentLength`."""
        path = self._file(Bucket, Key)
        if not path.is_file():
            raise FileNotFoundError(f"s3://{Bucket}/{Key} is not in the local copy {self.root} (no {path})")
        return {"Body": path.open("rb"), "ContentLength": path.stat().st_size}

    def _file(self, bucket: str, key: str) -> Path:
        path = self.root / key
        if ".." in Path(key).parts or Path(key).is_absolute():
            raise ReaderError(f"s3://{bucket}/{key}: a key that leaves the local copy {self.root}")
        return path


@dataclass(frozen=True)
class Part:
    """One gzip JSON Lines object of an export: where it is, how many rows, size and sha256 of its bytes, and (a
    Platform export's) the slug of the sheet whose records it holds."""

    uri: str
    rows: int
    bytes: int
    sha256: str
    sheet: str | None = None


@dataclass(frozen=True)
class Sheet:
    """One sheet of a Platform export: its id, slug and name, and how many records the export holds."""

    id: str
    slug: str
    name: str
    row_count: int


@dataclass(frozen=True)
class SheetSummary:
    """What one sheet of a Platform export holds: its records, and how many are valid or not."""

    slug: str
    name: str
    rows: int
    valid: int
    invalid: int


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: the export (a batch, or a Platform submit job), its source, its row count, its parts
    in row order, its sheets (a Platform export's; empty for a legacy batch) and the whole document."""

    batch_id: str
    row_count: int
    parts: tuple[Part, ...]
    document: dict[str, Any]
    source: str = LEGACY
    sheets: tuple[Sheet, ...] = ()

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check a manifest; ManifestError names what is wrong (never quoting a value)."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ManifestError("the manifest is not JSON") from None
        if not isinstance(data, dict):
            raise ManifestError("the manifest is not a JSON object")
        if data.get("schemaVersion") != SCHEMA_VERSION:
            raise ManifestError(f"schemaVersion must be {SCHEMA_VERSION} (this reader's)")
        batch_id, row_count, parts = data.get("batchId"), data.get("rowCount"), data.get("parts")
        if not isinstance(batch_id, str) or not batch_id:
            raise ManifestError("batchId must be a non-empty string")
        if not _count(row_count):
            raise ManifestError("rowCount must be an integer >= 0")
        if not isinstance(parts, list):
            raise ManifestError("parts must be a list")
        checked = tuple(_part(index, part) for index, part in enumerate(parts))
        if sum(part.rows for part in checked) != row_count:
            raise ManifestError("rowCount differs from the sum of its parts' rows")
        source = data.get("source", LEGACY)
        if source not in (LEGACY, PLATFORM):
            raise ManifestError(f"source must be {LEGACY} or {PLATFORM} (this reader's)")
        sheets = _sheets(data.get("sheets"), checked) if source == PLATFORM else ()
        if sum(sheet.row_count for sheet in sheets) != (row_count if sheets else 0):
            raise ManifestError("rowCount differs from the sum of its sheets' rowCount")
        return cls(batch_id=batch_id, row_count=row_count, parts=checked, document=data, source=source,
                   sheets=sheets)


def load_manifest(manifest_uri: str, source: Source) -> Manifest:
    """Read and check the manifest at `manifest_uri` (ManifestError names what is wrong).

    Example:
        >>> load_manifest("s3://bucket/flatfile/manifests/b-1.json", "out").row_count   # doctest: +SKIP
        3
    """
    client = _client(source)
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


def iter_rows(manifest: str | Manifest, source: Source, *, sheet: str | None = None) -> Iterator[dict[str, Any]]:
    """Every row of an export in order (a legacy batch's in `sequence` order, a Platform job's sheet by sheet),
    each part verified before it is read.

    `manifest` is the manifest's s3:// URI (a notice's `manifestUri`) or a Manifest already loaded. `sheet` (a
    Platform export's sheet slug) reads only that sheet's parts. Raises CorruptPartError, ManifestError (also for
    a `sheet` the export does not have). Nothing is read before the first row is asked for.
    """
    client = _client(source)
    loaded = manifest if isinstance(manifest, Manifest) else load_manifest(manifest, client)
    for part in _sheet_parts(loaded, sheet) if sheet is not None else loaded.parts:
        yield from iter_part_rows(part, client)


def sheet_summaries(manifest: str | Manifest, source: Source) -> list[SheetSummary]:
    """Each sheet of a Platform export, in the workbook's order: its records, valid and invalid (read, verified).

    Raises ManifestError for a legacy batch (it has no sheets), ReaderError when a sheet holds another number of
    records than the manifest says, CorruptPartError.

    Example:
        >>> for sheet in sheet_summaries(notice["manifestUri"], "out"):                  # doctest: +SKIP
        ...     print(f"{sheet.name}: {sheet.rows} records, {sheet.invalid} invalid")
        Customers: 12 records, 0 invalid
    """
    client = _client(source)
    loaded = manifest if isinstance(manifest, Manifest) else load_manifest(manifest, client)
    if loaded.source != PLATFORM:
        raise ManifestError(f"export {loaded.batch_id} is a legacy batch: it has no sheets")
    summaries = []
    for sheet in loaded.sheets:
        rows = valid = 0
        for row in iter_rows(loaded, client, sheet=sheet.slug):
            rows += 1
            valid += row.get("valid") is True
        if rows != sheet.row_count:
            raise ReaderError(f"sheet {sheet.slug} of export {loaded.batch_id} holds {rows} records, the manifest "
                              f"says {sheet.row_count}")
        summaries.append(SheetSummary(slug=sheet.slug, name=sheet.name, rows=rows, valid=valid, invalid=rows - valid))
    return summaries


def iter_part_rows(part: Part, source: Source) -> Iterator[dict[str, Any]]:
    """The rows of one part: downloaded and checked (size, sha256) first, then decompressed line by line."""
    client = _client(source)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE) as spool:
        _download_verified(part, client, spool)
        spool.seek(0)
        yield from _decode(part, spool)


def _client(source: Source) -> S3Client:
    if hasattr(source, "get_object"):
        return source  # type: ignore[return-value]
    if isinstance(source, str | os.PathLike):
        return LocalS3(source)
    raise TypeError("source must be an S3 client (e.g. boto3.client('s3')) or the directory of a local copy, "
                    f"not {type(source).__name__}")


def _sheet_parts(manifest: Manifest, sheet: str) -> list[Part]:
    if manifest.source != PLATFORM:
        raise ManifestError(f"export {manifest.batch_id} is a legacy batch: it has no sheets (read it whole)")
    slugs = [known.slug for known in manifest.sheets]
    if sheet not in slugs:
        raise ManifestError(f"export {manifest.batch_id} has no sheet {sheet[:64]!r}; its sheets: {', '.join(slugs)}")
    return [part for part in manifest.parts if part.sheet == sheet]


def _sheets(value: Any, parts: tuple[Part, ...]) -> tuple[Sheet, ...]:
    """A Platform manifest's `sheets`, checked; every part must name one of them."""
    if not isinstance(value, list):
        raise ManifestError("sheets must be a list (a Platform export names its workbook's sheets)")
    sheets = []
    for index, entry in enumerate(value):
        sheet = entry if isinstance(entry, dict) else {}
        sheet_id, slug, name, rows = (sheet.get(key) for key in ("id", "slug", "name", "rowCount"))
        if not (isinstance(sheet_id, str) and isinstance(slug, str) and slug and isinstance(name, str)
                and isinstance(rows, int) and _count(rows)):
            raise ManifestError(f"sheets[{index}] must have a string id, slug and name and a rowCount >= 0")
        sheets.append(Sheet(id=sheet_id, slug=slug, name=name, row_count=rows))
    slugs = {sheet.slug for sheet in sheets}
    for index, part in enumerate(parts):
        if part.sheet not in slugs:
            raise ManifestError(f"parts[{index}].sheet must name one of the export's sheets")
    return tuple(sheets)


def _part(index: int, part: Any) -> Part:
    if not isinstance(part, dict):
        raise ManifestError(f"parts[{index}] must be an object")
    uri, rows, size, sha256 = (part.get(key) for key in ("uri", "rows", "bytes", "sha256"))
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ManifestError(f"parts[{index}].uri must be an s3:// URI")
    if not (isinstance(rows, int) and _count(rows) and isinstance(size, int) and _count(size)):
        raise ManifestError(f"parts[{index}].rows and .bytes must be integers >= 0")
    if not isinstance(sha256, str) or len(sha256) != 64 or set(sha256) - set("0123456789abcdef"):
        raise ManifestError(f"parts[{index}].sha256 must be 64 lower-case hex digits")
    sheet = part.get("sheet")
    if sheet is not None and not isinstance(sheet, str):
        raise ManifestError(f"parts[{index}].sheet must be a string")
    return Part(uri=uri, rows=rows, bytes=size, sha256=sha256, sheet=sheet)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _download_verified(part: Part, s3: S3Client, target: IO[bytes]) -> None:
    bucket, key = _location(part.uri, "part")
    answer = s3.get_object(Bucket=bucket, Key=key)
    body = answer["Body"]
    try:
        length = answer.get("ContentLength")
        if isinstance(length, int) and length != part.bytes:
            raise CorruptPartError(part.uri, f"the object has {length} bytes, the manifest says {part.bytes}")
        digest, size = hashlib.sha256(), 0
        while chunk := body.read(CHUNK_SIZE):
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
                    raise CorruptPartError(part.uri, f"it holds more than the {part.rows} rows in the manifest")
                yield row
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise CorruptPartError(part.uri, f"not a valid gzip stream ({error})") from None
    if rows != part.rows:
        raise CorruptPartError(part.uri, f"it holds {rows} rows, the manifest says {part.rows}")


def _location(uri: str, what: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/") if uri.startswith("s3://") else ("", "", "")
    if not bucket or not key:
        raise ManifestError(f"{what} location must be an s3://bucket/key URI")
    return bucket, key
