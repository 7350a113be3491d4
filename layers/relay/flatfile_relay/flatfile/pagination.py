"""Pages of the list endpoints, and checks of their envelope.

Flatfile lists share one envelope, `{"pagination": {"totalCount": N, ...}, "data": [...]}`; only `data` and
`totalCount` are relied on (the other pagination fields are hints). The server may return fewer items than
asked, so paging advances by what actually came back.

Example:
    >>> parse_envelope({"pagination": {"totalCount": 1}, "data": [{"id": "a"}]}, "GET /rest/batches")
    ([{'id': 'a'}], 1)
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from flatfile_relay.checks import whole_number
from flatfile_relay.flatfile.errors import ContractError
from flatfile_relay.json_types import json_type
from flatfile_relay.timestamps import parse_timestamp_or_none

__all__ = ["RowPage", "batch_created_at", "parse_envelope", "split_list_answer"]


def batch_created_at(batch: Mapping[str, Any]) -> datetime | None:
    """A listed batch's `createdAt`; None when it is missing or unreadable.

    Example:
        >>> batch_created_at({"createdAt": "2021-03-01T20:22:52.000Z"}).year, batch_created_at({}) is None
        (2021, True)
    """
    return parse_timestamp_or_none(batch.get("createdAt"))


@dataclass(frozen=True)
class RowPage:
    """One page of `GET /rest/batch/{id}/rows`.

    Attributes:
        rows: the rows, in the order the server returned them.
        skip: the offset of the first row.
        next_skip: the offset to ask for next (`skip + len(rows)`): a checkpoint to resume from.
        total_count: `totalCount` as this page reported it.
        texts: each row's JSON text exactly as the server sent it (same order as `rows`; numbers keep every
            digit), or None when the answer could not be split that way.
    """

    rows: list[dict[str, Any]]
    skip: int
    next_skip: int
    total_count: int
    texts: list[str] | None = None

    @property
    def last(self) -> bool:
        """True if no page follows this one."""
        return not self.rows or self.next_skip >= self.total_count


def parse_envelope(body: Any, what: str) -> tuple[list[Any], int]:
    """`(data, totalCount)` of a list envelope; ContractError if either is missing or of the wrong type.

    A `totalCount` at the top level is accepted when `pagination` is absent.
    """
    if not isinstance(body, dict):
        raise ContractError(f"Flatfile answered {what} with a JSON {json_type(body)} instead of a list envelope.")
    data = body.get("data")
    if not isinstance(data, list):
        raise ContractError(f"Flatfile answered {what} without a `data` list (got a JSON {json_type(data)}).")
    pagination = body.get("pagination")
    source = pagination if isinstance(pagination, dict) else body
    total = whole_number(source.get("totalCount"), f"`pagination.totalCount` of Flatfile's answer to {what}",
                         low=0, error=ContractError)
    return data, total


#: json's own scanner (C): the value starting at an index, and the index after it; StopIteration if none
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_WHITESPACE = " \t\n\r"
_SPACE = re.compile(r"[ \t\n\r]*")
#: `_SPACE.match`, which always matches (possibly nothing)
_space: Callable[[str, int], re.Match[str]] = cast("Callable[[str, int], re.Match[str]]", _SPACE.match)


def split_list_answer(content: bytes, path: tuple[str, ...] = ("data",), *,
                      decoder: json.JSONDecoder | None = None) -> tuple[Any, list[str] | None]:
    """The JSON value of a list answer, and the text of each item of the list at `path` (by default the top-level
    `data`; the Platform's records sit at `("data", "records")`), decoded by `decoder` (default: `json`'s own;
    one with a `parse_float` of its own sees every float's text).

    The texts are slices of the answer itself (decoded once, not re-encoded), so a number keeps all its
    digits, even beyond what a float holds. When the answer is JSON but holds no list at `path` (or is not
    UTF-8), the texts are None. ValueError when the answer is not JSON.

    Example:
        >>> split_list_answer(b'{"data": [{"n": 1.000000000000000000001}, {"n": 1e400}], "totalCount": 2}')[1]
        ['{"n": 1.000000000000000000001}', '{"n": 1e400}']
        >>> split_list_answer(b'{"data": {"records": [{"v": 0.10000000000000000001}]}}', ("data", "records"))[1]
        ['{"v": 0.10000000000000000001}']
    """
    if not path:
        raise ValueError("path must name at least one key")
    scan = _scan if decoder is None else json.scanner.make_scanner(decoder)  # type: ignore[arg-type]
    try:
        text = content.decode("utf-8")
        at = _space(text, 0).end()
        body, texts, at = _split_object(text, at, path, scan)
        if _space(text, at).end() != len(text):
            raise ValueError("extra data")
        return body, texts
    except (UnicodeDecodeError, ValueError, StopIteration, IndexError):
        if decoder is None:
            return json.loads(content), None
        return decoder.decode(content.decode(json.detect_encoding(content), "surrogatepass")), None


def _split_object(text: str, at: int, path: tuple[str, ...], scan: Callable[[str, int], tuple[Any, int]] = _scan
                  ) -> tuple[dict[str, Any], list[str] | None, int]:
    """The object starting at `text[at]`, the item texts of the list at `path` inside it (None when there is no
    such list), and the index after the object's `}`."""
    space = _space
    if text[at] != "{":
        raise ValueError("not an object")
    body: dict[str, Any] = {}
    texts: list[str] | None = None
    at = space(text, at + 1).end()
    closed = text[at] == "}"
    at += closed
    while not closed:
        if text[at] != '"':
            raise ValueError("expected a key")
        key, at = scan(text, at)
        at = space(text, at).end()
        if text[at] != ":":
            raise ValueError("expected ':'")
        at = space(text, at + 1).end()
        if key == path[0] and len(path) == 1 and text[at] == "[":
            body[key], texts, at = _split_list(text, at, scan)
        elif key == path[0] and len(path) > 1 and text[at] == "{":
            body[key], texts, at = _split_object(text, at, path[1:], scan)
        else:
            body[key], at = scan(text, at)
        at = space(text, at).end()
        if text[at] not in ",}":
            raise ValueError("expected ',' or '}'")
        closed = text[at] == "}"
        at = space(text, at + 1).end() if not closed else at + 1
    return body, texts, at


def _split_list(text: str, at: int, scan: Callable[[str, int], tuple[Any, int]] = _scan
                ) -> tuple[list[Any], list[str], int]:
    """The items of the list starting at `text[at]` (a `[`), their texts, and the index after the `]`."""
    items: list[Any] = []
    texts: list[str] = []
    at = _space(text, at + 1).end()
    if text[at] == "]":
        return items, texts, at + 1
    while True:
        start = at
        item, at = scan(text, at)
        items.append(item)
        texts.append(text[start:at])
        char = text[at]
        if char in _WHITESPACE:  # compact answers have none: no regular expression per row then
            at = _space(text, at).end()
            char = text[at]
        if char == "]":
            return items, texts, at + 1
        if char != ",":
            raise ValueError("expected ',' or ']'")
        at += 1
        if text[at] in _WHITESPACE:
            at = _space(text, at).end()


__all__ = ["RowPage", "batch_created_at", "parse_envelope", "split_list_answer"]
