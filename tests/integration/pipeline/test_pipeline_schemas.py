"""The published JSON Schemas (events/schemas/) accept what the relay really writes and sends, and refuse
what breaks the contract. Validated with Powertools Validation (fastjsonschema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from support.functions import ROOT
from support.relay import MANIFEST_KEYS, NOTICE_KEYS, Relay

SCHEMAS = ROOT / "events" / "schemas"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def sibling(uri: str) -> Any:
    """Resolve a `$ref` to another schema of the folder (e.g. the event's detail: the notice)."""
    return json.loads((SCHEMAS / Path(uri).name).read_text(encoding="utf-8"))


def check(name: str, document: Any) -> None:
    validate(event=document, schema=schema(name), handlers={"": sibling})


def test_every_schema_is_published_and_names_the_contract_fields() -> None:
    assert sorted(path.name for path in SCHEMAS.glob("*.json")) == [
        "export-event.schema.json", "export-job.schema.json", "manifest.schema.json", "notice.schema.json",
    ]
    assert set(schema("manifest")["required"]) | {"source", "filename", "submittedAt", "customer"} == MANIFEST_KEYS
    assert set(schema("manifest")["properties"]) == MANIFEST_KEYS | {"nonFiniteRows"}  # only when there are any
    assert set(schema("notice")["required"]) | {"source", "filename", "submittedAt", "customer"} == NOTICE_KEYS
    assert set(schema("notice")["properties"]) == NOTICE_KEYS
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in SCHEMAS.glob("*.json"):
        assert f"(events/schemas/{path.name})" in readme, f"README does not link {path.name}"


def test_what_an_export_writes_and_sends_fits_the_schemas(relay: Relay) -> None:
    batch_ids = [relay.emu.samples[label] for label in ("nasty", "empty", "medium")]
    relay.webhook_with_token(batch_ids[0])
    relay.poll()
    jobs = relay.jobs()
    assert jobs
    for message in jobs:
        check("export-job", json.loads(message["Body"]))
    for batch_id in batch_ids:
        relay.export(batch_id)

    for batch_id in batch_ids:
        check("manifest", relay.manifest_dict(batch_id))
    notices = [json.loads(message["Body"]) for message in relay.notices()]
    events = relay.export_events()
    assert len(notices) == len(events) == len(batch_ids)
    for notice in notices:
        check("notice", notice)
    for event in events:
        check("export-event", event)
    assert any(notice["customer"] for notice in notices)


def test_the_sample_events_fit_the_schemas() -> None:
    events = ROOT / "events"
    check("export-job", json.loads(json.loads((events / "sqs_export_job.json").read_text())["Records"][0]["body"]))
    export_event = json.loads(json.loads((events / "sqs_notice.json").read_text())["Records"][0]["body"])
    check("export-event", export_event)
    check("notice", export_event["detail"])


@pytest.mark.parametrize(
    ("name", "document", "problem"),
    [
        ("manifest", {"schemaVersion": 1, "batchId": "b", "batch": {}, "rowCount": 0, "parts": [],
                      "exportedAt": "2021-03-01T20:23:04.512Z"}, "must contain"),
        ("manifest", {"schemaVersion": 1, "batchId": "b", "batch": {}, "rowCount": 1, "trigger": "schedule",
                      "parts": [{"uri": "s3://b/k.jsonl.gz", "rows": 1, "bytes": 1, "sha256": "AB"}],
                      "exportedAt": "2021-03-01T20:23:04.512Z"}, "sha256 must match pattern"),
        ("notice", {"type": "flatfile.batch.exported", "schemaVersion": 2, "batchId": "b", "rowCount": 0,
                    "manifestUri": "s3://b/m.json", "trigger": "schedule", "exportedAt": "x"}, "schemaVersion must"),
        ("notice", {"type": "flatfile.batch.exported", "schemaVersion": 1, "batchId": "b", "rowCount": 0,
                    "manifestUri": "s3://b/m.json", "trigger": "schedule", "exportedAt": "2021-03-01T20:23:04Z",
                    "customer": "Acme"}, "customer must be object or null"),
        ("export-job", {"batchId": "not-a-uuid"}, "batchId must match pattern"),
        ("export-event", {"source": "someone-else", "detail-type": "flatfile.batch.exported", "detail": {}},
         "source must be same as const"),
    ],
)
def test_the_schemas_refuse_what_breaks_the_contract(name: str, document: Any, problem: str) -> None:
    with pytest.raises(SchemaValidationError, match=problem):
        check(name, document)
