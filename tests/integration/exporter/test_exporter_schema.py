"""Schema and drift: every export records the schema of what it wrote (stored once per fingerprint), and a change
from the last export of the same template or sheet is named in manifest, notice and event, and announced once by a
`flatfile.schema.changed` event. Against the emulator over HTTP and moto (a rule on the bus delivers the events to
a queue, as a subscriber's would)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from support.relay import Relay

from flatfile_relay.schema_drift import ExportSchema, Field, SchemaChange, record_schema


@pytest.fixture
def schema_events(relay: Relay) -> Callable[[], list[dict[str, Any]]]:
    """A queue subscribed to the bus's `flatfile.schema.changed` events: a call drains it (their details)."""
    clients = relay.clients
    url = clients.sqs.create_queue(QueueName="schema-changes")["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = relay.settings.event_bus_name
    clients.events.put_rule(Name="schema-changes", EventBusName=bus, EventPattern=json.dumps(
        {"source": ["flatfile-relay"], "detail-type": ["flatfile.schema.changed"]}))
    clients.events.put_targets(Rule="schema-changes", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def drain() -> list[dict[str, Any]]:
        return [json.loads(message["Body"])["detail"] for message in relay.drain(url)]

    return drain


def stored(relay: Relay, uri: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(relay.object_at(uri))
    return document


def products(keys: list[str], count: int = 3) -> list[dict[str, Any]]:
    return [{key: f"{key}-{index}" for key in keys} for index in range(count)]


def test_a_field_renamed_between_two_imports_of_a_template_is_named_once(
    relay: Relay, schema_events: Callable[[], list[dict[str, Any]]]
) -> None:
    first = relay.add_batch(products(["sku", "qty", "notes"]))
    second = relay.add_batch(products(["sku", "quantity", "notes"]))
    third = relay.add_batch(products(["sku", "quantity", "notes"]))

    outcomes = [relay.export(batch_id) for batch_id in (first, second, third)]

    assert [outcome.schema_changes for outcome in outcomes] == [0, 1, 0]
    manifests = [relay.manifest_dict(batch_id) for batch_id in (first, second, third)]
    assert "schemaChange" not in manifests[0]
    assert "schemaChange" not in manifests[2]
    change = {"previous": manifests[0]["schema"]["fingerprint"], "added": ["quantity"], "removed": ["qty"],
              "retyped": []}
    assert manifests[1]["schemaChange"] == change
    assert manifests[1]["schema"]["fingerprint"] == manifests[2]["schema"]["fingerprint"] != change["previous"]
    notices = {notice["batchId"]: notice for notice in relay.notice_bodies()}
    assert notices[second]["schemaChange"] == change
    assert "schemaChange" not in notices[first]
    [exported] = [event["detail"] for event in relay.export_events() if event["detail"]["batchId"] == second]
    assert exported["schemaChange"] == change
    [event] = schema_events()
    assert {k: event[k] for k in ("type", "source", "slug", "sheet", "batchId", "previous", "added", "removed",
                                  "retyped", "fingerprint", "schemaUri")} == {
        "type": "flatfile.schema.changed", "source": "legacy", "slug": "products", "sheet": None, "batchId": second,
        **change, "fingerprint": manifests[1]["schema"]["fingerprint"], "schemaUri": manifests[1]["schema"]["uri"]}


def test_the_schema_is_the_templates_fields_in_order_stored_once_per_fingerprint(relay: Relay) -> None:
    batch_id = relay.add_batch(products(["notes", "sku", "extra"]))
    again = relay.add_batch(products(["notes", "sku", "extra"]))

    relay.export(batch_id)
    relay.export(again)

    manifest = relay.manifest_dict(batch_id)
    uri = manifest["schema"]["uri"]
    assert uri == (f"s3://{relay.bucket}/flatfile/schemas/legacy/products/{manifest['schema']['fingerprint']}"
                   ".json")
    document = stored(relay, uri)
    labels = {f["key"]: f["label"] for f in relay.emu.state.account.schema["fields"]}
    # the template's order for the keys it knows, then the others as the rows showed them
    assert document["fields"] == [{"key": "sku", "label": labels["sku"], "type": None},
                                  {"key": "notes", "label": labels["notes"], "type": None},
                                  {"key": "extra", "label": None, "type": None}]
    assert (document["source"], document["slug"], document["fingerprint"]) == (
        "legacy", "products", manifest["schema"]["fingerprint"])
    assert relay.manifest_dict(again)["schema"] == manifest["schema"]
    assert relay.object_keys("flatfile/schemas/") == [uri.split("/", 3)[3]]


def test_a_replay_of_the_export_that_changed_the_schema_announces_no_second_event(
    relay: Relay, schema_events: Callable[[], list[dict[str, Any]]]
) -> None:
    first = relay.add_batch(products(["sku", "qty"]))
    second = relay.add_batch(products(["sku", "qty", "price"]))
    relay.export(first)
    relay.export(second)

    outcome = relay.export(second, trigger="replay")

    assert (outcome.status, outcome.schema_changes) == ("exported", 0)
    assert relay.manifest_dict(second)["schemaChange"]["added"] == ["price"]  # the manifest still says it
    assert len(schema_events()) == 1


def test_the_ledger_moves_a_slugs_schema_once_and_a_retry_finds_its_own_change(relay: Relay) -> None:
    old = ExportSchema("legacy", "orders", (Field("id"), Field("qty", type="number")))
    new = ExportSchema("legacy", "orders", (Field("id"), Field("qty", type="string")))
    writes: list[str] = []

    def store() -> None:
        writes.append("stored")

    assert record_schema(relay.ledger, old, "batch-1", store) is None
    change = record_schema(relay.ledger, new, "batch-2", store)

    assert change == SchemaChange(old.fingerprint, retyped=("qty",))
    assert record_schema(relay.ledger, new, "batch-2", store) == change  # a retry of the export that moved it
    assert record_schema(relay.ledger, new, "batch-3", store) is None  # a duplicate: no second change
    assert writes == ["stored", "stored"]  # stored before each fingerprint the ledger names, not again


def test_a_platform_sheet_renamed_between_submissions_is_named_on_its_sheet(
    platform_relay: Callable[..., Relay],
) -> None:
    relay = platform_relay(part_max_rows=1000)
    platform = relay.emu.platform
    space = platform.add_space("Contacts space")["id"]

    def workbook(fields: list[dict[str, str]]) -> str:
        sheet = {"name": "Contacts", "slug": "contacts", "fields": fields}
        return str(platform.add_workbook(space, "Contacts", [sheet])["id"])

    before = workbook([{"key": "email", "type": "string", "label": "Email"},
                       {"key": "age", "type": "number", "label": "Age"}])
    after = workbook([{"key": "mail", "type": "string", "label": "Email"},
                      {"key": "age", "type": "string", "label": "Age"}])
    jobs = [relay.submit(before), relay.submit(after)]

    assert [relay.export_job(job_id).schema_changes for job_id in jobs] == [0, 1]

    [sheet_before], [sheet_after] = (relay.manifest_dict(job_id)["sheets"] for job_id in jobs)
    assert "schemaChange" not in sheet_before
    assert sheet_after["schemaChange"] == {"previous": sheet_before["schema"]["fingerprint"], "added": ["mail"],
                                           "removed": ["email"], "retyped": ["age"]}
    assert stored(relay, sheet_after["schema"]["uri"])["fields"] == [
        {"key": "mail", "label": "Email", "type": "string"}, {"key": "age", "label": "Age", "type": "string"}]
    notice = next(notice for notice in relay.notice_bodies() if notice["batchId"] == jobs[1])
    assert notice["sheets"][0]["schemaChange"] == sheet_after["schemaChange"]
    assert "/schemas/platform/contacts/" in sheet_after["schema"]["uri"]
