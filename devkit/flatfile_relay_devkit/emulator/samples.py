"""Deterministic sample data: one account and a dozen imports covering the cases the relay must handle.

Everything derives from the seed (ids, credentials, rows) and from the *anchor* time (timestamps are
fixed offsets before it), so two emulators with the same seed and anchor serve identical data.
Rows are produced lazily by :class:`SampleBatch.rows` so the 2,500-row import costs nothing at start.

Labels (see :data:`SAMPLE_LABELS`): ``old``, ``late_submitted`` (created days ago, submitted an hour
before the anchor), ``big`` (2,500 rows), ``medium`` (250), ``cancelled``, ``failed`` (status ``failed``
with ``failureReason``), ``tie_a``/``tie_b`` (same ``createdAt``), ``workspace2`` (second workspace and end
user), ``nasty`` (hostile cell values, invalid and deleted rows), ``single`` (1 row), ``empty`` (0 rows),
``in_progress`` (status ``null``), and ``foreign`` (another license's import: never visible to the account).

Example:
    >>> account = build_account(7)
    >>> len(account.access_key_id), account.access_key_id[:4]
    (40, 'FF00')
    >>> [s.label for s in build_samples(account)][:3]
    ['old', 'late_submitted', 'big']
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "FIELD_KEYS",
    "LONG_CELL",
    "NASTY_VALUES",
    "SAMPLE_LABELS",
    "Account",
    "RowSpec",
    "SampleBatch",
    "build_account",
    "build_samples",
    "default_anchor",
    "iso",
    "parse_time",
    "raw_cells",
]

#: The template's field keys, in column order.
FIELD_KEYS: tuple[str, ...] = ("sku", "name", "qty", "price", "email", "notes")
_HEADERS: tuple[str, ...] = ("SKU", "Product name", "Qty", "Unit price", "E-mail", "Notes")

#: A cell longer than 50,000 characters.
LONG_CELL = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit; " * 1000)[:55_000] + " …END"

#: Cell values a spreadsheet can hold and a careless exporter mangles (each appears in the ``nasty`` import).
NASTY_VALUES: tuple[Any, ...] = (
    'He said "hi", then left',
    "O'Brien's pick",
    "a,b,,c",
    "line one\nline two",
    "windows\r\nline breaks\r\n",
    "col1\tcol2\tcol3",
    "🧪𝄞 lab kit 👩‍👩‍👧 🇳🇴",
    "שלום עולם",
    "مرحبا بالعالم",
    LONG_CELL,
    "",
    None,
    42,
    19.99,
    9007199254740993,
    True,
    {"nested": {"list": [1, "two", None, False]}, "k": "v"},
    ["a", "b"],
    "  padded both sides  ",
    "\\",
    "</script><script>alert(1)</script>",
    "=SUM(A1:A2)",
    "null",
    "e\u0301 vs \u00e9",
    "zero\u200bwidth \u2028line\u2029para",
)

SAMPLE_LABELS: tuple[str, ...] = (
    "old",
    "late_submitted",
    "big",
    "medium",
    "cancelled",
    "failed",
    "tie_a",
    "tie_b",
    "workspace2",
    "nasty",
    "single",
    "empty",
    "in_progress",
    "foreign",
)

RowSpec = dict[str, Any]
"""One row before the store gives it an id: ``{"mapped": {...}, "raw": [...], "valid": b, "deleted": b}``."""


def iso(moment: datetime) -> str:
    """``2021-03-01T20:22:52.000Z``: ISO-8601 UTC with milliseconds."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive = UTC) or an ISO-8601 string."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def default_anchor() -> datetime:
    """Today's midnight (UTC): samples are recent, yet identical for every emulator started today."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _token(rng: random.Random, length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def raw_cells(mapped: dict[str, Any]) -> list[str]:
    """The original spreadsheet cells for a mapped row (strings, in column order)."""
    cells = []
    for key in FIELD_KEYS:
        value = mapped.get(key)
        if value is None:
            cells.append("")
        elif isinstance(value, str):
            cells.append(value)
        elif isinstance(value, (bool, dict, list)):
            cells.append(json.dumps(value, ensure_ascii=False))
        else:
            cells.append(str(value))
    return cells


def _row(mapped: dict[str, Any], valid: bool = True, deleted: bool = False) -> RowSpec:
    return {"mapped": mapped, "raw": raw_cells(mapped), "valid": valid, "deleted": deleted}


@dataclass(frozen=True)
class Account:
    """The emulated Flatfile account (one team, one license) plus a foreign license."""

    seed: int
    team_id: int
    license_id: int
    license_key: str
    environment_id: str
    access_key_id: str
    secret_access_key: str
    webhook_token: str
    user: dict[str, Any]
    workspaces: tuple[dict[str, Any], ...]
    end_users: tuple[dict[str, Any], ...]
    schema: dict[str, Any]
    embed: dict[str, Any]
    foreign_team_id: int
    foreign_license_id: int
    foreign_license_key: str
    foreign_end_user: dict[str, Any]

    def secret(self) -> dict[str, str]:
        """The credentials as the relay's Secrets Manager secret holds them."""
        return {
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key,
            "licenseKey": self.license_key,
            "webhookToken": self.webhook_token,
        }


