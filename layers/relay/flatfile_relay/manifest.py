"""The manifest written for each exported batch, and the notice announcing it (architecture.md §6).

Manifest (`{prefix}batches/{batchId}/manifest.json`, written last)::

    {"schemaVersion": 1, "batchId": "...", "batch": {...GET /rest/batch/{id}...}, "rowCount": N,
     "parts": [{"uri": "s3://bucket/key", "rows": n, "bytes": n, "sha256": "..."}],
     "exportedAt": "<ISO-8601 UTC>", "trigger": "schedule" | "webhook" | "replay" | "backfill"}

Notice (one per exported batch, on the notices queue)::

    {"type": "flatfile.batch.exported", "schemaVersion": 1, "batchId": "...", "manifestUri": "s3://...",
     "rowCount": N, "trigger": "...", "exportedAt": "..."}

`from_json` checks every field and names the ones that are wrong, never quoting a value; unknown fields are
ignored (a notice keeps them in `extra`), so readers keep working when fields are added.

Example:
    >>> part = Part(uri="s3://b/k/part-00000.jsonl.gz", rows=2, bytes=40, sha256="0" * 64)
    >>> manifest = Manifest(batch_id="b-1", batch={"id": "b-1"}, row_count=2, parts=(part,),
    ...                     exported_at="2021-03-01T20:23:04.512Z", trigger="schedule")
    >>> Manifest.from_json(manifest.to_json()) == manifest
    True
    >>> Notice.for_manifest(manifest, "s3://b/k/manifest.json").row_count
    2
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from flatfile_relay.jobs import Trigger
from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.models import (
    SCHEMA_VERSION,
    Count,
    Document,
    InvalidDocumentError,
    SchemaVersion,
    Text,
    parse_json,
)

NOTICE_TYPE: Final = "flatfile.batch.exported"

D = TypeVar("D", bound=Document)


class ManifestError(ValueError):
    """A manifest or a notice does not follow the contract; the message names the offending field."""


class UnsupportedSchemaError(ManifestError):
    """The document declares a `schemaVersion` (or notice `type`) this code does not understand."""


def _s3_uri(value: str) -> str:
    try:
        parse_s3_uri(value)
    except ValueError:
        raise ValueError("must be an s3://bucket/key URI") from None
    return value


S3Uri = Annotated[str, AfterValidator(_s3_uri)]


class Part(Document):
    """One gzip JSON Lines object of an export: where it is, how many rows, size and sha256 of its bytes."""

    uri: S3Uri
    rows: Count
    bytes: Count
    sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class Manifest(Document):
    """What one export produced. `parts` are in row order; `row_count` is the sum of their rows."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    batch_id: Text
    batch: dict[str, Any]
    row_count: Count
    parts: tuple[Part, ...]
    exported_at: Text
    trigger: Trigger

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if "id" in self.batch and self.batch["id"] != self.batch_id:
            raise ValueError("batch.id differs from batchId")
        total = sum(part.rows for part in self.parts)
        if total != self.row_count:
            raise ValueError(f"rowCount {self.row_count} differs from the sum of its parts' rows {total}")
        return self

    def to_json(self) -> str:
        """The manifest as stored in S3 (UTF-8 JSON, indented for people)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check a manifest; ManifestError names what is wrong."""
        return _parse(cls, text, "manifest")

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        return cls.from_json(json.dumps(data))


class Notice(Document):
    """The message announcing one exported batch on the notices queue; more fields may follow (`extra`)."""

    type: Literal["flatfile.batch.exported"] = NOTICE_TYPE
    schema_version: SchemaVersion = SCHEMA_VERSION
    batch_id: Text
    manifest_uri: S3Uri
    row_count: Count
    trigger: Trigger
    exported_at: Text

    model_config = ConfigDict(extra="allow")

    @property
    def extra(self) -> dict[str, Any]:
        """The fields this code does not know, as they came."""
        return dict(self.model_extra or {})

    @classmethod
    def for_manifest(cls, manifest: Manifest, manifest_uri: str) -> Notice:
        return cls(
            batch_id=manifest.batch_id, manifest_uri=manifest_uri, row_count=manifest.row_count,
            trigger=manifest.trigger, exported_at=manifest.exported_at,
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Notice:
        """Parse and check a notice; ManifestError (UnsupportedSchemaError for another type/version)."""
        return _parse(cls, text, "notice")


def _parse(model: type[D], text: str | bytes, what: str) -> D:
    try:
        return parse_json(model, text, what)
    except InvalidDocumentError as error:
        unsupported = {"type", "schemaVersion"} & set(error.fields)
        raise (UnsupportedSchemaError if unsupported else ManifestError)(str(error)) from None
