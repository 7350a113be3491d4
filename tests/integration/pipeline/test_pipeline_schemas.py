"""The published JSON Schemas (events/schemas/) accept what the relay really writes and sends, for both sources, and
refuse what breaks the contract. Validated with Powertools Validation (fastjsonschema).

A Flatfile Platform export is laid out by tests/support/platform_output.py with the library's own models (as the
Platform exporter writes it), its notice sent and its event published through moto like an export's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from support.docs import blocks
from support.functions import ROOT
from support.platform_output import PlatformExport, platform_export, submit
from support.relay import MANIFEST_KEYS, NOTICE_KEYS, Relay

from flatfile_relay.manifest import PLATFORM_FIELDS

SCHEMAS = ROOT / "events" / "schemas"
BATCH = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
PLATFORM_MANIFEST = {
    "schemaVersion": 1, "source": "platform", "batchId": "us_jb_4fX2kQ", "batch": {}, "rowCount": 0, "parts": [],
    "trigger": "webhook", "exportedAt": "2021-03-01T20:23:04.512Z", "workbookId": "us_wb_7Qp1",
    "spaceId": "us_sp_3Zr8", "environmentId": "us_env_a1b2c3d4",
    "sheets": [{"id": "us_sh_1", "slug": "s", "name": "S", "rowCount": 0}],
}


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
        "row-legacy.schema.json", "row-platform.schema.json", "row.schema.json", "schema-changed-event.schema.json",
    ]
    platform = PLATFORM_FIELDS - {"sheet"}  # a part's field
    # counts: absent from manifests written before the relay reconciled
    assert set(schema("manifest")["required"]) | {"source", "filename", "submittedAt", "customer",
                                                  "counts", "schema", "fieldStats"} == MANIFEST_KEYS
    # nonFiniteRows only when there are any, the Platform's fields only in a Platform export
    # schemaChange only when the shape changed
    assert set(schema("manifest")["properties"]) == MANIFEST_KEYS | {"nonFiniteRows", "schemaChange"} | platform
    assert set(schema("manifest")["properties"]["parts"]["items"]["properties"]) == {"uri", "rows", "bytes",
                                                                                     "sha256", "sheet"}
    assert set(schema("notice")["required"]) | {"source", "filename", "submittedAt", "customer",
                                                "schema"} == NOTICE_KEYS
    assert set(schema("notice")["properties"]) == NOTICE_KEYS | {"schemaChange"} | platform
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
    assert [entry["$ref"] for entry in schema("row")["oneOf"]] == ["row-legacy.schema.json",
                                                                   "row-platform.schema.json"]
    batch_ids = [relay.emu.samples[label] for label in ("nasty", "medium", "single")]
    checked = 0
    for batch_id in batch_ids:
        relay.export(batch_id)
        for row in relay.exported_rows(batch_id):
            check("row", row)
            checked += 1
    assert checked > 250
    assert set(schema("row-legacy")["properties"]) >= {key for row in relay.exported_rows(batch_ids[0]) for key in row}


@pytest.fixture
def platform_exports(relay: Relay) -> list[PlatformExport]:
    """Two Platform submit jobs exported into the relay's bucket (two sheets; invalid records), notices sent and
    events published."""
    exports = []
    for label in ("customers_orders", "products"):
        export = platform_export(relay.emu.platform, submit(relay.emu.platform, label), relay.settings.export_bucket,
                                 prefix=relay.settings.export_prefix, part_max_rows=10)
        export.write(relay.deployment.clients.s3)
        export.announce(relay.deployment.clients.sqs, relay.deployment.clients.events,
                        relay.settings.notices_queue_url, relay.settings.event_bus_name)
        exports.append(export)
    return exports


def test_what_a_platform_export_writes_and_sends_fits_the_schemas(relay: Relay,
                                                                  platform_exports: list[PlatformExport]) -> None:
    notices = [json.loads(message["Body"]) for message in relay.notices()]
    events = relay.export_events()
    assert len(notices) == len(events) == len(platform_exports)
    for export in platform_exports:
        manifest = relay.manifest_dict(export.job_id)
        assert manifest["source"] == "platform"
        check("manifest", manifest)
        rows = relay.exported_rows(export.job_id)
        assert len(rows) == manifest["rowCount"] > 0
        for row in rows:
            check("row", row)
            check("row-platform", row)
            with pytest.raises(SchemaValidationError):
                check("row-legacy", row)  # oneOf: exactly one source's schema fits a row
        assert set(schema("row-platform")["properties"]) >= {key for row in rows for key in row}
    for notice in notices:
        check("notice", notice)
    for event in events:
        check("export-event", event)
    assert {notice["batchId"] for notice in notices} == {export.job_id for export in platform_exports}


def test_the_documented_examples_fit_the_schemas() -> None:
    """docs/output.md shows a manifest, a row line and a notice: each fits its schema."""
    manifest, row, notice = (json.loads(b.text) for b in blocks("docs/output.md", "## Layout", "json"))
    check("manifest", manifest)
    check("row", row)
    check("notice", notice)
    assert set(notice["customer"]) == set(schema("notice")["properties"]["customer"]["properties"])
    manifest, row, notice = (json.loads(b.text) for b in blocks("docs/output.md", "### A Flatfile Platform export",
                                                                   "json"))
    assert manifest["source"] == notice["source"] == "platform"
    check("manifest", manifest)
    check("row-platform", row)
    check("row", row)
    check("notice", notice)


def test_the_sample_events_fit_the_schemas() -> None:
    events = ROOT / "events"
    check("export-job", json.loads(json.loads((events / "sqs_export_job.json").read_text())["Records"][0]["body"]))
    export_event = json.loads(json.loads((events / "sqs_notice.json").read_text())["Records"][0]["body"])
    check("export-event", export_event)
    check("notice", export_event["detail"])


@pytest.mark.parametrize(
    ("name", "document", "problem"),
    [
        ("manifest", {"schemaVersion": 1, "batchId": BATCH, "batch": {}, "rowCount": 0, "parts": [],
                      "exportedAt": "2021-03-01T20:23:04.512Z"}, "must contain"),
        ("manifest", {"schemaVersion": 1, "batchId": BATCH, "batch": {}, "rowCount": 1, "trigger": "schedule",
                      "parts": [{"uri": "s3://b/k.jsonl.gz", "rows": 1, "bytes": 1, "sha256": "AB"}],
                      "exportedAt": "2021-03-01T20:23:04.512Z"}, "sha256 must match pattern"),
        ("manifest", {"schemaVersion": 1, "batchId": "batch-1", "batch": {}, "rowCount": 0, "parts": [],
                      "trigger": "schedule", "exportedAt": "2021-03-01T20:23:04.512Z"}, "batchId must match pattern"),
        ("manifest", {**PLATFORM_MANIFEST, "sheets": None}, "sheets must be array"),
        ("manifest", {key: value for key, value in PLATFORM_MANIFEST.items() if key != "sheets"}, "must contain"),
        ("manifest", {**PLATFORM_MANIFEST, "parts": [{"uri": "s3://b/k.jsonl.gz", "rows": 1, "bytes": 1,
                                                      "sha256": "0" * 64}]}, r"parts\[0\] must contain"),
        ("notice", {"type": "flatfile.batch.exported", "schemaVersion": 2, "batchId": BATCH, "rowCount": 0,
                    "manifestUri": "s3://b/m.json", "trigger": "schedule", "exportedAt": "x"}, "schemaVersion must"),
        ("notice", {"type": "flatfile.batch.exported", "schemaVersion": 1, "batchId": BATCH, "rowCount": 0,
                    "manifestUri": "s3://b/m.json", "trigger": "schedule", "exportedAt": "2021-03-01T20:23:04Z",
                    "customer": "Acme"}, "customer must be object or null"),
        ("notice", {"type": "flatfile.batch.exported", "schemaVersion": 1, "source": "platform",
                    "batchId": "us_jb_4fX2kQ", "rowCount": 0, "manifestUri": "s3://b/m.json", "trigger": "schedule",
                    "exportedAt": "2021-03-01T20:23:04Z"}, "must contain"),
        ("row", {"id": "us_rc_1", "batchId": "us_jb_4fX2kQ", "values": {"sku": {"value": "A"}}, "sheetId": "us_sh_1",
                 "mapped": {"sku": "A"}}, "must be valid exactly by one"),
        ("row-platform", {"id": "us_rc_1", "batchId": "us_jb_4fX2kQ", "sheet": "s", "sheetId": "us_sh_1",
                          "values": {"sku": "A"}, "mapped": {"sku": "A"}}, "values.sku must be object"),
        ("export-job", {"batchId": "not-a-uuid"}, "batchId must match pattern"),
        ("export-event", {"source": "someone-else", "detail-type": "flatfile.batch.exported", "detail": {}},
         "source must be same as const"),
        ("row", {"id": "1", "batchId": "b", "raw": [], "mapped": {}, "valid": "yes", "deleted": False,
                 "sequence": 0}, "must be valid exactly by one"),
        ("manifest", {"schemaVersion": 1, "batchId": BATCH, "batch": {}, "rowCount": 0, "parts": [],
                      "trigger": "schedule", "exportedAt": "2021-03-01T20:23:04.512Z", "customer": {"teamId": []}},
         "teamId must be integer or string or null"),
    ],
)
def test_the_schemas_refuse_what_breaks_the_contract(name: str, document: Any, problem: str) -> None:
    with pytest.raises(SchemaValidationError, match=problem):
        check(name, document)


def test_a_platform_document_that_keeps_the_contract_fits() -> None:
    """The refusals above are of what they change: the same Platform manifest, whole, fits."""
    check("manifest", PLATFORM_MANIFEST)
    check("row-platform", {"id": "us_rc_1", "batchId": "us_jb_4fX2kQ", "sheet": "s", "sheetId": "us_sh_1",
                           "values": {"sku": {"value": "A"}}, "mapped": {"sku": "A"}})


def test_a_schema_change_fits_the_schemas_in_manifest_notice_and_its_own_event(relay: Relay) -> None:
    clients, bus = relay.clients, relay.settings.event_bus_name
    url = clients.sqs.create_queue(QueueName="schema-changes")["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients.events.put_rule(Name="schema-changes", EventBusName=bus,
                            EventPattern=json.dumps({"detail-type": ["flatfile.schema.changed"]}))
    clients.events.put_targets(Rule="schema-changes", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    first = relay.add_batch([{"sku": "A", "qty": "1"}], valid=[False])
    second = relay.add_batch([{"sku": "A", "quantity": "1"}])
    relay.export(first)
    relay.export(second)

    manifest = relay.manifest_dict(second)
    assert manifest["schemaChange"]["added"] == ["quantity"]
    for batch_id in (first, second):
        check("manifest", relay.manifest_dict(batch_id))
    for notice in relay.notice_bodies():
        check("notice", notice)
    [event] = [json.loads(message["Body"]) for message in relay.drain(url)]
    check("schema-changed-event", event)
    assert event["detail"]["schemaUri"] == manifest["schema"]["uri"]