def build_account(seed: int) -> Account:
    """The account for ``seed`` (credentials are fake sample values)."""
    rng = random.Random(f"flatfile-emulator:{seed}:account")
    team_id = rng.randrange(1000, 9999)
    created = iso(datetime(2020, 11, 2, 9, 30, tzinfo=UTC) + timedelta(seconds=rng.randrange(86400)))
    environment_id = _uuid(rng)
    people = [("Ada Lovelace", "ada"), ("Søren Kierkegaard", "soren"), ("Zoë O'Neil", "zoe")]
    end_users = []
    for index, (name, handle) in enumerate(people):
        end_users.append(
            {
                "id": _uuid(rng),
                "userId": f"cust-{rng.randrange(10000, 99999)}",
                "name": name,
                "email": None if index == 2 else f"{handle}@example.com",
                "companyId": None if index == 2 else f"co-{index + 1}",
                "companyName": None if index == 2 else ["Acme Ltd", "Nordic Tools AS"][index],
                "teamId": team_id,
                "createdAt": created,
                "updatedAt": created,
            }
        )
    workspaces = tuple(
        {"id": _uuid(rng), "name": name, "teamId": team_id, "environmentId": environment_id}
        for name in ("Production", "Second workspace")
    )
    fields = [{"key": key, "label": label} for key, label in zip(FIELD_KEYS, _HEADERS, strict=True)]
    schema = {
        "id": rng.randrange(10000, 99999),
        "name": "Products",
        "slug": "products",
        "teamId": team_id,
        "fields": fields,
    }
    foreign_team_id = team_id + 1
    license_key = _uuid(rng)
    embed = {
        "id": _uuid(rng),
        "name": "Product import",
        "teamId": team_id,
        "environmentId": environment_id,
        "schemaIds": [schema["id"]],
        "managed": True,
        "webhookUrl": None,
        "createdAt": created,
        "updatedAt": created,
    }
    foreign_end_user = {
        "id": _uuid(rng),
        "userId": "other-1",
        "name": "Somebody Else",
        "email": "else@example.org",
        "companyId": None,
        "companyName": None,
        "teamId": foreign_team_id,
        "createdAt": created,
        "updatedAt": created,
    }
    return Account(
        seed=seed,
        team_id=team_id,
        license_id=rng.randrange(100, 999),
        license_key=license_key,
        environment_id=environment_id,
        access_key_id="FF00" + _token(rng, 36, string.ascii_uppercase + string.digits),
        secret_access_key=_token(rng, 40),
        webhook_token=_token(rng, 32),
        user={"id": 1, "name": "Sample Owner", "email": "owner@example.com", "type": "standard"},
        workspaces=workspaces,
        end_users=tuple(end_users),
        schema=schema,
        embed=embed,
        foreign_team_id=foreign_team_id,
        foreign_license_id=rng.randrange(1000, 1999),
        foreign_license_key=_uuid(rng),
        foreign_end_user=foreign_end_user,
    )


@dataclass
class SampleBatch:
    """A sample import: its wire fields, its row count and a factory for its rows (called once, lazily)."""

    label: str
    batch: dict[str, Any]
    row_count: int
    rows: Callable[[], list[RowSpec]] = field(repr=False)


