"""The manifest written for each exported batch, and the notice announcing it (docs/architecture.md §6).

Manifest (`{prefix}manifests/{batchId}.json`, one line of JSON, written last)::

    {"schemaVersion": 1, "source": "legacy", "batchId": "...", "batch": {...GET /rest/batch/{id}...}, "rowCount": N,
     "parts": [{"uri": "s3://bucket/key", "rows": n, "bytes": n, "sha256": "..."}],
     "exportedAt": "<ISO-8601 UTC>", "trigger": "schedule" | "webhook" | "replay" | "backfill",
     "filename": ..., "submittedAt": ..., "customer": ...}     (the last three copied from `batch`)

plus ``"counts": {"source": {"rows", "valid", "invalid", "deleted"}, "exported": {...the same...}}``: the source's
own counts (null where it gives no figure) and what the export wrote, checked to agree before anything was published
(`flatfile_relay.reconcile`; a Platform export's sheets carry their own), and ``"nonFiniteRows": n`` when n rows
held ``NaN`` or ``±Infinity``, which JSON lacks: their parts hold ``null`` there, and each such row names the
original texts by JSON pointer in its `nonFinite` field (`flatfile_relay.parts`).

Notice (one per exported batch, on the notices queue)::

    {"type": "flatfile.batch.exported", "schemaVersion": 1, "batchId": "...", "manifestUri": "s3://...",
     "rowCount": N, "trigger": "...", "exportedAt": "...", "filename": "..." | null,
     "submittedAt": "..." | null, "customer": {...the batch's end user...} | null}

The same notice is the `detail` of the EventBridge event published for the batch (`event_entry`).

`filename` and `customer` are an end user's text: the manifest's copies are cleaned of control characters,
line separators and bidirectional controls, the notice's are cleaned and bounded too (a cut text ends with
``… [truncated: see the manifest]``), so a notice always fits a message (`flatfile_relay.sanitise`).

A Platform export (`source` ``platform``; docs/architecture.md, item 10) has the same shape: `batchId` is the submit
job's id, `batch` is ``{"job": …, "workbook": …}``, and manifest and notice add `workbookId`, `spaceId`,
`environmentId` and `sheets` (``[{"id", "slug", "name", "rowCount"}]``, in workbook order); each part names its
`sheet` (slug). A legacy export writes none of these (`PLATFORM_FIELDS`); a document without `source` is legacy.

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

from flatfile_relay.errors import ContractError
from flatfile_relay.ids import LEGACY, Source
from flatfile_relay.layout import parse_s3_uri
from flatfile_relay.models import (
    SCHEMA_VERSION,
    Count,
    Document,
    InvalidDocumentError,
    SchemaVersion,
    Text,
    Trigger,
    parse_json,
)
from flatfile_relay.sanitise import bound_customer, bound_text, clean_customer, clean_text

__all__ = [
    "EVENT_DETAIL_TYPE",
    "EVENT_SOURCE",
    "NOTICE_TYPE",
    "PLATFORM_FIELDS",
    "SCHEMA_CHANGED",
    "Counts",
    "FieldStat",
    "Manifest",
    "ManifestError",
    "Notice",
    "Part",
    "S3Uri",
    "SchemaChangeDoc",
    "SchemaRef",
    "Sheet",
    "UnsupportedSchemaError",
    "event_entry",
    "routing",
    "schema_events",
]

NOTICE_TYPE: Final = "flatfile.batch.exported"

D = TypeVar("D", bound=Document)


class ManifestError(ContractError, ValueError):
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

CleanText = Annotated[str, AfterValidator(clean_text)]
"""End-user text in a manifest: unsafe characters replaced, never cut (`flatfile_relay.sanitise`)."""
CleanCustomer = Annotated[dict[str, Any], AfterValidator(clean_customer)]
BoundText = Annotated[str, AfterValidator(bound_text)]
"""End-user text in a notice: cleaned and cut to a size any message can carry (the manifest has it whole)."""
BoundCustomer = Annotated[dict[str, Any], AfterValidator(bound_customer)]


class Counts(Document):
    """A manifest's `counts`: the source's own (`rows`, `valid`, `invalid`, `deleted`; null where the source gives no
    figure) and what the export wrote (`flatfile_relay.reconcile`)."""

    source: dict[str, Count | None]
    exported: dict[str, Count]


class SchemaRef(Document):
    """Where an export's schema is stored (`flatfile_relay.schema_drift`): its fingerprint and s3:// URI."""

    fingerprint: Text
    uri: S3Uri


