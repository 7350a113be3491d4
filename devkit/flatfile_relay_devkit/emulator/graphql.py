"""A tiny executor for the two GraphQL operations clients use: ``getBatch`` and ``getFinalDatabaseView``.

Not a GraphQL implementation: root fields are recognised by name in the query text, arguments may be
variables or literals, and a flat selection set picks the returned keys. Anything else is a GraphQL error.

Row ``status`` in ``getFinalDatabaseView``: ``dismissed`` for deleted rows, else ``accepted`` when valid,
else ``review``. Without a ``status`` argument every row is returned; ``totalRows`` counts the rows that
match the ``status`` filter.

Example:
    >>> from .store import State
    >>> state = State.with_samples(7)
    >>> query = "query($id: UUID!) { getBatch(batchId: $id) { id status } }"
    >>> execute(state, query, {"id": state.sample_id("in_progress")})["data"]["getBatch"]["status"] is None
    True
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from .store import State

__all__ = ["ROOT_FIELDS", "error", "execute", "first_root_field", "row_status"]

ROOT_FIELDS = ("getBatch", "getFinalDatabaseView")
ROW_STATUSES = ("review", "accepted", "dismissed")

_COMMENT = re.compile(r"#[^\n]*")
_HEADER = re.compile(r"^\s*(query|mutation|subscription)\b[^{]*", re.S)
_FIELD = re.compile(
    r"(?:\b(\w+)\s*:\s*)?\b(getBatch|getFinalDatabaseView)\b\s*(?:\(([^)]*)\))?\s*(?:\{([^{}]*)\})?"
)
_ARG = re.compile(r"(\w+)\s*:\s*(\$\w+|\"(?:[^\"\\]|\\.)*\"|-?\d+(?:\.\d+)?|\w+)")
_NAME = re.compile(r"[A-Za-z_]\w*")


class _GraphQLError(Exception):
    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def error(message: str, path: str | None = None, **extensions: Any) -> dict[str, Any]:
    """One entry of a response's ``errors`` list."""
    entry: dict[str, Any] = {"message": message, "locations": [{"line": 1, "column": 1}]}
    if path is not None:
        entry["path"] = [path]
    if extensions:
        entry["extensions"] = extensions
    return entry


def first_root_field(query: str) -> str | None:
    """The first known root field named in ``query`` (used to label auth errors)."""
    match = _FIELD.search(_COMMENT.sub("", query))
    return match.group(2) if match else None


def row_status(row: Mapping[str, Any]) -> str:
    """``dismissed`` (deleted), ``accepted`` (valid) or ``review`` (invalid)."""
    if row["deleted"]:
        return "dismissed"
    return "accepted" if row["valid"] else "review"


def _value(token: str, variables: Mapping[str, Any]) -> Any:
    if token.startswith("$"):
        return variables.get(token[1:])
    if token.startswith('"'):
        return json.loads(token)
    if token in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[token]
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if re.fullmatch(r"-?\d+\.\d+", token):
        return float(token)
    return token


def _int_arg(args: Mapping[str, Any], name: str, field: str, *, default: int | None = None) -> int:
    value = args.get(name)
    if value is None:
        value = default
    if value is None:
        raise _GraphQLError(f'Argument "{name}" of required type "Int!" was not provided.', field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _GraphQLError(f'Argument "{name}" must be a non-negative Int.', field)
    return value


def _batch_id(state: State, args: Mapping[str, Any], field: str) -> str | None:
    batch_id = args.get("batchId")
    if not isinstance(batch_id, str):
        raise _GraphQLError('Argument "batchId" of required type "UUID!" was not provided.', field)
    try:
        uuid.UUID(batch_id)
    except ValueError:
        message = f'Variable "batchId" got invalid value "{batch_id}"; expected a UUID.'
        raise _GraphQLError(message, field) from None
    return batch_id if state.has_batch(batch_id) else None


def _select(value: dict[str, Any], selection: list[str] | None, type_name: str, field: str) -> dict[str, Any]:
    if not selection:
        return value
    unknown = [name for name in selection if name not in value]
    if unknown:
        raise _GraphQLError(f'Cannot query field "{unknown[0]}" on type "{type_name}".', field)
    return {name: value[name] for name in selection}


def _get_batch(state: State, args: Mapping[str, Any], selection: list[str] | None) -> dict[str, Any] | None:
    batch_id = _batch_id(state, args, "getBatch")
    if batch_id is None:
        return None
    return _select(state.batch(batch_id), selection, "Batch", "getBatch")


def _final_view(state: State, args: Mapping[str, Any], selection: list[str] | None) -> dict[str, Any] | None:
    field = "getFinalDatabaseView"
    skip = _int_arg(args, "skip", field, default=0)
    limit = _int_arg(args, "limit", field)
    status = args.get("status")
    if status is not None and status not in ROW_STATUSES:
        raise _GraphQLError(f'Argument "status" must be one of {", ".join(ROW_STATUSES)}.', field)
    batch_id = _batch_id(state, args, field)
    if batch_id is None:
        return None
    rows = [row for row in state.rows(batch_id) if status is None or row_status(row) == status]
    view = [
        {
            "id": int(row["id"]),
            "valid": row["valid"],
            "status": row_status(row),
            "data": row["mapped"],
            "info": []
            if row["valid"]
            else [{"level": "error", "key": "email", "message": "Value is not a valid email address"}],
        }
        for row in rows[skip : skip + limit]
    ]
    return _select({"rows": view, "totalRows": len(rows)}, selection, "FinalDatabaseView", field)


_RESOLVERS = {"getBatch": _get_batch, "getFinalDatabaseView": _final_view}


def execute(state: State, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run ``query`` against ``state`` and return the response body (``data`` and maybe ``errors``)."""
    variables = variables or {}
    text = _COMMENT.sub("", query)
    header = _HEADER.match(text)
    if header and header.group(1) != "query":
        return {"data": None, "errors": [error(f"{header.group(1).capitalize()}s are not supported.")]}
    body = text[header.end() :] if header else text
    matches = list(_FIELD.finditer(body))
    if not matches:
        names = _NAME.findall(body)
        message = f'Cannot query field "{names[0] if names else ""}" on type "Query".'
        return {"data": None, "errors": [error(message)]}
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for match in matches:
        alias, name, arg_text, selection_text = match.groups()
        key = alias or name
        args = {m.group(1): _value(m.group(2), variables) for m in _ARG.finditer(arg_text or "")}
        selection = _NAME.findall(selection_text) if selection_text is not None else None
        try:
            data[key] = _RESOLVERS[name](state, args, selection)
        except _GraphQLError as exc:
            return {"data": None, "errors": [error(exc.message, exc.path)]}
        if data[key] is None:
            errors.append(error("Batch not found", key, code="NOT_FOUND"))
    return {"data": data, "errors": errors} if errors else {"data": data}
