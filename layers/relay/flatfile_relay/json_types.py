"""The JSON name of a value's type, for error messages that say what was found instead of what was expected.

Example:
    >>> [json_type(value) for value in ({}, [], "a", True, 1, 1.5, None)]
    ['object', 'array', 'string', 'boolean', 'number', 'number', 'null']
"""

from __future__ import annotations

from typing import Any

__all__ = ["json_type"]

_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def json_type(value: Any) -> str:
    """`object`, `array`, `string`, `boolean`, `number` or `null`; the Python type name for anything else."""
    return "null" if value is None else _NAMES.get(type(value), type(value).__name__)
