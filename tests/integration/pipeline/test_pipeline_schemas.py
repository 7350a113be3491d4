"""The published JSON Schemas (events/schemas/) accept what the relay really writes and sends, and refuse
what breaks the contract. Validated with Powertools Validation (fastjsonschema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from support.docs import blocks
from support.functions import ROOT
from support.relay import MANIFEST_KEYS, NOTICE_KEYS, Relay

SCHEMAS = ROOT / "events" / "schemas"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def sibling(uri: str) -> Any:
    """Resolve a `$ref` to another schema of the folder (e.g. the event's detail: the notice)."""
    return json.loads((SCHEMAS / Path(uri.split("#", 1)[0]).name).read_text(encoding="utf-8"))


def check(name: str, document: Any) -> None:
    validate(event=document, schema=schema(name), handlers={"": sibling})


def test_every_schema_is_published_and_names_the_contract_fields() -> None:
    assert sorted(path.name for path in SCHEMAS.glob("*.json")) == [
        "export-event.schema.json", "export-job.schema.json", "manifest.schema.json", "notice.schema.json",
        "row-legacy.schema.json", "row.schema.json",
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


def test_the_notice_schema_lists_every_field_of_the_customer_the_relay_sends(relay: Relay) -> None:
    """`customer` is the batch's `__endUser__` as Flatfile returns it: every key of it has its place in the
    schema (the manifest's `customer` is the same object), those the API documents and those it sends."""
    listed = set(schema("notice")["properties"]["customer"]["properties"])
    assert schema("manifest")["properties"]["customer"]["$ref"] == "notice.schema.json#/properties/customer"
    documented = {"id", "userId", "name", "email", "companyId", "companyName", "teamId", "createdAt", "updatedAt"}
    assert listed == documented  # shared/flatfile-api.md, "Batch": __endUser__
    batch_id = relay.emu.samples["nasty"]
    relay.export(batch_id)
    [notice] = [json.loads(message["Body"]) for message in relay.notices()]
    assert notice["customer"]
    assert set(notice["customer"]) <= listed
    assert set(relay.manifest_dict(batch_id)["customer"]) <= listed
    sample = json.loads(json.loads((ROOT / "events" / "sqs_notice.json").read_text())["Records"][0]["body"])
    assert set(sample["detail"]["customer"]) <= listed


def test_every_row_line_the_relay_writes_fits_the_row_schema(relay: Relay) -> None:
    """One schema per source under row.schema.json; a legacy row line is the API's row, unfiltered."""
    assert [entry["$ref"] for entry in schema("row")["oneOf"]] == ["row-legacy.schema.json"]
    batch_ids = [relay.emu.samples[label] for label in ("nasty", "medium", "single")]
    checked = 0
    for batch_id in batch_ids:
        relay.export(batch_id)
        for row in relay.exported_rows(batch_id):
            check("row", row)
            checked += 1
    assert checked > 250
    assert set(schema("row-legacy")["properties"]) >= {key for row in relay.exported_rows(batch_ids[0]) for key in row}


def test_the_documented_examples_fit_the_schemas() -> None:
    """docs/output.md shows a manifest, a row line and a notice: each fits its schema."""
    manifest, row, notice = (json.loads(b.text) for b in blocks("docs/output.md", "## Layout", "json"))
    check("manifest", manifest)
    check("row", row)
    check("notice", notice)
    assert set(notice["customer"]) == set(schema("notice")["properties"]["customer"]["properties"])


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
        ("row", {"id": "1", "batchId": "b", "raw": [], "mapped": {}, "valid": "yes", "deleted": False,
                 "sequence": 0}, "must be valid exactly by one"),
        ("manifest", {"schemaVersion": 1, "batchId": "b", "batch": {}, "rowCount": 0, "parts": [],
                      "trigger": "schedule", "exportedAt": "2021-03-01T20:23:04.512Z", "customer": {"teamId": []}},
         "teamId must be integer or string or null"),
    ],
)
def test_the_schemas_refuse_what_breaks_the_contract(name: str, document: Any, problem: str) -> None:
    with pytest.raises(SchemaValidationError, match=problem):
        check(name, document)
