"""The relay's JSON documents as pydantic models, and one way to parse them.

Export jobs, manifests, notices and webhook bodies subclass `Document`: Python names in snake case, JSON
names in camel case (``batch_id`` is ``batchId``). `parse_json` checks a document against its model with
pydantic's own `model_validate` (Powertools' Parser would only wrap it, and its package imports every
envelope model Powertools has). Its error names every bad field and never quotes a value (pydantic's own
text would show ``input_value=...``, which may be a secret), and chains nothing that could.

Example:
    >>> class Part(Document):
    ...     row_count: Count
    >>> parse_json(Part, '{"rowCount": 2}').row_count
    2
    >>> parse_json(Part, '{"rowCount": "s3cr3t"}', "part")
    Traceback (most recent call last):
    ...
    flatfile_relay.models.InvalidDocumentError: part.rowCount must be a whole number
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError
from pydantic.alias_generators import to_camel

from flatfile_relay.errors import ContractError

__all__ = [
    "MAX_PROBLEMS",
    "SCHEMA_VERSION",
    "TRIGGERS",
    "Count",
    "Document",
    "InvalidDocumentError",
    "SchemaVersion",
    "Text",
    "Trigger",
    "describe_problems",
    "parse_json",
]

M = TypeVar("M", bound="Document")

#: how many bad fields one error message lists at most
MAX_PROBLEMS = 5

Count = Annotated[int, Strict(), Field(ge=0)]
"""A whole number of 0 or more (JSON ``true`` and ``"3"`` are not numbers)."""

Text = Annotated[str, Field(min_length=1)]
"""A non-empty string."""

SCHEMA_VERSION = 1

Trigger = Literal["schedule", "webhook", "replay", "backfill"]
"""What asked for an export (an export job's, a manifest's and a notice's ``trigger``)."""
TRIGGERS: tuple[str, ...] = get_args(Trigger)


def _supported_version(value: int) -> int:
    if value != SCHEMA_VERSION:
        raise ValueError(f"is {value}: this reader understands schemaVersion {SCHEMA_VERSION} only")
    return value


SchemaVersion = Annotated[int, Strict(), AfterValidator(_supported_version)]
"""The ``schemaVersion`` of a document this code writes and reads."""


class Document(BaseModel):
    """A JSON document of the relay: immutable, camelCase in JSON, unknown fields ignored; its validator is built
    on first use, not when its module is imported (a cold start imports every model it might need)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)

    def to_dict(self) -> dict[str, Any]:
        """The document as JSON names and values, in field order."""
        return self.model_dump(by_alias=True)


class InvalidDocumentError(ContractError, ValueError):
    """A document that does not fit its model; `fields` names the bad ones (e.g. ``parts[0].sha256``)."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


def parse_json(model: type[M], text: str | bytes, what: str = "document") -> M:
    """Parse UTF-8 JSON `text` into `model`; `what` names the document in errors.

    Raises:
        InvalidDocumentError: not UTF-8, not JSON (``NaN`` and ``Infinity`` are not JSON), or not the model.
    """
    try:
        data = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text, parse_constant=_not_json)
    except UnicodeDecodeError:
        raise InvalidDocumentError(f"{what} is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise InvalidDocumentError(f"{what} is not valid JSON (line {error.lineno}, column {error.colno})") from None
    except (ValueError, TypeError, RecursionError):
        raise InvalidDocumentError(f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidDocumentError(f"{what} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        problems = describe_problems(invalid)
    shown = [f"{what}{path or ':'} {wording}" for path, wording in problems[:MAX_PROBLEMS]]
    more = len(problems) - len(shown)
    message = "; ".join(shown) + (f"; and {more} more" if more else "")
    raise InvalidDocumentError(message, tuple(path.lstrip(".") for path, _ in problems))


def describe_problems(invalid: ValidationError, skip: int = 0) -> list[tuple[str, str]]:
    """`(path, what is wrong)` for each of pydantic's errors, never quoting a value; `skip` drops leading
    location parts (a discriminated union's tag). Paths look like ``.parts[0].sha256``."""
    return [(_path(error["loc"][skip:]), _wording(error["type"], error["msg"])) for error in invalid.errors()]


_PHRASES = {
    "missing": "is missing",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "string_too_short": "must be a non-empty string",
    "extra_forbidden": "unknown field (check its spelling)",
}


def _wording(kind: str, message: str) -> str:
    """What is wrong, from pydantic's error type or message (neither holds the input value)."""
    if kind in _PHRASES:
        return _PHRASES[kind]
    if message.startswith("Value error, "):  # raised by our own validators
        return message.removeprefix("Value error, ")
    return re.sub(r"^(Input|String) should", "must", message)


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
