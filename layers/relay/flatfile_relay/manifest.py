"""The manifest written for each exported batch, and the notice announcing it (architecture.md §6).

Manifest (`{prefix}batches/{batchId}/manifest.json`, written last)::

    {"schemaVersion": 1, "batchId": "...", "batch": {...GET /rest/batch/{id}...}, "rowCount": N,
     "parts": [{"uri": "s3://bucket/key", "rows": n, "bytes": n, "sha256": "..."}],
     "exportedAt": "<ISO-8601 UTC>", "trigger": "schedule" | "webhook" | "replay" | "backfill"}

Notice (one per exported batch, on the notices queue)::

    {"type": "flatfile.batch.exported", "schemaVersion": 1, "batchId": "...", "manifestUri": "s3://...",
     "rowCount": N, "trigger": "...", "exportedAt": "..."}

`from_json` checks every field and names the one that is wrong; unknown extra fields are ignored, so
readers keep working when fields are added.

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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flatfile_relay.jobs import TRIGGERS
from flatfile_relay.layout import parse_s3_uri

SCHEMA_VERSION = 1
NOTICE_TYPE = "flatfile.batch.exported"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest or a notice does not follow the contract; the message names the offending field."""


class UnsupportedSchemaError(ManifestError):
    """The document declares a `schemaVersion` (or notice `type`) this code does not understand."""


@dataclass(frozen=True)
class Part:
    """One gzip JSON Lines object of an export: where it is, how many rows, size and sha256 of its bytes."""

    uri: str
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Any, where: str = "part") -> Part:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where} must be a JSON object, not {_kind(data)}")
        uri = _str(data, "uri", where)
        try:
            parse_s3_uri(uri)
        except ValueError:
            raise ManifestError(f"{where}.uri must be an s3://bucket/key URI, not {uri[:200]!r}") from None
        sha256 = _str(data, "sha256", where)
        if not _SHA256.match(sha256):
            raise ManifestError(f"{where}.sha256 must be 64 lowercase hex digits, not {sha256[:80]!r}")
        return cls(
            uri=uri, rows=_count(data, "rows", where), bytes=_count(data, "bytes", where), sha256=sha256
        )


@dataclass(frozen=True)
class Manifest:
    """What one export produced. `parts` are in row order; `row_count` is the sum of their rows."""

    batch_id: str
    batch: dict[str, Any]
    row_count: int
    parts: tuple[Part, ...]
    exported_at: str
    trigger: str
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        total = sum(part.rows for part in self.parts)
        if total != self.row_count:
            raise ManifestError(
                f"manifest rowCount {self.row_count} differs from the sum of its parts' rows {total}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": self.schema_version,
            "batchId": self.batch_id,
            "batch": self.batch,
            "rowCount": self.row_count,
            "parts": [part.to_dict() for part in self.parts],
            "exportedAt": self.exported_at,
            "trigger": self.trigger,
        }

    def to_json(self) -> str:
        """The manifest as stored in S3 (UTF-8 JSON, indented for people)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check a manifest; ManifestError names what is wrong."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as error:
            raise ManifestError(f"manifest is not valid JSON: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, Mapping):
            raise ManifestError(f"manifest must be a JSON object, not {_kind(data)}")
        _schema_version(data, "manifest")
        batch_id = _str(data, "batchId", "manifest")
        batch = data.get("batch")
        if not isinstance(batch, dict):
            raise ManifestError(f"manifest.batch must be a JSON object, not {_kind(batch)}")
        if "id" in batch and batch["id"] != batch_id:
            raise ManifestError(
                f"manifest.batch.id {str(batch['id'])[:64]!r} differs from batchId {batch_id!r}"
            )
        raw_parts = data.get("parts")
        if not isinstance(raw_parts, list):
            raise ManifestError(f"manifest.parts must be a list, not {_kind(raw_parts)}")
        parts = tuple(Part.from_dict(item, f"manifest.parts[{i}]") for i, item in enumerate(raw_parts))
        return cls(
            batch_id=batch_id,
            batch=batch,
            row_count=_count(data, "rowCount", "manifest"),
            parts=parts,
            exported_at=_str(data, "exportedAt", "manifest"),
            trigger=_trigger(data, "manifest"),
        )


@dataclass(frozen=True)
class Notice:
    """The message announcing one exported batch on the notices queue."""

    batch_id: str
    manifest_uri: str
    row_count: int
    trigger: str
    exported_at: str
    type: str = NOTICE_TYPE
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_manifest(cls, manifest: Manifest, manifest_uri: str) -> Notice:
        return cls(
            batch_id=manifest.batch_id, manifest_uri=manifest_uri, row_count=manifest.row_count,
            trigger=manifest.trigger, exported_at=manifest.exported_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "schemaVersion": self.schema_version,
            "batchId": self.batch_id,
            "manifestUri": self.manifest_uri,
            "rowCount": self.row_count,
            "trigger": self.trigger,
            "exportedAt": self.exported_at,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Notice:
        """Parse and check a notice; ManifestError (UnsupportedSchemaError for another type/version)."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as error:
            raise ManifestError(f"notice is not valid JSON: {error}") from None
        if not isinstance(data, Mapping):
            raise ManifestError(f"notice must be a JSON object, not {_kind(data)}")
        if data.get("type") != NOTICE_TYPE:
            raise UnsupportedSchemaError(
                f"notice.type is {str(data.get('type'))[:80]!r}, expected {NOTICE_TYPE!r}"
            )
        _schema_version(data, "notice")
        manifest_uri = _str(data, "manifestUri", "notice")
        try:
            parse_s3_uri(manifest_uri)
        except ValueError:
            raise ManifestError(
                f"notice.manifestUri must be an s3://bucket/key URI, not {manifest_uri[:200]!r}"
            ) from None
        known = {"type", "schemaVersion", "batchId", "manifestUri", "rowCount", "trigger", "exportedAt"}
        return cls(
            batch_id=_str(data, "batchId", "notice"),
            manifest_uri=manifest_uri,
            row_count=_count(data, "rowCount", "notice"),
            trigger=_trigger(data, "notice"),
            exported_at=_str(data, "exportedAt", "notice"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _schema_version(data: Mapping[str, Any], where: str) -> None:
    version = data.get("schemaVersion")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise UnsupportedSchemaError(
            f"{where}.schemaVersion is {version!r}; this reader understands schemaVersion {SCHEMA_VERSION}"
        )


def _str(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where}.{name} must be a non-empty string, not {_kind(value)}")
    return value


def _count(data: Mapping[str, Any], name: str, where: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestError(f"{where}.{name} must be a whole number >= 0, not {_kind(value)}")
    return value


def _trigger(data: Mapping[str, Any], where: str) -> str:
    value = data.get("trigger")
    if value not in TRIGGERS:
        raise ManifestError(f"{where}.trigger must be one of {', '.join(TRIGGERS)}, not {str(value)[:40]!r}")
    return str(value)


def _kind(value: Any) -> str:
    if value is None:
        return "missing/null"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:80])
    return type(value).__name__
