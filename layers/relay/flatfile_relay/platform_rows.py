"""A Flatfile Platform record as a row line (architecture.md item 10): the record as the API returned it, plus
`batchId` (the job id), `sheet` (the sheet's slug), `sheetId` and `mapped` (field key → the cell's `value`).

Fast and exact: the record's own JSON text is kept and the four fields are spliced in before its closing brace
(nothing of the record is encoded again); `mapped` is encoded (by `json`'s C encoder) from the record as read with
`flatfile_relay.platform.records.EXACT_DECODER`, whose numbers are either Python numbers that write back as the
same text or marked strings holding that text, and the marks are then replaced by it: a number no float holds
keeps every digit, in the record and in `mapped`.
A record that already holds one of the four fields, or a string holding U+0000 (which a mark could be mistaken
for), takes the slow path: decoded again and encoded whole, numbers still as their text.

Example:
    >>> from flatfile_relay.platform.records import EXACT_DECODER
    >>> text = '{"id":"us_rc_1","values":{"n":{"value":0.1000000000000000000001,"valid":true}},"valid":true}'
    >>> record = EXACT_DECODER.decode(text)
    >>> [line] = row_lines([record], [text], sheet_tail("us_jb_1", "orders", "us_sh_1"))
    >>> line[len(text) - 1:]
    ',"batchId":"us_jb_1","sheet":"orders","sheetId":"us_sh_1","mapped":{"n":0.1000000000000000000001}}'
"""

from __future__ import annotations

import json
import json.encoder
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flatfile_relay.platform.records import NUMBER_MARK

__all__ = ["ADDED_FIELDS", "row_lines", "sheet_tail"]

#: the fields a row line adds to the record, in this order
ADDED_FIELDS = ("batchId", "sheet", "sheetId", "mapped")
_ADDED = frozenset(ADDED_FIELDS)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _fast_encoder() -> Callable[[Any], str]:
    """`_encode` of the JSON types without the Python layers of `json.JSONEncoder.encode` (a third of its time):
    `json`'s C encoder when this Python has it."""
    make = getattr(json.encoder, "c_make_encoder", None)
    basestring = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or basestring is None:  # pragma: no cover - CPython has both
        return _encode
    encoder = make(None, None, basestring, None, ":", ",", False, False, True)
    return lambda value: "".join(encoder(value, 0))


_encode_mapped = _fast_encoder()
#: a marked float as `_encode` writes it: the mark is U+0000, which JSON escapes
_ESCAPED_MARK = json.dumps(NUMBER_MARK)[1:-1]
_MARKED = re.compile('"' + re.escape(_ESCAPED_MARK) + r'([^"\\]*)"')


def sheet_tail(job_id: str, sheet_slug: str, sheet_id: str) -> str:
    """What every row line of a sheet adds before `mapped`'s value (see `row_lines`).

    Example:
        >>> sheet_tail("us_jb_1", "orders", "us_sh_1")
        ',"batchId":"us_jb_1","sheet":"orders","sheetId":"us_sh_1","mapped":'
    """
    return f',"batchId":{_encode(job_id)},"sheet":{_encode(sheet_slug)},"sheetId":{_encode(sheet_id)},"mapped":'


def row_lines(records: Sequence[Mapping[str, Any]], texts: Sequence[str] | None, tail: str) -> list[str]:
    """The row line of each record (read with `EXACT_DECODER`), from its JSON text when given (`texts`, as the API
    sent it), with `tail` (`sheet_tail`) and `mapped` spliced in."""
    lines: list[str] = []
    append = lines.append
    for index, record in enumerate(records):
        text = texts[index] if texts is not None else None
        try:
            mapped = _encode_mapped({key: cell.get("value") for key, cell in record["values"].items()})
        except AttributeError:  # a cell that is not an object
            append(_slow_line(record, text, tail))
            continue
        if _ESCAPED_MARK in mapped:
            mapped = _MARKED.sub(r"\1", mapped)
        if text is None or _ESCAPED_MARK in text or not _ADDED.isdisjoint(record):
            append(_slow_line(record, text, tail))
        else:
            append(f"{text[:-1]}{tail}{mapped}}}")
    return lines


class _Number(str):
    """A float's JSON text, as the slow path's decoder reads it (written back as it came)."""


_TEXT_DECODER = json.JSONDecoder(parse_float=_Number)


def _slow_line(record: Mapping[str, Any], text: str | None, tail: str) -> str:
    """The row line of a record the fast path cannot splice, every number written as it came."""
    whole: Any = _TEXT_DECODER.decode(text) if text is not None else _unmarked(record)
    values = whole.get("values")
    cells = values.items() if isinstance(values, dict) else ()
    mapped = {key: cell.get("value") if isinstance(cell, dict) else None for key, cell in cells}
    kept = _exact({key: value for key, value in whole.items() if key not in _ADDED})  # never empty: it has an id
    return f"{kept[:-1]}{tail}{_exact(mapped)}}}"


def _unmarked(value: Any) -> Any:
    """A record read with `EXACT_DECODER`, its marked floats as `_Number` (strings holding U+0000 are taken for
    marks only when what follows the mark is a JSON number)."""
    if isinstance(value, str) and value.startswith(NUMBER_MARK) and _is_number(value[1:]):
        return _Number(value[1:])
    if isinstance(value, dict):
        return {key: _unmarked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unmarked(item) for item in value]
    return value


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def _exact(value: Any) -> str:
    """Compact JSON of `value`, every `_Number` written as its own text."""
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_encode(str(key))}:{_exact(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_exact(item) for item in value) + "]"
    return _encode(value)
