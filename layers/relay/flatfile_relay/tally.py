"""What an export wrote, counted while its rows stream by: rows, valid, invalid, deleted, and per field how many
cells were filled, how many invalid, and the first distinct validation messages (`fieldStats`).

Memory stays constant whatever the row count: a tally holds a few numbers per field and at most
`MESSAGES_KEPT` messages of at most `MESSAGE_CHARS` characters each. A tally is kept in the ledger with each finished
part (`to_dict` / `from_dict`), so an export resumed in another invocation counts on from there.

Each source's rows have their own reader: a legacy row its `valid` and `deleted` flags and its `mapped` cells
(`Tally.add_legacy_rows`; the legacy rows endpoint flags no single cell, so a field's `invalid` is null unless rows
carry an `info` list of `{level, key, message}`), a Platform record its `valid` flag and, per cell, `value`,
`valid` and error `messages` (`Tally.add_records`). Both loops are kept plain: they run once per row and cell of
every export (`make bench`).

Example:
    >>> tally = Tally()
    >>> tally.add_legacy_rows([{"valid": False, "deleted": False, "mapped": {"sku": "A-1", "qty": ""}}])
    >>> tally.counts()
    {'rows': 1, 'valid': 0, 'invalid': 1, 'deleted': 0}
    >>> tally.field_stats()["qty"]
    {'filled': 0, 'invalid': None, 'messages': []}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BATCH",
    "MESSAGES_KEPT",
    "MESSAGE_CHARS",
    "Tally",
]

#: the group of a legacy batch's rows (a Platform sheet's rows are grouped by the sheet's slug)
BATCH = "*"
#: distinct validation messages kept per field
MESSAGES_KEPT = 3
#: a kept message is cut to this many characters
MESSAGE_CHARS = 200


@dataclass
class _Field:
    filled: int = 0
    invalid: int | None = None
    messages: list[str] = field(default_factory=list)

    def keep(self, message: str) -> None:
        """Keep a validation message when it is among the field's first distinct ones."""
        text = message[:MESSAGE_CHARS]
        if len(self.messages) < MESSAGES_KEPT and text not in self.messages:
            self.messages.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {"filled": self.filled, "invalid": self.invalid, "messages": list(self.messages)}


class Tally:
    """Running counts of the rows written (see the module docs); fields in the order they were first seen."""

    def __init__(self) -> None:
        self.rows = self.valid = self.invalid = self.deleted = 0
        self.fields: dict[str, _Field] = {}

    def _row(self, valid: Any, deleted: bool) -> None:
        self.rows += 1
        if deleted:
            self.deleted += 1
        elif valid is True:
            self.valid += 1
        elif valid is False:
            self.invalid += 1

    def _field(self, key: str, invalid: int | None) -> _Field:
        stats = self.fields[key] = _Field(invalid=invalid)
        return stats

    def add_legacy_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Count legacy rows: `valid`, `deleted`, `mapped` cells (errors only from an `info` list, when present)."""
        fields = self.fields
        for row in rows:
            self._row(row.get("valid"), row.get("deleted") is True)
            mapped = row.get("mapped")
            if isinstance(mapped, dict):
                for key, value in mapped.items():
                    stats = fields.get(key) or self._field(key, None)
                    if value is not None and (type(value) is not str or value.strip()):
                        stats.filled += 1
            info = row.get("info")
            if isinstance(info, list) and isinstance(mapped, dict):
                self._legacy_info(mapped, info)

    def _legacy_info(self, mapped: Mapping[str, Any], info: list[Any]) -> None:
        errors: dict[str, list[str]] = {}
        for item in info:
            if isinstance(item, dict) and item.get("level") == "error" and isinstance(item.get("key"), str):
                errors.setdefault(item["key"], []).append(str(item.get("message", "")))
        for key in mapped:
            stats = self.fields[key]
            stats.invalid = (stats.invalid or 0) + (1 if key in errors else 0)
            for message in errors.get(key, ()):
                stats.keep(message)

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count Platform records: `valid`, and per cell of `values` its `value`, `valid` and error `messages`."""
        fields = self.fields
        rows = valid_rows = invalid_rows = 0
        for record in records:
            rows += 1
            valid = record.get("valid")
            if valid is True:
                valid_rows += 1
            elif valid is False:
                invalid_rows += 1
            values = record.get("values")
            if not isinstance(values, dict):
                continue
            for key, cell in values.items():
                stats = fields.get(key) or self._field(key, 0)
                if not isinstance(cell, dict):
                    continue
                value = cell.get("value")
                if value is not None and (type(value) is not str or value.strip()):
                    stats.filled += 1
                if cell.get("valid") is False or cell.get("messages"):  # the usual cell: valid, no message
                    self._cell_messages(stats, cell)
        self.rows += rows
        self.valid += valid_rows
        self.invalid += invalid_rows

    @staticmethod
    def _cell_messages(stats: _Field, cell: Mapping[str, Any]) -> None:
        """A cell flagged invalid or with messages: counted invalid when it is (its flag, else an error message),
        and its error messages kept."""
        messages = cell.get("messages")
        errors = [m for m in messages if isinstance(m, dict) and m.get("type", "error") == "error"] \
            if isinstance(messages, list) else []
        if cell.get("valid") is False or (errors and cell.get("valid") is not True):
            stats.invalid = (stats.invalid or 0) + 1
        for message in errors:
            stats.keep(str(message.get("message", "")))

    def counts(self) -> dict[str, int]:
        """`{"rows", "valid", "invalid", "deleted"}`: valid and invalid count rows not deleted."""
        return {"rows": self.rows, "valid": self.valid, "invalid": self.invalid, "deleted": self.deleted}

    def field_stats(self) -> dict[str, dict[str, Any]]:
        """Per field key: `{"filled", "invalid", "messages"}` (`invalid` None when the source flags no cell)."""
        return {key: stats.to_dict() for key, stats in self.fields.items()}

    def to_dict(self) -> dict[str, Any]:
        """The tally as the ledger keeps it."""
        return {**self.counts(), "fields": self.field_stats()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        """A tally back from `to_dict` (ValueError when it is not one)."""
        tally = cls()
        try:
            tally.rows, tally.valid, tally.invalid, tally.deleted = (
                int(data[name]) for name in ("rows", "valid", "invalid", "deleted"))
            for key, stats in dict(data.get("fields") or {}).items():
                invalid = stats.get("invalid")
                tally.fields[str(key)] = _Field(int(stats["filled"]), None if invalid is None else int(invalid),
                                                [str(m) for m in stats.get("messages") or ()][:MESSAGES_KEPT])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a tally: {type(error).__name__}") from None
        return tally
