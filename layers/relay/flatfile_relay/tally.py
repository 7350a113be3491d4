"""What an export wrote, counted while its rows stream by: rows, valid, invalid, deleted, and per field how many
cells were filled, how many invalid, and the first distinct validation messages (`fieldStats`).

Memory stays constant whatever the row count: a tally holds a few numbers per field and at most
`MESSAGES_KEPT` messages of at most `MESSAGE_CHARS` characters each. A tally is kept in the ledger with each finished
part (`to_dict` / `from_dict`), so an export resumed in another invocation counts on from there.

Each source says what a row holds (`RowFacts`): a legacy row its `valid` and `deleted` flags and its `mapped`
cells (`legacy_facts`; the legacy rows endpoint flags no single cell, so a field's `invalid` is null unless rows
carry an `info` list of `{level, key, message}`), a Platform record its `valid` flag and, per cell, `value`,
`valid` and `messages` (`record_facts`).

Example:
    >>> tally = Tally()
    >>> tally.add(legacy_facts({"valid": False, "deleted": False, "mapped": {"sku": "A-1", "qty": ""}}))
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
    "CellFacts",
    "RowFacts",
    "Tally",
    "legacy_facts",
    "record_facts",
]

#: the group of a legacy batch's rows (a Platform sheet's rows are grouped by the sheet's slug)
BATCH = "*"
#: distinct validation messages kept per field
MESSAGES_KEPT = 3
#: a kept message is cut to this many characters
MESSAGE_CHARS = 200


@dataclass(frozen=True)
class CellFacts:
    """One cell: its field key, whether it holds a value, whether it is invalid (None: the source does not say),
    and its validation messages."""

    key: str
    filled: bool
    invalid: bool | None = None
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowFacts:
    """One row: its validity (None: not flagged), whether it is deleted, and its cells."""

    valid: bool | None
    deleted: bool = False
    cells: tuple[CellFacts, ...] = ()


def _filled(value: Any) -> bool:
    """A cell holds a value: not null, not an empty or blank string."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def legacy_facts(row: Mapping[str, Any]) -> RowFacts:
    """The facts of a legacy row (`mapped` cells; per-cell errors only from an `info` list, when rows carry one)."""
    mapped = row.get("mapped")
    info = row.get("info")
    errors: dict[str, list[str]] | None = None
    if isinstance(info, list):
        errors = {}
        for item in info:
            if isinstance(item, dict) and item.get("level") == "error" and isinstance(item.get("key"), str):
                errors.setdefault(item["key"], []).append(str(item.get("message", "")))
    cells = tuple(
        CellFacts(str(key), _filled(value), None if errors is None else key in errors,
                  tuple((errors or {}).get(key, ())))
        for key, value in (mapped.items() if isinstance(mapped, dict) else ())
    )
    valid = row.get("valid")
    return RowFacts(valid if isinstance(valid, bool) else None, row.get("deleted") is True, cells)


def record_facts(record: Mapping[str, Any]) -> RowFacts:
    """The facts of a Platform record (`values`: each cell's `value`, `valid` and `messages`)."""
    values = record.get("values")
    cells = []
    for key, cell in (values.items() if isinstance(values, dict) else ()):
        cell = cell if isinstance(cell, dict) else {}
        messages = cell.get("messages")
        texts = tuple(str(m.get("message", "")) for m in messages if isinstance(m, dict)
                      and m.get("type", "error") == "error") if isinstance(messages, list) else ()
        ok = cell.get("valid")
        cells.append(CellFacts(str(key), _filled(cell.get("value")), (not ok) if isinstance(ok, bool) else bool(texts),
                               texts))
    valid = record.get("valid")
    return RowFacts(valid if isinstance(valid, bool) else None, False, tuple(cells))


@dataclass
class _Field:
    filled: int = 0
    invalid: int | None = None
    messages: list[str] = field(default_factory=list)

    def add(self, cell: CellFacts) -> None:
        if cell.filled:
            self.filled += 1
        if cell.invalid is not None:
            self.invalid = (self.invalid or 0) + (1 if cell.invalid else 0)
        for message in cell.messages:
            if len(self.messages) >= MESSAGES_KEPT:
                break
            text = message[:MESSAGE_CHARS]
            if text not in self.messages:
                self.messages.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {"filled": self.filled, "invalid": self.invalid, "messages": list(self.messages)}


class Tally:
    """Running counts of the rows written (see the module docs); fields in the order they were first seen."""

    def __init__(self) -> None:
        self.rows = self.valid = self.invalid = self.deleted = 0
        self.fields: dict[str, _Field] = {}

    def add(self, facts: RowFacts) -> None:
        """Count one row."""
        self.rows += 1
        if facts.deleted:
            self.deleted += 1
        elif facts.valid is True:
            self.valid += 1
        elif facts.valid is False:
            self.invalid += 1
        for cell in facts.cells:
            stats = self.fields.get(cell.key)
            if stats is None:
                stats = self.fields[cell.key] = _Field()
            stats.add(cell)

    def add_all(self, rows: Iterable[RowFacts]) -> None:
        for facts in rows:
            self.add(facts)

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