class SchemaChangeDoc(Document):
    """How the schema differs from the last export of the same template or sheet: the `previous` fingerprint and
    the field keys `added`, `removed` and `retyped`."""

    previous: Text
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()


class FieldStat(Document):
    """One field's quality in an export: cells `filled`, cells `invalid` (null when the source flags no cell),
    the first distinct validation `messages` (at most three)."""

    filled: Count
    invalid: Count | None = None
    messages: tuple[str, ...] = ()


#: what an export says of its rows' shape (a legacy manifest and notice at their top, a Platform one per sheet)
SchemaField = Annotated[SchemaRef | None, Field(default=None, alias="schema")]


#: fields only a Platform export writes: left out of a legacy export's documents when empty
PLATFORM_FIELDS = frozenset({"workbookId", "spaceId", "environmentId", "sheets", "sheet"})
#: fields written only when they say something (a count above zero, what an older manifest lacks)
OPTIONAL_FIELDS = PLATFORM_FIELDS | {"nonFiniteRows", "counts", "schema", "schemaChange", "fieldStats"}


class _Exported(Document):
    """A document of the relay's output: `PLATFORM_FIELDS` that are None are not written."""

    def to_dict(self) -> dict[str, Any]:
        return _without_empty_platform_fields(super().to_dict())


def _without_empty_platform_fields(data: dict[str, Any]) -> dict[str, Any]:
    for name in OPTIONAL_FIELDS.intersection(data):
        if data[name] is None:
            del data[name]
    for part in data.get("parts") or ():
        if isinstance(part, dict) and part.get("sheet", "") is None:
            del part["sheet"]
    for sheet in data.get("sheets") or ():
        for name in OPTIONAL_FIELDS.intersection(sheet) if isinstance(sheet, dict) else ():
            if sheet[name] is None:
                del sheet[name]
    return data


class Part(_Exported):
    """One gzip JSON Lines object of an export: where it is, how many rows, size and sha256 of its bytes, and
    (Platform) the slug of the sheet whose records it holds."""

    uri: S3Uri
    rows: Count
    bytes: Count
    sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")]
    sheet: str | None = None


class Sheet(Document):
    """One sheet of a Platform export: its id, slug, name and how many records the export holds (a manifest's
    sheets add the sheet's `counts`, `schema`, `schemaChange` and `fieldStats`; a notice's its `schema` and
    `schemaChange`)."""

    id: Text
    slug: Text
    name: str
    row_count: Count
    counts: Counts | None = None
    export_schema: SchemaField = None
    schema_change: SchemaChangeDoc | None = None
    field_stats: dict[str, FieldStat] | None = None


class _Platform(_Exported):
    """What manifest and notice say of a Platform export (all None for a legacy one)."""

    workbook_id: str | None = None
    space_id: str | None = None
    environment_id: str | None = None
    sheets: tuple[Sheet, ...] | None = None

    def notice_fields(self) -> dict[str, Any]:
        """The Platform fields, to copy from a manifest into its notice (sheets without the manifest's counts)."""
        fields = {name: getattr(self, name) for name in ("workbook_id", "space_id", "environment_id")}
        fields["sheets"] = None if self.sheets is None else tuple(
            sheet.model_copy(update={"counts": None, "field_stats": None}) for sheet in self.sheets)
        return fields


