"""Text from end users made safe to show and bounded in size: the `filename` and `customer` the relay copies.

A file name and an end user's details are whatever someone typed or uploaded. Before the relay repeats them in
a manifest, a notice and an event:

- `clean_text` replaces every character that can hurt whoever prints or splits the text with U+FFFD:
  control characters (NUL, ESC, ... C0 and C1), lone surrogates (not UTF-8), U+2028 and U+2029 (line breaks
  to JavaScript and to some line splitters), and the invisible bidirectional controls that reorder what a
  reader sees;
- `bound_text` and `bound_customer` also cut what is too long for a message: SQS takes 256 KiB, EventBridge
  256 KB, and the ledger keeps the notice in an item of at most 400 KB. A cut value ends with `TRUNCATED`,
  and the manifest keeps the whole value (`batch`, as Flatfile sent it, and its own cleaned copy).

Cleaning and bounding give the same result when applied twice, so a document read back is unchanged.

Example:
    >>> clean_text("report\\x00\\x1b[31m.csv\\u2028")
    'report\\ufffd\\ufffd[31m.csv\\ufffd'
    >>> bound_text("x" * 5000)[-35:]
    'xxxx… [truncated: see the manifest]'
    >>> len(bound_text("x" * 5000)) == MAX_TEXT_CHARS
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_CUSTOMER_BYTES", "MAX_TEXT_CHARS", "TRUNCATED", "TRUNCATED_KEY", "bound_customer", "bound_text",
    "clean_customer", "clean_text",
]

MAX_TEXT_CHARS = 1024
"""Longest text a notice repeats (a file name, each of an end user's details): at most 4 KiB of UTF-8."""
MAX_CUSTOMER_BYTES = 8 * 1024
"""Largest end user a notice repeats, as JSON."""
MAX_DEPTH = 4
"""Nesting kept inside an end user's details (a deeper value becomes `TRUNCATED`)."""
MAX_FIELDS = 100
"""Fields of an end user's details a notice repeats at most."""
TRUNCATED = "… [truncated: see the manifest]"
"""The end of a cut text; the manifest holds the whole value."""
TRUNCATED_KEY = "truncated"
"""Added to an end user whose details did not all fit (`true`); the manifest holds them all."""
REPLACEMENT = "\ufffd"

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0 and C1 control characters (NUL, ESC, line breaks, tabs, ...) and DEL
    "\u2028\u2029"  # line and paragraph separators
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks, embeddings, overrides, isolates
    "\ud800-\udfff]"  # lone surrogates
)
_FIRST = ("id", "userId", "name", "email", "companyId", "companyName")


def clean_text(value: str) -> str:
    """`value` with each unsafe character replaced by U+FFFD (see the module docs); nothing is dropped.

    Example:
        >>> clean_text("Zoë\\u202eexe.txt")
        'Zoë\\ufffdexe.txt'
    """
    return _UNSAFE.sub(REPLACEMENT, value)


def bound_text(value: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`clean_text(value)`, cut to `limit` characters (ending in `TRUNCATED`) when longer."""
    text = clean_text(value)
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def clean_customer(customer: Mapping[str, Any]) -> dict[str, Any]:
    """An end user's details with every text cleaned (keys too), at any depth; nothing is cut.

    Example:
        >>> clean_customer({"name": "Ann\\x1b", "tags": ["a\\u2028b"], "teamId": 7})
        {'name': 'Ann\\ufffd', 'tags': ['a\\ufffdb'], 'teamId': 7}
    """
    cleaned = _walk(customer, clean_text, depth=None)
    return cleaned if isinstance(cleaned, dict) else {}


def bound_customer(customer: Mapping[str, Any], budget: int = MAX_CUSTOMER_BYTES) -> dict[str, Any]:
    """An end user's details cleaned, each text bounded (`bound_text`), nested at most `MAX_DEPTH` deep, and
    at most `budget` bytes of JSON: fields that do not fit are left out (the usual ones, ``id``, ``userId``,
    ``name``, ``email``, ``companyId``, ``companyName``, are kept first) and `TRUNCATED_KEY` is set.

    Example:
        >>> bound_customer({"id": "u-1", "note": "n" * 9000}, budget=200)
        {'id': 'u-1', 'truncated': True}
    """
    bounded = _walk(customer, bound_text, depth=0)
    fields: dict[str, Any] = bounded if isinstance(bounded, dict) else {}
    if _size(fields) <= budget:
        return fields
    kept: dict[str, Any] = {}
    order = sorted(fields, key=lambda name: (name not in _FIRST, _FIRST.index(name) if name in _FIRST else 0))
    for key in order[:MAX_FIELDS]:
        if key != TRUNCATED_KEY and _size({**kept, key: fields[key], TRUNCATED_KEY: True}) <= budget:
            kept[key] = fields[key]
    kept[TRUNCATED_KEY] = True
    return kept


def _walk(value: Any, text: Any, depth: int | None) -> Any:
    """`value` with `text(s)` applied to every string (keys included); below `MAX_DEPTH` when `depth` counts."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping | list):
        if depth is not None and depth >= MAX_DEPTH:
            return TRUNCATED
        inner = None if depth is None else depth + 1
        if isinstance(value, Mapping):
            return {text(str(key)): _walk(item, text, inner) for key, item in value.items()}
        return [_walk(item, text, inner) for item in value]
    return value


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
