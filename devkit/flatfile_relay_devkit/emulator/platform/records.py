"""The records of an emulated Platform sheet: generated from their index when read, stored once edited or added.

A sheet of 200,000 records costs no memory until someone edits it: a page is built record by record from the
sheet's :class:`RecordGenerator` when it is read, encoded and dropped. Edited and added records are stored
(the live dicts, read under the state's lock, never copied per request). Counts are kept as records change,
so ``GET sheets/{id}/counts`` costs nothing either. A generator that can write a record's JSON text directly
(``text``, as :class:`Products` does) serves pages without building a dict per record (:meth:`SheetRecords.texts`):
a page of 10,000 records costs a few milliseconds, in small steps that let the process's other threads run.

Example:
    >>> records = SheetRecords("ab12", Products("2024-03-01T00:00:00.000Z", invalid_every=3), 7)
    >>> len(records), records.counts()
    (7, {'total': 7, 'valid': 5, 'error': 2})
    >>> page = records.page(0, 2)
    >>> page[0]["id"], page[0]["values"]["sku"]["value"], page[0]["valid"]
    ('us_rc_ab12000000', 'SKU-0000001', True)
    >>> records.update(2, {"supplierEmail": "a@example.com"}, "2024-03-02T00:00:00.000Z")["valid"]  # fixed
    True
    >>> records.counts()["error"]
    1
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "Fixed",
    "Products",
    "Record",
    "RecordGenerator",
    "SheetRecords",
    "cell",
    "error_message",
    "record",
]

Record = dict[str, Any]
"""``{"id", "values": {key: {"value", "valid", "messages", "updatedAt"}}, "valid", "metadata"}``."""

RECORD_PREFIX = "us_rc_"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def error_message(text: str, source: str = "custom-logic") -> dict[str, Any]:
    """A cell's validation error as the Platform lists it in ``messages``."""
    return {"type": "error", "source": source, "message": text}