class Manifest(_Platform):
    """What one export produced. `parts` are in row order; `row_count` is the sum of their rows."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    source: Source = LEGACY
    batch_id: Text
    batch: dict[str, Any]
    row_count: Count
    parts: tuple[Part, ...]
    exported_at: Text
    trigger: Trigger
    #: copied from `batch` (see `routing`), so a JSON table over the manifests reads them as columns; cleaned
    filename: CleanText | None = None
    submitted_at: str | None = None
    customer: CleanCustomer | None = None
    #: rows whose NaN / ±Infinity were written as null (their `nonFinite` field keeps the original text)
    non_finite_rows: Count | None = None
    #: the source's own counts and what was written, which agreed (`flatfile_relay.reconcile`)
    counts: Counts | None = None
    #: a legacy export's schema, its change since the last export of its template, its fields' quality (a Platform
    #: export's are in its `sheets`)
    export_schema: SchemaField = None
    schema_change: SchemaChangeDoc | None = None
    field_stats: dict[str, FieldStat] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if "id" in self.batch and self.batch["id"] != self.batch_id:
            raise ValueError("batch.id differs from batchId")
        total = sum(part.rows for part in self.parts)
        if total != self.row_count:
            raise ValueError(f"rowCount {self.row_count} differs from the sum of its parts' rows {total}")
        if self.sheets is not None and sum(sheet.row_count for sheet in self.sheets) != self.row_count:
            raise ValueError(f"rowCount {self.row_count} differs from the sum of its sheets' rowCount")
        if self.counts is not None and self.counts.exported.get("rows") != self.row_count:
            raise ValueError(f"rowCount {self.row_count} differs from counts.exported.rows")
        return self

    def to_json(self) -> str:
        """The manifest as stored in S3: compact UTF-8 JSON on one line, so a JSON table reads one per row."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check a manifest; ManifestError names what is wrong."""
        return _parse(cls, text, "manifest")

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        return cls.from_json(json.dumps(data))


