"""The schema of what an export wrote, its fingerprint, and drift from the last export of the same template or sheet.

A schema (`ExportSchema`) is the fields in order, each with its label and type where the source gives them: a
Platform sheet's configuration; a legacy batch's template (`__schema__`) for the keys its rows hold, in the
template's order, then keys the template lacks in the order the rows showed them (a batch without rows: the
template's fields). Its `slug` names what exports of the same shape share: the Platform sheet's slug, the legacy
template's slug (else `schema-<schemaId>`, else `unknown`).

The fingerprint hashes the keys and types in order (labels are words for people: a new label is no new shape).
Each schema is stored once per fingerprint at ``{prefix}schemas/<source>/<slug>/<fingerprint>.json`` (one line of
JSON, the Glue table `schemas` reads them), and the ledger keeps the last fingerprint of each slug
(``#schema:<source>:<slug>``, moved with a conditional write, so that two exports never both announce one change).
An export whose fingerprint differs from the one the ledger holds records the change (`SchemaChange`: `previous`
fingerprint, fields `added`, `removed`, `retyped`); a retry of the export that moved it finds its own change again
(`changedBy`), any other export with the same fingerprint finds none.

Example:
    >>> old = ExportSchema("legacy", "products", (Field("sku"), Field("qty", type="number")))
    >>> new = ExportSchema("legacy", "products", (Field("sku"), Field("quantity", type="number")))
    >>> change = SchemaChange.between(old, new)
    >>> change.added, change.removed, change.retyped
    (('quantity',), ('qty',), ())
    >>> len(old.fingerprint)
    16
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flatfile_relay.errors import TransientError
from flatfile_relay.layout import s3_uri
from flatfile_relay.ledger import Ledger

__all__ = [
    "FINGERPRINT_CHARS",
    "SCHEMA_ITEM_PREFIX",
    "ExportSchema",
    "Field",
    "SchemaChange",
    "SchemaMovingError",
    "legacy_schema",
    "platform_schema",
    "record_schema",
    "schema_key",
    "slugify",
    "store_schema",
]

#: hex characters of a fingerprint (64 bits of SHA-256)
FINGERPRINT_CHARS = 16
#: the ledger key of a slug's last schema: ``#schema:<source>:<slug>``
SCHEMA_ITEM_PREFIX = "#schema:"
#: attempts to move a slug's fingerprint while other exports move it too
_MOVE_ATTEMPTS = 5


class SchemaMovingError(TransientError, RuntimeError):
    """Other exports kept moving a slug's last schema while this one tried to record its own: retried."""


@dataclass(frozen=True)
class Field:
    """One field: its key, and its label and type when the source gives them."""

    key: str
    label: str | None = None
    type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "type": self.type}