def cell(value: Any, updated_at: str, messages: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A cell: valid unless one of its ``messages`` is an error."""
    valid = not any(message.get("type") == "error" for message in messages)
    return {"value": value, "valid": valid, "messages": list(messages), "updatedAt": updated_at}


def record(record_id: str, values: dict[str, dict[str, Any]], metadata: dict[str, Any] | None = None) -> Record:
    """A record of these cells: valid when every cell is."""
    valid = all(item.get("valid", True) is not False for item in values.values())
    return {"id": record_id, "values": values, "valid": valid, "metadata": metadata or {}}


class RecordGenerator(Protocol):
    """Builds record ``index`` of a sheet, and tells whether it is valid without building it."""

    def build(self, record_id: str, index: int) -> Record:
        """A new dict for record ``index`` (the caller may keep and change it)."""
        ...

    def valid(self, index: int) -> bool:
        """Whether record ``index`` is valid."""
        ...


def _noise(index: int, salt: int) -> int:
    """A cheap, well-mixed 32-bit number for ``index`` (no ``random.Random`` per record: pages of 10,000)."""
    value = (index * 2654435761 + salt) & 0xFFFFFFFF
    value ^= value >> 15
    return (value * 2246822519) & 0xFFFFFFFF


_NAMES = tuple(f"{adjective} {noun}" for adjective in (
    "Red", "Blue", "Steel", "Tiny", "Heavy", "Quiet", "Smart", "Green", "Ultra", "Basic")
    for noun in ("Widget", "Bolt", "Lamp", "Drill", "Cable", "Mug", "Chair", "Router", "Brush", "Valve"))
_EMAILS = tuple(f"buyer{number}@example.com" for number in range(1000))
_INVALID_EMAIL = json.dumps(cell("not-an-email", "", [error_message("Must be a valid email address")])["messages"],
                            separators=(",", ":"))


class Products:
    """Generated product records (``sku``, ``name``, ``price``, ``qty``, ``supplierEmail``), about 5 µs each;
    every ``invalid_every``-th one (1-based; 0: none) has an invalid ``supplierEmail`` with an error message."""

    def __init__(self, updated_at: str, *, salt: int = 0, invalid_every: int = 40) -> None:
        self.updated_at = updated_at
        self.salt = salt
        self.invalid_every = invalid_every

    def valid(self, index: int) -> bool:
        every = self.invalid_every
        return every <= 0 or index % every != every - 1

    def build(self, record_id: str, index: int) -> Record:
        noise = _noise(index, self.salt)
        at = self.updated_at
        valid = self.valid(index)
        email = {"value": _EMAILS[(noise >> 12) % 1000], "valid": True, "messages": [], "updatedAt": at} if valid \
            else cell("not-an-email", at, [error_message("Must be a valid email address")])
        values = {
            "sku": {"value": f"SKU-{index + 1:07d}", "valid": True, "messages": [], "updatedAt": at},
            "name": {"value": _NAMES[noise % 100], "valid": True, "messages": [], "updatedAt": at},
            "price": {"value": (noise % 100_000) / 100, "valid": True, "messages": [], "updatedAt": at},
            "qty": {"value": (noise >> 8) % 500, "valid": True, "messages": [], "updatedAt": at},
            "supplierEmail": email,
        }
        return {"id": record_id, "values": values, "valid": valid, "metadata": {}}

    def text(self, record_id: str, index: int) -> str:
        """``build``'s record as compact JSON (the same text ``json.dumps`` gives), written directly."""
        noise = _noise(index, self.salt)
        at = self.updated_at
        valid = self.valid(index)
        email = f'{{"value":"{_EMAILS[(noise >> 12) % 1000]}","valid":true,"messages":[],"updatedAt":"{at}"}}' if \
            valid else f'{{"value":"not-an-email","valid":false,"messages":{_INVALID_EMAIL},"updatedAt":"{at}"}}'
        return (
            f'{{"id":"{record_id}","values":{{'
            f'"sku":{{"value":"SKU-{index + 1:07d}","valid":true,"messages":[],"updatedAt":"{at}"}},'
            f'"name":{{"value":"{_NAMES[noise % 100]}","valid":true,"messages":[],"updatedAt":"{at}"}},'
            f'"price":{{"value":{(noise % 100_000) / 100!r},"valid":true,"messages":[],"updatedAt":"{at}"}},'
            f'"qty":{{"value":{(noise >> 8) % 500},"valid":true,"messages":[],"updatedAt":"{at}"}},'
            f'"supplierEmail":{email}}},"valid":{"true" if valid else "false"},"metadata":{{}}}}'
        )


class Fixed:
    """Records given one by one as their cells (``{key: cell}``, see :func:`cell`); built as deep-enough copies."""

    def __init__(self, rows: Sequence[Mapping[str, dict[str, Any]]]) -> None:
        self.rows = [dict(row) for row in rows]

    def valid(self, index: int) -> bool:
        return all(item.get("valid", True) is not False for item in self.rows[index].values())

    def build(self, record_id: str, index: int) -> Record:
        values = {key: {**item, "messages": [dict(m) for m in item.get("messages", [])]}
                  for key, item in self.rows[index].items()}
        return record(record_id, values)


class SheetRecords:
    """The records of one sheet, in order: ``generated`` ones first, then the added ones.

    Not thread-safe on its own: the emulator's state calls it with its lock held. Records handed out by
    :meth:`page` are either built for the call or the stored dicts themselves: treat them as read-only.
    """

    def __init__(self, code: str, generator: RecordGenerator | None = None, generated: int = 0) -> None:
        if generated and generator is None:
            raise ValueError("generated records need a generator")
        self.code = code
        self._generator = generator
        self._generated = generated
        self._edited: dict[int, Record] = {}
        self._added: list[Record] = []
        self._added_at: dict[str, int] = {}
        self._valid = sum(1 for index in range(generated) if generator is not None and generator.valid(index))

    def __len__(self) -> int:
        return self._generated + len(self._added)

    def counts(self) -> dict[str, int]:
        """``{"total", "valid", "error"}``."""
        total = len(self)
        return {"total": total, "valid": self._valid, "error": total - self._valid}

    def generated_id(self, index: int) -> str:
        """The id of generated record ``index``."""
        return f"{RECORD_PREFIX}{self.code}{index:06x}"

    def at(self, index: int) -> Record:
        """Record ``index`` (``IndexError`` beyond the end)."""
        if index < 0 or index >= len(self):
            raise IndexError(index)
        if index >= self._generated:
            return self._added[index - self._generated]
        stored = self._edited.get(index)
        if stored is not None:
            return stored
        assert self._generator is not None
        return self._generator.build(self.generated_id(index), index)

    def page(self, start: int, stop: int) -> list[Record]:
        """Records ``start`` to ``stop`` (exclusive), clipped to the sheet."""
        return [self.at(index) for index in range(max(0, start), min(stop, len(self)))]

    def texts(self, start: int, stop: int) -> list[str]:
        """The compact JSON text of records ``start`` to ``stop`` (as :meth:`page` then ``json.dumps`` would give
        them), a generated record written by its generator's ``text`` when it has one."""
        write = getattr(self._generator, "text", None)
        texts = []
        for index in range(max(0, start), min(stop, len(self))):
            if write is not None and index < self._generated and index not in self._edited:
                texts.append(write(self.generated_id(index), index))
            else:
                texts.append(_dumps(self.at(index)))
        return texts

    def valid_at(self, index: int) -> bool:
        """Whether record ``index`` is valid (without building a generated one)."""
        if index < self._generated and index not in self._edited:
            assert self._generator is not None
            return self._generator.valid(index)
        return bool(self.at(index)["valid"])

    def find(self, record_id: str) -> int | None:
        """The index of the record with that id, if the sheet has it."""
        prefix = RECORD_PREFIX + self.code
        if record_id.startswith(prefix) and len(record_id) == len(prefix) + 6:
            try:
                index = int(record_id[len(prefix):], 16)
            except ValueError:
                index = -1
            if 0 <= index < self._generated:
                return index
        return self._added_at.get(record_id)

    def update(self, index: int, values: Mapping[str, Any], updated_at: str) -> Record:
        """Set cells of record ``index``: a plain value, or a dict with ``value`` (and ``valid``/``messages``).

        A cell given without messages becomes valid (the new value passed validation). Returns the record.
        """
        was_valid = self.valid_at(index)
        current = self.at(index)
        if index < self._generated:
            self._edited[index] = current
        for key, given in values.items():
            if isinstance(given, Mapping) and "value" in given:
                messages = given.get("messages") or []
                current["values"][key] = cell(given["value"], updated_at, messages)
            else:
                current["values"][key] = cell(given, updated_at)
        current["valid"] = all(item.get("valid", True) is not False for item in current["values"].values())
        self._valid += int(current["valid"]) - int(was_valid)
        return current

    def append(self, new: Sequence[Record]) -> None:
        """Add records after the last one (each with its own id)."""
        for item in new:
            self._added_at[item["id"]] = len(self)
            self._added.append(item)
            self._valid += int(bool(item["valid"]))