def batch_fields(
    account: Account,
    *,
    batch_id: str,
    created: datetime,
    status: str | None,
    workspace_id: str | None = None,
    end_user_id: str | None = None,
    filename: str = "products.csv",
    specs: Sequence[tuple[bool, bool]] = (),
) -> dict[str, Any]:
    """A batch object as ``GET /rest/batches`` lists it; ``specs`` = ``(valid, deleted)`` of each row."""
    created_at = iso(created)
    matched_at = iso(created + timedelta(seconds=41, milliseconds=250))
    kept = [valid for valid, deleted in specs if not deleted]
    submitted_at = iso(created + timedelta(minutes=3, milliseconds=517)) if status == "submitted" else None
    return {
        "id": batch_id,
        "licenseId": account.license_id,
        "teamId": account.team_id,
        "environmentId": account.environment_id,
        "workspaceId": workspace_id if workspace_id is not None else account.workspaces[0]["id"],
        "schemaId": account.schema["id"],
        "embedId": account.embed["id"],
        "endUserId": end_user_id if end_user_id is not None else account.end_users[0]["id"],
        "filename": filename,
        "source": "file",
        "memo": None,
        "validatedIn": "review",
        "originalFile": filename,
        "manual": False,
        "managed": True,
        "countRows": len(specs),
        "countRowsInvalid": kept.count(False),
        "countRowsAccepted": kept.count(True),
        "countColumns": len(FIELD_KEYS),
        "countColumnsMatched": len(FIELD_KEYS),
        "headersRaw": [{"index": i, "letter": chr(65 + i), "value": h} for i, h in enumerate(_HEADERS)],
        "headersMatched": [
            {"index": i, "letter": chr(65 + i), "matched_key": k} for i, k in enumerate(FIELD_KEYS)
        ],
        "status": status,
        "type": "csv",
        "targetSchema": None,
        "parsingConfig": {"delimiter": ",", "encoding": "utf-8", "hasHeaderRow": True},
        "importedFromUrl": None,
        "headerHash": hashlib.sha256("|".join(_HEADERS).encode()).hexdigest()[:40],
        "failureReason": None,
        "matchedAt": matched_at,
        "submittedAt": submitted_at,
        "failedAt": None,
        "handledAt": None,
        "legacySettingsId": None,
        "legacyWebhookUrl": None,
        "devMode": False,
        "deleted": False,
        "createdAt": created_at,
        "updatedAt": matched_at,
    }


_ADJECTIVES = ("Red", "Blue", "Steel", "Tiny", "Heavy", "Quiet", "Smart", "Green", "Ultra", "Basic")
_NOUNS = ("Widget", "Bolt", "Lamp", "Drill", "Cable", "Mug", "Chair", "Router", "Brush", "Valve")
_NOTE_CYCLE = ('needs "review"', "2,5 kg", "back\norder", "🧪", "ünïcödé", "  ", "\\", "null")