@dataclass(frozen=True)
class ExportSchema:
    """The fields of what an export wrote for one template or sheet (`slug`) of a source."""

    source: str
    slug: str
    fields: tuple[Field, ...]
    #: compared with the last export of its slug (False: a legacy batch without rows, whose fields are only guessed
    #: from its template)
    tracked: bool = field(default=True, compare=False)

    @property
    def fingerprint(self) -> str:
        """The SHA-256 of the keys and types in order, cut to `FINGERPRINT_CHARS` hex characters."""
        shape = json.dumps([[f.key, f.type] for f in self.fields], separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(shape.encode("utf-8")).hexdigest()[:FINGERPRINT_CHARS]

    def to_dict(self) -> dict[str, Any]:
        """The stored document (one line of JSON under the schema prefix)."""
        return {"schemaVersion": 1, "source": self.source, "slug": self.slug, "fingerprint": self.fingerprint,
                "fields": [f.to_dict() for f in self.fields]}

    @classmethod
    def from_fields(cls, source: str, slug: str, fields: Iterable[Mapping[str, Any]]) -> ExportSchema:
        return cls(source, slug, tuple(Field(str(f["key"]), _text(f.get("label")), _text(f.get("type")))
                                       for f in fields))


@dataclass(frozen=True)
class SchemaChange:
    """How a schema differs from the last one of its slug: `previous` fingerprint, keys `added`, `removed`,
    `retyped` (same key, another type)."""

    previous: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()

    @classmethod
    def between(cls, old: ExportSchema, new: ExportSchema) -> SchemaChange:
        before = {f.key: f.type for f in old.fields}
        after = {f.key: f.type for f in new.fields}
        return cls(old.fingerprint, tuple(k for k in after if k not in before),
                   tuple(k for k in before if k not in after),
                   tuple(k for k in after if k in before and before[k] != after[k]))

    def to_dict(self) -> dict[str, Any]:
        return {"previous": self.previous, "added": list(self.added), "removed": list(self.removed),
                "retyped": list(self.retyped)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchemaChange:
        return cls(str(data["previous"]), *(tuple(str(k) for k in data.get(name) or ())
                                            for name in ("added", "removed", "retyped")))


def slugify(text: str) -> str:
    """A path-safe slug: lower case letters, digits, `-` and `_`.

    Example:
        >>> slugify("Products (EU)")
        'products-eu'
    """
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-") or "unknown"


def legacy_schema(batch: Mapping[str, Any], seen: Iterable[str]) -> ExportSchema:
    """A legacy batch's schema: its template's fields (`__schema__`) for the keys `seen` in its rows' `mapped`,
    in the template's order, then the keys the template lacks as seen; no keys seen: the template's fields."""
    found = batch.get("__schema__")
    template: Mapping[str, Any] = found if isinstance(found, dict) else {}
    listed = [f for f in template.get("fields") or () if isinstance(f, dict) and isinstance(f.get("key"), str)]
    keys = list(dict.fromkeys(seen))
    tracked = bool(keys)
    if keys:
        known = {f["key"] for f in listed}
        present = set(keys)
        listed = [f for f in listed if f["key"] in present] + [{"key": k} for k in keys if k not in known]
    name = template.get("slug") or template.get("name")
    schema_id = template.get("id", batch.get("schemaId"))
    slug = slugify(str(name)) if isinstance(name, str) and name else (
        f"schema-{slugify(str(schema_id))}" if schema_id is not None else "unknown")
    return replace(ExportSchema.from_fields("legacy", slug, listed), tracked=tracked)


def platform_schema(slug: str, fields: Iterable[Mapping[str, Any]]) -> ExportSchema:
    """A Platform sheet's schema: its configuration's fields (`key`, `label`, `type`), in order."""
    return ExportSchema.from_fields("platform", slugify(slug), fields)


def schema_key(prefix: str, schema: ExportSchema) -> str:
    """``{prefix}schemas/<source>/<slug>/<fingerprint>.json``."""
    return f"{prefix}schemas/{schema.source}/{schema.slug}/{schema.fingerprint}.json"


def store_schema(s3: Any, bucket: str, prefix: str, schema: ExportSchema) -> str:
    """Write the schema's document (its content depends only on the schema: writing it again changes nothing);
    its s3:// URI."""
    key = schema_key(prefix, schema)
    body = (json.dumps(schema.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return s3_uri(bucket, key)


def record_schema(ledger: Ledger, schema: ExportSchema, export_id: str, store: Callable[[], object]
                  ) -> SchemaChange | None:
    """Compare `schema` with the last one of its slug and record it as the last: the change, or None. `store`
    writes the schema's document; it runs before the ledger names a new fingerprint (so a named one is stored)."""
    key = f"{SCHEMA_ITEM_PREFIX}{schema.source}:{schema.slug}"
    fingerprint, fields = schema.fingerprint, schema.to_dict()["fields"]
    for _ in range(_MOVE_ATTEMPTS):
        current = ledger.schema_item(key)
        if current is not None and current.get("fingerprint") == fingerprint:
            change = current.get("change")
            if current.get("changedBy") == export_id and isinstance(change, dict):
                return SchemaChange.from_dict(change)  # a retry of the export that moved it
            return None
        store()
        if current is None:
            if ledger.move_schema(key, None, fingerprint, fields, None, export_id):
                return None
            continue
        change = SchemaChange.between(ExportSchema.from_fields(schema.source, schema.slug, current.get("fields") or ()),
                                      schema)
        if ledger.move_schema(key, str(current.get("fingerprint")), fingerprint, fields, change.to_dict(), export_id):
            return change
    raise SchemaMovingError(f"the schema of {schema.source} {schema.slug} kept changing under export {export_id}; "
                            "the job is retried")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
