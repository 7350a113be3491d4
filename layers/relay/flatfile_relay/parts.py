"""Gzip JSON Lines parts, written to a spooled temporary file with their size and sha256.

One row per line: the row's JSON text as Flatfile sent it when given (so every number keeps its digits, and
nothing is encoded twice), else compact UTF-8 JSON. Every line is strict JSON: ``NaN``, ``Infinity`` and
``-Infinity``, which Python's parser (and so the relay) accepts from the API but JSON does not have, are written
as ``null``, and the row gets a `NON_FINITE_FIELD` that maps each such value's JSON pointer to its original
text (``{"nonFinite": {"/mapped/price": "NaN"}}``); the part counts those rows (`FinishedPart.non_finite_rows`).
The gzip stream is deterministic (no file name, mtime 0), so the same rows always give the same bytes, the same
sha256 and, on a rerun, an identical object. The writer keeps at most `spool_size` bytes of compressed output in
memory (then it spills to a temporary file) and never holds the rows: callers feed it a page at a time.

Example:
    >>> import gzip
    >>> with PartWriter() as writer:
    ...     writer.write_rows([{"id": "1", "mapped": {"sku": "A-1"}}, {"id": "2", "mapped": {}}])
    ...     part = writer.finish()
    ...     first_line = gzip.decompress(part.file.read()).decode().splitlines()[0]
    >>> part.rows, len(part.sha256), first_line
    (2, 64, '{"id":"1","mapped":{"sku":"A-1"}}')
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from flatfile_relay.errors import ContractError

__all__ = [
    "COMPRESS_LEVEL",
    "CONTENT_TYPE",
    "NON_FINITE_FIELD",
    "SPOOL_SIZE",
    "FinishedPart",
    "PartWriter",
    "RowEncodingError",
    "encode_row",
    "encode_texts",
    "finite_row",
    "finite_text",
]

SPOOL_SIZE = 16 * 1024 * 1024
#: gzip level 1: with `make bench`'s rows, about twice as fast as level 6 for parts about 15% larger
COMPRESS_LEVEL = 1
CONTENT_TYPE = "application/gzip"


NON_FINITE_FIELD = "nonFinite"
"""The field a row line gets when it held NaN or ±Infinity: JSON pointer of each such value -> its original text."""


class RowEncodingError(ContractError, ValueError):
    """A row cannot be written as strict JSON without losing something (it already has `NON_FINITE_FIELD`)."""


def encode_row(row: Mapping[str, Any]) -> bytes:
    """One JSON Lines line (UTF-8, ending in `\\n`) holding the same JSON value as `row`.

    U+2028 and U+2029 are escaped (some line splitters treat them as line breaks); a string holding a lone
    surrogate, which UTF-8 cannot carry, falls back to ASCII escapes for that row. A non-finite number
    becomes ``null`` (see `finite_row`).

    Example:
        >>> encode_row({"note": "line\\nbreak", "emoji": "🧪"})
        b'{"note":"line\\\\nbreak","emoji":"\\xf0\\x9f\\xa7\\xaa"}\\n'
    """
    return _encode_row(row)[0]


def _encode_row(row: Mapping[str, Any]) -> tuple[bytes, bool]:
    """`encode_row`, and whether the row held a non-finite number."""
    try:
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        flagged = False
    except ValueError:
        row, flagged = finite_row(row), True
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    try:
        return (text + "\n").encode("utf-8"), flagged
    except UnicodeEncodeError:
        return (json.dumps(row, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii"), flagged


def finite_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a row whose NaN and ±Infinity floats are None, with `NON_FINITE_FIELD` naming them.

    Example:
        >>> finite_row({"id": 1, "mapped": {"price": float("nan"), "qty": [1, float("-inf")]}})["nonFinite"]
        {'/mapped/price': 'NaN', '/mapped/qty/1': '-Infinity'}
    """
    found: dict[str, str] = {}

    def walk(value: Any, pointer: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            found[pointer] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            return None
        if isinstance(value, Mapping):
            return {key: walk(item, f"{pointer}/{_escape(str(key))}") for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item, f"{pointer}/{index}") for index, item in enumerate(value)]
        return value

    return _flag(walk(row, ""), found)


def finite_text(text: str) -> tuple[str, bool]:
    """A row's JSON text with each ``NaN``, ``Infinity`` and ``-Infinity`` token (outside strings) replaced by
    ``null`` and `NON_FINITE_FIELD` appended; every other character is kept. `(text, False)` when it has none.

    Example:
        >>> finite_text('{"id": 7, "mapped": {"price": NaN, "name": "NaN Infinity"}}')
        ('{"id": 7, "mapped": {"price": null, "name": "NaN Infinity"},"nonFinite":{"/mapped/price":"NaN"}}', True)
    """
    if "NaN" not in text and "Infinity" not in text:  # the usual case: a substring test, no parsing
        return text, False
    replaced = _NON_FINITE.sub(lambda match: match[0] if match[1] is None else "null", text)
    if replaced == text:  # the words were inside strings
        return text, False
    found: dict[str, str] = {}
    value = json.loads(text, parse_constant=_Constant)
    _pointers(value, "", found)
    if not isinstance(value, dict):
        raise RowEncodingError("a row must be a JSON object")
    _flag(value, found)  # checks for a clash with NON_FINITE_FIELD
    body = replaced.rstrip()
    return f"{body[:-1]},{json.dumps(NON_FINITE_FIELD)}:{json.dumps(found, separators=(',', ':'))}}}", True


