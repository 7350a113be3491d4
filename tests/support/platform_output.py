"""A Flatfile Platform export's output, written with the library's own models: for the tests of what reads it.

The readers, the consumer, the Glue tables and the JSON Schemas read both sources' objects. Until they read what
the Platform exporter writes, they read this: a submit job of the emulated Platform (`PlatformState`) laid out
exactly as architecture.md item 10 says, through `flatfile_relay.manifest` and `flatfile_relay.layout`:

- a row line is the record as the API holds it plus `batchId` (the job id), `sheet` (the slug), `sheetId` and
  `mapped` (field key → the cell's `value`), sheet by sheet in the workbook's order, records in the API's order;
- parts under ``rows/submitted_date=<job createdAt day>/<jobId>/part-NNNNN.jsonl.gz``, one sheet per part, each
  naming its `sheet`; a sheet without records has no part;
- the manifest (``source: platform``, `batch` = ``{"job", "workbook"}``, `workbookId`, `spaceId`, `environmentId`,
  `sheets`, `filename` = the workbook's name, `submittedAt` = the job's `createdAt`, `customer` = the space's
  `metadata.userInfo`), the notice (`Notice.for_manifest`) and the EventBridge event (`event_entry`).

To test against a real export instead, replace `platform_export(...).write(s3)` by the exporter's run for the
same job (and read the notice from the notices queue): the readers' tests do not care who wrote the objects.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flatfile_relay.layout import manifest_key, part_key, s3_uri, submitted_date
from flatfile_relay.manifest import EVENT_DETAIL_TYPE, EVENT_SOURCE, Manifest, Notice, Part, Sheet, event_entry
from flatfile_relay.timestamps import utc_now_iso


@dataclass
class PlatformExport:
    """The objects of one Platform export (by key, the manifest last), its documents and its rows."""

    bucket: str
    manifest: Manifest
    manifest_uri: str
    objects: dict[str, bytes] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def job_id(self) -> str:
        return self.manifest.batch_id

    @property
    def notice(self) -> Notice:
        return Notice.for_manifest(self.manifest, self.manifest_uri)

    def event(self) -> dict[str, Any]:
        """The export's EventBridge event as a rule's target receives it (detail = the notice)."""
        return {"version": "0", "id": f"evt-{self.job_id}", "source": EVENT_SOURCE, "detail-type": EVENT_DETAIL_TYPE,
                "account": "123456789012", "time": self.manifest.exported_at[:19] + "Z", "region": "us-east-1",
                "resources": [], "detail": json.loads(self.notice.to_json())}

    def write(self, s3: Any) -> None:
        """Put every object in the bucket with `s3.put_object` (boto3's signature), the manifest last."""
        for key, body in self.objects.items():
            s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def announce(self, sqs: Any, events: Any, notices_queue_url: str, bus_name: str) -> None:
        """Send the notice to the notices queue and publish the event on the bus, as an export does."""
        sqs.send_message(QueueUrl=notices_queue_url, MessageBody=self.notice.to_json())
        answer = events.put_events(Entries=[event_entry(self.notice, bus_name)])
        assert answer.get("FailedEntryCount", 0) == 0, answer

    def rows_of(self, slug: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["sheet"] == slug]


def platform_export(state: Any, job_id: str, bucket: str, *, prefix: str = "flatfile/", trigger: str = "webhook",
                    part_max_rows: int = 50_000, exported_at: str | None = None) -> PlatformExport:
    """The export of the emulated Platform's submit job `job_id` (`state`: a devkit `PlatformState`), exported at
    `exported_at` (now when None)."""
    job = state.job(job_id)
    workbook = state.workbook(job["source"])
    space = state.spaces[workbook["spaceId"]]
    date = submitted_date(job)
    objects: dict[str, bytes] = {}
    parts: list[Part] = []
    sheets: list[Sheet] = []
    rows: list[dict[str, Any]] = []
    for sheet in workbook["sheets"]:
        lines = list(_row_lines(state, job_id, sheet))
        rows.extend(lines)
        sheets.append(Sheet(id=sheet["id"], slug=sheet["slug"], name=sheet["name"], row_count=len(lines)))
        for start in range(0, len(lines), part_max_rows):
            key = part_key(prefix, job_id, date, len(parts))
            body = _gzip_lines(lines[start:start + part_max_rows])
            objects[key] = body
            parts.append(Part(uri=s3_uri(bucket, key), rows=len(lines[start:start + part_max_rows]), bytes=len(body),
                              sha256=hashlib.sha256(body).hexdigest(), sheet=sheet["slug"]))
    user_info = (space.get("metadata") or {}).get("userInfo")
    manifest = Manifest(
        source="platform", batch_id=job_id, batch={"job": job, "workbook": workbook}, row_count=len(rows),
        parts=tuple(parts), exported_at=exported_at or utc_now_iso(), trigger=trigger, filename=workbook["name"],
        submitted_at=job["createdAt"], customer=user_info if isinstance(user_info, dict) else None,
        workbook_id=workbook["id"], space_id=workbook["spaceId"], environment_id=workbook["environmentId"],
        sheets=tuple(sheets),
    )
    key = manifest_key(prefix, job_id)
    objects[key] = manifest.to_json().encode("utf-8")
    return PlatformExport(bucket=bucket, manifest=manifest, manifest_uri=s3_uri(bucket, key), objects=objects,
                          rows=rows)


def submit(state: Any, label: str) -> str:
    """Press the submit action of the sample workbook `label`: the new job's id."""
    return str(state.submit(state.sample_id(label))["id"])


def _row_lines(state: Any, job_id: str, sheet: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for record in state.records_of(sheet["id"]):
        mapped = {key: cell.get("value") for key, cell in record["values"].items()}
        yield {**record, "batchId": job_id, "sheet": sheet["slug"], "sheetId": sheet["id"], "mapped": mapped}


def _gzip_lines(rows: list[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows)
    return gzip.compress(text.encode("utf-8"), mtime=0)