class Notice(_Platform):
    """The message announcing one exported batch on the notices queue; more fields may follow (`extra`)."""

    type: Literal["flatfile.batch.exported"] = NOTICE_TYPE
    schema_version: SchemaVersion = SCHEMA_VERSION
    source: Source = LEGACY
    batch_id: Text
    manifest_uri: S3Uri
    row_count: Count
    trigger: Trigger
    exported_at: Text
    #: the batch's `filename`, `submittedAt` and end user (`__endUser__`), so consumers route without the manifest;
    #: cleaned and bounded, so that every notice fits SQS's and EventBridge's limits (the manifest has them whole)
    filename: BoundText | None = None
    submitted_at: str | None = None
    customer: BoundCustomer | None = None
    #: a legacy export's schema and its change (a Platform export's are in its `sheets`)
    export_schema: SchemaField = None
    schema_change: SchemaChangeDoc | None = None

    model_config = ConfigDict(extra="allow")

    @property
    def extra(self) -> dict[str, Any]:
        """The fields this code does not know, as they came."""
        return dict(self.model_extra or {})

    @classmethod
    def for_manifest(cls, manifest: Manifest, manifest_uri: str) -> Notice:
        return cls(
            source=manifest.source, batch_id=manifest.batch_id, manifest_uri=manifest_uri,
            row_count=manifest.row_count, trigger=manifest.trigger, exported_at=manifest.exported_at,
            filename=manifest.filename, submitted_at=manifest.submitted_at, customer=manifest.customer,
            export_schema=manifest.export_schema, schema_change=manifest.schema_change,
            **manifest.notice_fields(),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Notice:
        """Parse and check a notice; ManifestError (UnsupportedSchemaError for another type/version)."""
        return _parse(cls, text, "notice")

    @classmethod
    def from_message(cls, text: str | bytes) -> Notice:
        """The notice of an SQS message: a notice (the notices queue), or the export's EventBridge event,
        whose `detail` is the notice (a queue an EventBridge rule delivers to).

        Example:
            >>> event = {"source": "flatfile-relay", "detail-type": "flatfile.batch.exported", "detail": {
            ...     "batchId": "b-1", "manifestUri": "s3://b/m.json", "rowCount": 0, "trigger": "replay",
            ...     "exportedAt": "2021-03-01T20:23:04.512Z"}}
            >>> Notice.from_message(json.dumps(event)).batch_id
            'b-1'
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError):
            return cls.from_json(text)  # names what is wrong
        if not (isinstance(data, dict) and "detail-type" in data):
            return cls.from_json(text)
        if data.get("source") != EVENT_SOURCE or data.get("detail-type") != EVENT_DETAIL_TYPE:
            raise UnsupportedSchemaError(
                f"event source and detail-type must be {EVENT_SOURCE!r} and {EVENT_DETAIL_TYPE!r}"
            )
        return _parse(cls, json.dumps(data.get("detail")), "event.detail")


def routing(batch: dict[str, Any]) -> dict[str, Any]:
    """What consumers route by, from a batch: its `filename`, `submittedAt` and end user (`customer`).

    Example:
        >>> routing({"filename": "a.csv", "submittedAt": None, "__endUser__": {"id": "u-1"}})
        {'filename': 'a.csv', 'submitted_at': None, 'customer': {'id': 'u-1'}}
    """
    filename, submitted_at, customer = (batch.get(k) for k in ("filename", "submittedAt", "__endUser__"))
    return {
        "filename": filename if isinstance(filename, str) else None,
        "submitted_at": submitted_at if isinstance(submitted_at, str) else None,
        "customer": customer if isinstance(customer, dict) else None,
    }


#: the EventBridge `source` and `detail-type` of an exported batch's event
EVENT_SOURCE: Final = "flatfile-relay"
EVENT_DETAIL_TYPE: Final = NOTICE_TYPE


def event_entry(notice: Notice, bus_name: str) -> dict[str, Any]:
    """The `PutEvents` entry announcing an exported batch on `bus_name`: detail = the notice.

    Example:
        >>> notice = Notice(batch_id="b-1", manifest_uri="s3://b/m.json", row_count=0, trigger="replay",
        ...                 exported_at="2021-03-01T20:23:04.512Z")
        >>> entry = event_entry(notice, "default")
        >>> entry["Source"], entry["DetailType"], json.loads(entry["Detail"])["batchId"]
        ('flatfile-relay', 'flatfile.batch.exported', 'b-1')
    """
    return {"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": notice.to_json(),
            "EventBusName": bus_name}


#: the EventBridge `detail-type` of a schema change (one event per change: `schema_events`)
SCHEMA_CHANGED: Final = "flatfile.schema.changed"


def schema_events(notice: Notice, bus_name: str) -> list[dict[str, Any]]:
    """The `PutEvents` entries announcing the schema changes of an export (a legacy batch's, each Platform sheet's):
    detail ``{"type", "schemaVersion", "source", "slug", "sheet", "fingerprint", "schemaUri", "previous", "added",
    "removed", "retyped", "batchId", "manifestUri", "exportedAt"}`` (`slug`: the template's or sheet's, from the
    schema's URI; `sheet`: the Platform sheet's slug, else null).

    Example:
        >>> notice = Notice(batch_id="b-1", manifest_uri="s3://b/m.json", row_count=0, trigger="replay",
        ...                 exported_at="2021-03-01T20:23:04.512Z",
        ...                 schema={"fingerprint": "f2", "uri": "s3://b/schemas/legacy/products/f2.json"},
        ...                 schema_change={"previous": "f1", "added": ["quantity"], "removed": ["qty"]})
        >>> [(e["DetailType"], json.loads(e["Detail"])["slug"]) for e in schema_events(notice, "default")]
        [('flatfile.schema.changed', 'products')]
    """
    described: list[tuple[str | None, SchemaRef | None, SchemaChangeDoc | None]] = [
        (None, notice.export_schema, notice.schema_change)]
    described += [(sheet.slug, sheet.export_schema, sheet.schema_change) for sheet in notice.sheets or ()]
    entries = []
    for sheet, schema, change in described:
        if schema is None or change is None:
            continue
        detail = {"type": SCHEMA_CHANGED, "schemaVersion": SCHEMA_VERSION, "source": notice.source,
                  "slug": schema.uri.rsplit("/", 2)[-2], "sheet": sheet, "fingerprint": schema.fingerprint,
                  "schemaUri": schema.uri, **change.to_dict(), "batchId": notice.batch_id,
                  "manifestUri": notice.manifest_uri, "exportedAt": notice.exported_at}
        entries.append({"Source": EVENT_SOURCE, "DetailType": SCHEMA_CHANGED, "EventBusName": bus_name,
                        "Detail": json.dumps(detail, ensure_ascii=False, separators=(",", ":"))})
    return entries


def _parse(model: type[D], text: str | bytes, what: str) -> D:
    try:
        return parse_json(model, text, what)
    except InvalidDocumentError as error:
        unsupported = {"type", "schemaVersion"} & set(error.fields)
        raise (UnsupportedSchemaError if unsupported else ManifestError)(str(error)) from None