def _finite_texts(texts: Sequence[str]) -> tuple[Sequence[str], int]:
    """`finite_text` of each text, and how many changed (one substring test per page when none can)."""
    joined = "".join(texts)
    if "NaN" not in joined and "Infinity" not in joined:
        return texts, 0
    checked = [finite_text(text) for text in texts]
    return [text for text, _ in checked], sum(1 for _, changed in checked if changed)


#: a JSON string (skipped whole), or a non-finite number token (group 1)
_NON_FINITE = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


class _Constant(str):
    """A NaN / Infinity / -Infinity token as `json.loads` met it (its `parse_constant`), text kept."""


def _pointers(value: Any, pointer: str, found: dict[str, str]) -> None:
    if isinstance(value, _Constant):
        found[pointer] = str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _pointers(item, f"{pointer}/{_escape(key)}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _pointers(item, f"{pointer}/{index}", found)


def _flag(row: Any, found: dict[str, str]) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise RowEncodingError("a row must be a JSON object")
    if NON_FINITE_FIELD in row:
        raise RowEncodingError(
            f"a row holds NaN or Infinity, which JSON lacks, and already has a {NON_FINITE_FIELD!r} field, where "
            "the relay would keep their original text; the export stops rather than lose either"
        )
    return {**row, NON_FINITE_FIELD: found} if found else row


def _escape(key: str) -> str:
    """A JSON pointer's reference token (RFC 6901): ``~`` as ``~0``, ``/`` as ``~1``."""
    return key.replace("~", "~0").replace("/", "~1")


def encode_texts(texts: Sequence[str]) -> bytes:
    """JSON Lines (UTF-8) of rows given as their JSON texts, one line each, every character kept.

    Line breaks between tokens are dropped (JSON allows none inside a string); U+2028 and U+2029 are escaped.

    Example:
        >>> encode_texts(['{"n": 12345678901234567890123}', '{\\n "x": 1e400\\n}'])
        b'{"n": 12345678901234567890123}\\n{ "x": 1e400}\\n'
    """
    if not texts:
        return b""
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1 or any(char in joined for char in _UNSAFE):
        joined = "\n".join(_one_line(text) for text in texts)
    return (joined + "\n").encode("utf-8")


_UNSAFE = ("\r", "\u2028", "\u2029")


def _one_line(text: str) -> str:
    text = text.replace("\r", "").replace("\n", "")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@dataclass(frozen=True)
class FinishedPart:
    """A complete gzip part: `file` is positioned at its start; `size`/`sha256` are of the gzip bytes."""

    file: IO[bytes]
    rows: int
    size: int
    digest: bytes
    non_finite_rows: int = 0

    @property
    def sha256(self) -> str:
        """Lowercase hex sha256 of the gzip bytes (the manifest's `sha256`)."""
        return self.digest.hex()

    @property
    def sha256_base64(self) -> str:
        """Base64 sha256 of the gzip bytes (S3's `ChecksumSHA256`)."""
        return base64.b64encode(self.digest).decode("ascii")


class _HashingSink:
    """A write-only file object that hashes and counts what passes through to `target`."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.hash.update(chunk)
        self.size += len(chunk)
        self._target.write(chunk)
        return len(chunk)

    def flush(self) -> None:
        self._target.flush()


class PartWriter:
    """Writes rows into one gzip JSON Lines part. Use once: `write_rows`…, then `finish`, then `close`."""

    def __init__(self, *, spool_size: int = SPOOL_SIZE, compresslevel: int = COMPRESS_LEVEL) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=spool_size)  # noqa: SIM115 - closed by close()
        self._sink = _HashingSink(self._file)
        self._gzip: gzip.GzipFile | None = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._sink, compresslevel=compresslevel, mtime=0
        )
        self.rows = 0
        self.non_finite_rows = 0

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row."""
        self.write_rows((row,))

    def write_rows(self, rows: Iterable[Mapping[str, Any]], texts: Sequence[str] | None = None) -> None:
        """Append rows (a page at a time is the intended use); `texts`, when given, are their JSON texts."""
        if self._gzip is None:
            raise RuntimeError("this part is finished; start a new PartWriter")
        if texts is not None:
            texts, flagged = _finite_texts(texts)
            data, count = encode_texts(texts), len(texts)
        else:
            lines = [_encode_row(row) for row in rows]
            data, count = b"".join(line for line, _ in lines), len(lines)
            flagged = sum(1 for _, changed in lines if changed)
        self.non_finite_rows += flagged
        if count:
            self._gzip.write(data)
            self.rows += count

    def finish(self) -> FinishedPart:
        """Close the gzip stream and return the part, its file rewound for upload."""
        if self._gzip is None:
            raise RuntimeError("this part is already finished")
        self._gzip.close()
        self._gzip = None
        self._file.flush()
        self._file.seek(0)
        return FinishedPart(
            file=self._file, rows=self.rows, size=self._sink.size, digest=self._sink.hash.digest(),
            non_finite_rows=self.non_finite_rows,
        )

    def close(self) -> None:
        """Discard the temporary file (memory or disk)."""
        gz, self._gzip = self._gzip, None
        try:
            if gz is not None:
                gz.close()
        finally:
            self._file.close()

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
