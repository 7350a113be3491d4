"""The emulator's data: batches and their rows, shared by the HTTP threads and the test code.

Every method takes the store's lock. ``batches`` is the live ``id -> batch`` dict of the account's
imports (list-item shape); ``foreign_batches`` holds other licenses' imports, which the API never shows.
Prefer the helpers to change them. Rows of sample batches are built the first time they are read.

Example:
    >>> state = State.with_samples(7)
    >>> state.sample("big")["countRows"]
    2500
    >>> batch = state.add_batch(status=None, rows=[{"sku": "A-1", "qty": "3"}])
    >>> state.set_status(batch["id"], "submitted")["submittedAt"] is not None
    True
    >>> [row["mapped"] for row in state.rows(batch["id"])]
    [{'sku': 'A-1', 'qty': '3'}]
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .samples import Account, RowSpec, batch_fields, build_account, build_samples, iso, parse_time, raw_cells

__all__ = ["FIRST_ROW_ID", "State"]

#: Row ids are strings of digits, unique in the emulator, allocated from here upwards.
FIRST_ROW_ID = 100_001


def _now() -> str:
    return iso(datetime.now(UTC))


def _flags(value: bool | Sequence[bool], count: int, name: str) -> list[bool]:
    if isinstance(value, bool):
        return [value] * count
    flags = [bool(flag) for flag in value]
    if len(flags) != count:
        raise ValueError(f"{name} has {len(flags)} entries for {count} rows")
    return flags


class State:
    """Thread-safe store of one account's batches and rows (plus a foreign license's batch)."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.lock = threading.RLock()
        self.batches: dict[str, dict[str, Any]] = {}
        self.foreign_batches: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._lazy: dict[str, tuple[int, Callable[[], list[RowSpec]]]] = {}
        self._labels: dict[str, str] = {}
        self._next_row_id = FIRST_ROW_ID
        self._rng = random.Random(f"flatfile-emulator:{account.seed}:added")
        self._skews: dict[str, tuple[dict[str, int], int | None]] = {}

    @classmethod
    def with_samples(cls, seed: int = 7, anchor: datetime | str | None = None) -> State:
        """A store holding the sample imports of ``seed`` (see :mod:`.samples`)."""
        state = cls(build_account(seed))
        state.load_samples(anchor)
        return state

    def load_samples(self, anchor: datetime | str | None = None) -> None:
        """Add the sample imports, timestamps relative to ``anchor`` (default: today's midnight UTC)."""
        samples = build_samples(self.account, parse_time(anchor) if anchor is not None else None)
        with self.lock:
            for sample in samples:
                self._home(sample.batch)[sample.batch["id"]] = sample.batch
                self._labels[sample.label] = sample.batch["id"]
                self._lazy[sample.batch["id"]] = (self._next_row_id, sample.rows)
                self._next_row_id += sample.row_count

    # -- samples ---------------------------------------------------------------------------------------

    @property
    def samples(self) -> dict[str, str]:
        """Sample label -> batch id (labels: :data:`.samples.SAMPLE_LABELS`)."""
        with self.lock:
            return dict(self._labels)

    def sample_id(self, label: str) -> str:
        """The id of the sample batch ``label`` (``KeyError`` for an unknown label)."""
        with self.lock:
            return self._labels[label]

    def sample(self, label: str) -> dict[str, Any]:
        """A copy of the sample batch ``label``, e.g. ``state.sample("in_progress")``."""
        return self.batch(self.sample_id(label))

    # -- reads -----------------------------------------------------------------------------------------

    def _home(self, batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return self.batches if self.is_visible(batch) else self.foreign_batches

    def _key(self, batch_id: str) -> str:
        """The stored key of ``batch_id``: UUIDs match whatever their letter case, as on a real server."""
        if batch_id in self.batches or batch_id in self.foreign_batches:
            return batch_id
        folded = batch_id.lower()
        for key in (*self.batches, *self.foreign_batches):
            if key.lower() == folded:
                return key
        return batch_id

    def _find(self, batch_id: str) -> dict[str, Any]:
        key = self._key(batch_id)
        batch = self.batches.get(key)
        if batch is None:
            batch = self.foreign_batches[key]
        return batch

    def has_batch(self, batch_id: str) -> bool:
        """Whether the account has this batch (what the API can show); ids match whatever their case."""
        with self.lock:
            return self._key(batch_id) in self.batches

    def batch(self, batch_id: str) -> dict[str, Any]:
        """A deep copy of one batch, the account's or a foreign one (``KeyError`` if unknown)."""
        with self.lock:
            return copy.deepcopy(self._find(batch_id))

    def account_batches(self) -> list[dict[str, Any]]:
        """Deep copies of the account's batches (what the list endpoint can show)."""
        with self.lock:
            return [copy.deepcopy(batch) for batch in self.batches.values()]

    def is_visible(self, batch: dict[str, Any]) -> bool:
        """Whether the batch belongs to the account's license."""
        return bool(batch.get("licenseId") == self.account.license_id)

    def rows(self, batch_id: str) -> list[dict[str, Any]]:
        """All rows of a batch in ``sequence`` order (a new list; treat the row dicts as read-only)."""
        with self.lock:
            self._find(batch_id)
            return list(self._materialize(self._key(batch_id)))

    def end_user(self, end_user_id: str | None) -> dict[str, Any] | None:
        """The end user with that id, if known."""
        users = [*self.account.end_users, self.account.foreign_end_user]
        found = next((user for user in users if user["id"] == end_user_id), None)
        return copy.deepcopy(found) if found is not None else None

    def batch_detail(self, batch_id: str) -> dict[str, Any]:
        """The batch as ``GET /rest/batch/{id}`` returns it (with ``__endUser__`` and friends; counts skewed by
        :meth:`skew_counts`)."""
        detail = self.batch(batch_id)
        self._apply_skew(detail)
        end_user = self.end_user(detail.get("endUserId"))
        detail["__endUser__"] = end_user
        detail["__has_endUser__"] = end_user is not None
        detail["__schema__"] = copy.deepcopy(self.account.schema) if detail.get("schemaId") else None
        own_embed = detail.get("embedId") == self.account.embed["id"]
        detail["__embed__"] = copy.deepcopy(self.account.embed) if own_embed else None
        return detail

    def _materialize(self, batch_id: str) -> list[dict[str, Any]]:
        rows = self._rows.get(batch_id)
        if rows is None:
            rows = []
            first_id, factory = self._lazy.pop(batch_id, (self._next_row_id, list))
            self._rows[batch_id] = rows
            self._append(batch_id, factory(), first_id)
        return rows

    def _append(self, batch_id: str, specs: Iterable[RowSpec], first_id: int) -> list[dict[str, Any]]:
        batch = self._find(batch_id)
        rows = self._rows[batch_id]
        created = batch["createdAt"]
        updated = batch.get("matchedAt") or created
        added = []
        for offset, spec in enumerate(specs):
            row = {
                "id": str(first_id + offset),
                "batchId": batch["id"],
                "raw": spec["raw"],
                "mapped": spec["mapped"],
                "valid": spec["valid"],
                "deleted": spec["deleted"],
                "sequence": len(rows),
                "createdAt": created,
                "updatedAt": updated,
            }
            rows.append(row)
            added.append(row)
        return added

    # -- writes ----------------------------------------------------------------------------------------

    def add_batch(
        self,
        status: str | None = None,
        rows: Sequence[dict[str, Any]] = (),
        created_at: datetime | str | None = None,
        *,
        label: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a batch (``fields`` override any wire field, ``id`` included) and return a copy.

        The batch belongs to the account unless ``fields`` give another ``licenseId`` (then it goes to
        ``foreign_batches``).

        ``rows`` are ``mapped`` dicts (all valid, none deleted; use :meth:`add_rows` for more control).
        ``created_at`` defaults to now; a ``submitted`` batch gets ``submittedAt`` = its ``createdAt``.
        ``label`` makes it reachable through :meth:`sample`.

        Example:
            >>> state = State.with_samples(7)
            >>> state.add_batch("submitted", [{"sku": "X"}], "2021-03-01T20:22:52.000Z")["submittedAt"]
            '2021-03-01T20:22:52.000Z'
        """
        with self.lock:
            batch = self._new_batch(status, created_at, fields)
            batch_id = str(batch["id"])
            if label is not None:
                self._labels[label] = batch_id
            if rows:
                self.add_rows(batch_id, rows)
            return copy.deepcopy(batch)

    def add_batches(self, status: str | None, created: Iterable[datetime | str]) -> list[str]:
        """Create one batch without rows per ``created`` time and return their ids: seeds a large account
        quickly (no copies).

        Example:
            >>> state = State.with_samples(7)
            >>> ids = state.add_batches("submitted", ["2021-03-01T20:22:52.000Z", "2021-03-01T20:22:53.000Z"])
            >>> [state.batch(batch_id)["createdAt"] for batch_id in ids]
            ['2021-03-01T20:22:52.000Z', '2021-03-01T20:22:53.000Z']
        """
        with self.lock:
            return [str(self._new_batch(status, moment, {})["id"]) for moment in created]

    def _new_batch(self, status: str | None, created_at: datetime | str | None, fields: dict[str, Any]
                   ) -> dict[str, Any]:
        """Create and store a batch (the lock is held); returns the stored dict itself."""
        created = parse_time(created_at) if created_at is not None else datetime.now(UTC)
        batch_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        batch = batch_fields(
            self.account,
            batch_id=batch_id,
            created=created,
            status=status,
            filename=f"upload-{batch_id[:8]}.csv",
        )
        created_iso = batch["createdAt"]
        batch["matchedAt"] = batch["updatedAt"] = created_iso
        batch["submittedAt"] = created_iso if status == "submitted" else None
        if status == "failed":
            batch["failedAt"] = created_iso
        batch.update(fields)
        batch_id = str(batch["id"])
        self._home(batch)[batch_id] = batch
        self._rows[batch_id] = []
        return batch

    def add_rows(
        self,
        batch_id: str,
        rows: Sequence[dict[str, Any]],
        *,
        valid: bool | Sequence[bool] = True,
        deleted: bool | Sequence[bool] = False,
    ) -> list[dict[str, Any]]:
        """Append rows (``mapped`` dicts) to a batch, update its counters and return the new rows.

        ``valid``/``deleted`` are one flag for all rows or one flag per row.
        """
        valid_flags = _flags(valid, len(rows), "valid")
        deleted_flags = _flags(deleted, len(rows), "deleted")
        specs = [
            {"mapped": dict(mapped), "raw": raw_cells(mapped), "valid": ok, "deleted": gone}
            for mapped, ok, gone in zip(rows, valid_flags, deleted_flags, strict=True)
        ]
        with self.lock:
            batch_id = self._key(batch_id)
            self._materialize(batch_id)
            added = self._append(batch_id, specs, self._next_row_id)
            self._next_row_id += len(added)
            batch = self._find(batch_id)
            batch["countRows"] += len(added)
            kept = [row["valid"] for row in added if not row["deleted"]]
            batch["countRowsInvalid"] += kept.count(False)
            batch["countRowsAccepted"] += kept.count(True)
            batch["updatedAt"] = _now()
            return copy.deepcopy(added)

    def set_status(self, batch_id: str, status: str | None) -> dict[str, Any]:
        """Change a batch's status (``submitted`` also sets ``submittedAt``); returns a copy."""
        now = _now()
        with self.lock:
            batch = self._find(batch_id)
            batch["status"] = status
            batch["updatedAt"] = now
            if status == "submitted":
                batch["submittedAt"] = now
            elif status == "cancelled":
                batch["handledAt"] = now
            elif status == "failed":
                batch["failedAt"] = now
            return copy.deepcopy(batch)

    def skew_counts(self, batch_id: str, *, reads: int | None = None, **deltas: int) -> None:
        """Make ``GET /rest/batch/{id}`` disagree with the rows: add ``deltas`` to its counts (``countRows=1``,
        ``countRowsAccepted=-2``...) for the next ``reads`` reads (``None``: for good; 0 ends a skew).

        Example: ``state.skew_counts(batch_id, reads=1, countRows=1)``: the first read says one row more than the
        rows endpoint returns (a batch still settling), the reads after it agree again.
        """
        with self.lock:
            key = self._key(batch_id)
            self._find(key)
            self._skews[key] = (dict(deltas), reads)

    def _apply_skew(self, detail: dict[str, Any]) -> None:
        with self.lock:
            key = self._key(str(detail.get("id")))
            deltas, reads = self._skews.get(key, ({}, 0))
            if reads is not None and reads <= 0:
                return
            for name, delta in deltas.items():
                detail[name] = int(detail.get(name) or 0) + delta
            self._skews[key] = (deltas, None if reads is None else reads - 1)

    def update_batch(self, batch_id: str, **fields: Any) -> dict[str, Any]:
        """Overwrite wire fields of a batch (no automatic timestamps); returns a copy."""
        with self.lock:
            batch = self._find(batch_id)
            batch.update(fields)
            return copy.deepcopy(batch)

    def remove_batch(self, batch_id: str) -> None:
        """Forget a batch and its rows (as if the import was deleted)."""
        with self.lock:
            self._find(batch_id)
            batch_id = self._key(batch_id)
            self.batches.pop(batch_id, None)
            self.foreign_batches.pop(batch_id, None)
            self._rows.pop(batch_id, None)
            self._lazy.pop(batch_id, None)
            self._labels = {label: bid for label, bid in self._labels.items() if bid != batch_id}