def _generated_flags(seed: int, label: str, count: int) -> list[tuple[bool, bool]]:
    rng = random.Random(f"flatfile-emulator:{seed}:{label}:flags")
    invalid = set(rng.sample(range(count), k=count // 40)) if count >= 40 else set()
    deleted = set(rng.sample(range(count), k=count // 100)) if count >= 100 else set()
    return [(i not in invalid, i in deleted) for i in range(count)]


def _generated_rows(
    seed: int, label: str, prefix: str, flags: list[tuple[bool, bool]]
) -> Callable[[], list[RowSpec]]:
    def factory() -> list[RowSpec]:
        rng = random.Random(f"flatfile-emulator:{seed}:{label}:rows")
        rows = []
        for i, (valid, deleted) in enumerate(flags):
            mapped = {
                "sku": f"{prefix}-{i + 1:05d}",
                "name": f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}",
                "qty": str(rng.randrange(0, 500)),
                "price": f"{rng.randrange(1, 100000) / 100:.2f}",
                "email": f"buyer{rng.randrange(1000)}@example.com" if valid else "not-an-email",
                "notes": _NOTE_CYCLE[(i // 37) % len(_NOTE_CYCLE)] if i % 37 == 0 else "",
            }
            rows.append(_row(mapped, valid, deleted))
        return rows

    return factory


def _nasty_rows() -> list[RowSpec]:
    base = {"sku": "N-0", "name": "Plain", "qty": "1", "price": "1.00", "email": "n@example.com", "notes": ""}
    rows = []
    for i, value in enumerate(NASTY_VALUES):
        mapped = {**base, "sku": f"N-{i + 1:03d}", "notes": value}
        if i % 3 == 1:
            mapped["name"] = value
        rows.append(_row(mapped))
    rows.append(_row({"sku": "", "name": "", "qty": "", "price": "", "email": "", "notes": ""}, valid=False))
    rows.append(_row({"sku": None, "name": None, "qty": None, "price": None, "email": None, "notes": None}))
    missing_notes = {
        "sku": "N-MISSING",
        "name": "no notes",
        "qty": "2",
        "price": "3",
        "email": "m@example.com",
    }
    rows.append(_row(missing_notes))
    rows.append(_row({**base, "sku": "N-DEL", "notes": "deleted by the end user"}, deleted=True))
    rows.append(_row({**base, "sku": "N-BAD", "email": "not-an-email", "qty": "-3"}, valid=False))
    rows.append(_row({**base, "sku": "N-BAD-DEL", "email": "nope"}, valid=False, deleted=True))
    return rows


def _fixed_rows(rows: list[RowSpec]) -> Callable[[], list[RowSpec]]:
    return lambda: [json.loads(json.dumps(row)) for row in rows]


def build_samples(account: Account, anchor: datetime | None = None) -> list[SampleBatch]:
    """The sample imports for ``account``, in :data:`SAMPLE_LABELS` order."""
    anchor = parse_time(anchor) if anchor is not None else default_anchor()
    seed = account.seed
    rng = random.Random(f"flatfile-emulator:{seed}:batches")
    nasty = _nasty_rows()
    counts = {
        "old": 3,
        "late_submitted": 5,
        "big": 2500,
        "medium": 250,
        "cancelled": 4,
        "failed": 2,
        "tie_a": 2,
        "tie_b": 2,
        "workspace2": 6,
        "single": 1,
        "empty": 0,
        "in_progress": 30,
        "foreign": 3,
    }
    ages = {
        "old": timedelta(days=5, hours=3),
        "late_submitted": timedelta(days=4, hours=2),
        "big": timedelta(days=3, hours=7),
        "medium": timedelta(days=2, hours=6),
        "cancelled": timedelta(days=2),
        "failed": timedelta(days=1, hours=20),
        "tie_a": timedelta(days=1, hours=12),
        "tie_b": timedelta(days=1, hours=12),
        "workspace2": timedelta(days=1),
        "nasty": timedelta(hours=20),
        "single": timedelta(hours=10),
        "empty": timedelta(hours=5),
        "in_progress": timedelta(hours=2),
        "foreign": timedelta(hours=3),
    }
    tie_jitter = timedelta(milliseconds=rng.randrange(1000))
    samples = []
    for label in SAMPLE_LABELS:
        jitter = tie_jitter if label.startswith("tie_") else timedelta(milliseconds=rng.randrange(600_000))
        created = anchor - ages[label] + jitter
        batch_id = _uuid(rng)
        if label == "nasty":
            flags = [(row["valid"], row["deleted"]) for row in nasty]
            factory = _fixed_rows(nasty)
        else:
            flags = _generated_flags(seed, label, counts[label])
            factory = _generated_rows(seed, label, label[:3].upper(), flags)
        status = {"cancelled": "cancelled", "failed": "failed", "in_progress": None}.get(label, "submitted")
        workspace = account.workspaces[1]["id"] if label == "workspace2" else None
        end_user = account.end_users[(1 if label == "workspace2" else 2 if label == "single" else 0)]["id"]
        filename = f"{label.replace('_', '-')}-products.csv"
        batch = batch_fields(
            account,
            batch_id=batch_id,
            created=created,
            status=status,
            workspace_id=workspace,
            end_user_id=end_user,
            filename=filename,
            specs=flags,
        )
        if label == "late_submitted":
            batch["submittedAt"] = batch["updatedAt"] = iso(anchor - timedelta(hours=1))
        elif label == "cancelled":
            batch["handledAt"] = batch["updatedAt"] = iso(created + timedelta(minutes=7))
        elif label == "failed":
            batch["failedAt"] = batch["updatedAt"] = iso(created + timedelta(minutes=1))
            batch["failureReason"] = "Unable to parse file: unexpected end of data at line 3"
        elif label == "nasty":
            batch["memo"] = 'memo with "quotes", commas\nand a newline 🧪'
            batch["filename"] = batch["originalFile"] = 'nästy, "file" name.csv'
        elif label == "foreign":
            batch.update(
                licenseId=account.foreign_license_id,
                teamId=account.foreign_team_id,
                endUserId=account.foreign_end_user["id"],
                workspaceId=None,
                embedId=None,
            )
        samples.append(SampleBatch(label=label, batch=batch, row_count=len(flags), rows=factory))
    return samples
