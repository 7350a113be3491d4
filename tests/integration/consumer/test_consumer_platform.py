"""Both readers and the sample consumer over Flatfile Platform exports in moto (over HTTP), beside legacy ones.

The Platform exports are laid out by tests/support/platform_output.py with the library's own models, exactly as
architecture.md item 10 says; their notices are sent and their events published through moto as an export's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.docs import block
from support.functions import function_app, lambda_context
from support.platform_output import PlatformExport, platform_export, submit
from support.relay import Relay, sqs_event

from flatfile_relay.consumer import handle_notice
from flatfile_relay.manifest import ManifestError
from flatfile_relay.reader import ReaderError, iter_rows, load_manifest, sheet_parts
from flatfile_relay_devkit import reader as kit


def exported(relay: Relay, label: str) -> PlatformExport:
    """The sample workbook `label` submitted and exported (parts of 10 records), its notice sent and event
    published."""
    export = platform_export(relay.emu.platform, submit(relay.emu.platform, label), relay.settings.export_bucket,
                             prefix=relay.settings.export_prefix, part_max_rows=10)
    export.write(relay.clients.s3)
    export.announce(relay.clients.sqs, relay.deployment.clients.events, relay.settings.notices_queue_url,
                    relay.settings.event_bus_name)
    return export


def local_copy(relay: Relay, root: Path) -> Path:
    for key in relay.object_keys():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(relay.object_bytes(key))
    return root


def test_both_readers_read_a_platform_export_whole_and_sheet_by_sheet(relay: Relay, tmp_path: Path) -> None:
    export = exported(relay, "customers_orders")
    copy = local_copy(relay, tmp_path / "out")
    uri = export.manifest_uri

    manifest = load_manifest(uri, relay.clients.s3)
    rows = list(iter_rows(uri, relay.clients.s3))

    assert (manifest.source, manifest.row_count) == ("platform", 42)
    assert [(sheet.slug, sheet.row_count) for sheet in manifest.sheets or ()] == [("customers", 12), ("orders", 30)]
    assert rows == export.rows  # the records as written, sheet after sheet
    assert [row["sheet"] for row in rows] == ["customers"] * 12 + ["orders"] * 30
    orders = list(iter_rows(uri, relay.clients.s3, sheet="orders"))
    assert orders == export.rows_of("orders")
    assert len(sheet_parts(manifest, "orders")) == 3  # 30 records, parts of 10
    for source in (relay.clients.s3, copy):
        assert list(kit.iter_rows(uri, source)) == rows
        assert list(kit.iter_rows(uri, source, sheet="orders")) == orders
    loaded = kit.load_manifest(uri, copy)
    assert (loaded.source, [(sheet.slug, sheet.name, sheet.row_count) for sheet in loaded.sheets]) == (
        "platform", [("customers", "Customers", 12), ("orders", "Orders", 30)])
    assert {part.sheet for part in loaded.parts} == {"customers", "orders"}
    for read in (lambda: list(iter_rows(uri, relay.clients.s3, sheet="returns")),
                 lambda: list(kit.iter_rows(uri, copy, sheet="returns"))):
        with pytest.raises((ManifestError, kit.ManifestError), match="has no sheet 'returns'; its sheets: customers"):
            read()


def test_the_kit_summarises_each_sheet_records_and_invalid_ones(relay: Relay, tmp_path: Path) -> None:
    products = exported(relay, "products")
    empty = exported(relay, "returns")  # one sheet without records: no part
    copy = local_copy(relay, tmp_path / "out")

    [summary] = kit.sheet_summaries(products.manifest_uri, copy)
    [nothing] = kit.sheet_summaries(empty.manifest_uri, relay.clients.s3)

    invalid = [row for row in products.rows if not row["valid"]]
    assert (summary.slug, summary.name, summary.rows, summary.invalid) == ("products", "Products", 25, len(invalid))
    assert summary.valid == 25 - len(invalid)
    assert len(invalid) >= 5
    assert (nothing.slug, nothing.rows, nothing.invalid) == ("returns", 0, 0)
    assert empty.manifest.parts == ()
    legacy = relay.export(relay.emu.samples["single"]).manifest_uri
    assert legacy is not None
    with pytest.raises(kit.ManifestError, match="is a legacy batch: it has no sheets"):
        kit.sheet_summaries(legacy, relay.clients.s3)


def test_a_sheet_that_holds_other_records_than_its_manifest_says_is_refused(relay: Relay) -> None:
    export = exported(relay, "customers_orders")
    document = json.loads(relay.object_at(export.manifest_uri))
    document["sheets"][0]["rowCount"], document["sheets"][1]["rowCount"] = 13, 29  # the total still adds up
    bucket, key = export.manifest_uri[len("s3://"):].split("/", 1)
    relay.clients.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())

    with pytest.raises(kit.ReaderError, match=r"sheet customers of export \S+ holds 12 records, the manifest says 13"):
        kit.sheet_summaries(export.manifest_uri, relay.clients.s3)
    [message] = relay.notices()
    with pytest.raises(ReaderError, match="sheet customers holds 12 records, the manifest says 13"):
        handle_notice(message["Body"], relay.clients.s3)


def test_the_consumer_summarises_a_platform_notice_per_sheet(relay: Relay) -> None:
    export = exported(relay, "customers_orders")
    [message] = relay.notices()

    summary = handle_notice(message["Body"], relay.clients.s3)

    assert (summary.source, summary.batch_id, summary.rows, summary.deleted) == ("platform", export.job_id, 42, 0)
    assert summary.valid + summary.invalid == 42
    assert [sheet.to_dict() for sheet in summary.sheets] == [
        {"sheet": slug, "name": name, "rows": len(export.rows_of(slug)),
         "valid": len([row for row in export.rows_of(slug) if row["valid"]]),
         "invalid": len([row for row in export.rows_of(slug) if not row["valid"]])}
        for slug, name in (("customers", "Customers"), ("orders", "Orders"))]
    assert summary.fill_rates["notes"] < 1.0  # some orders have no notes cell, some a null one
    assert summary.fill_rates["orderId"] == round(30 / 42, 4)  # a field of one sheet only


def test_the_handler_reads_both_sources_events_from_its_queue(
    relay: Relay, captured_logs: pytest.CaptureFixture[str]
) -> None:
    """The events the template's rule delivers to the sample consumer's own queue: a legacy batch's and a
    Platform job's, in one SQS event."""
    legacy = relay.emu.samples["single"]
    assert relay.export(legacy).status == "exported"
    export = exported(relay, "products")
    events = relay.export_events()
    assert {event["detail"]["batchId"] for event in events} == {legacy, export.job_id}
    app = function_app("consumer", fresh=True)

    response = app.handler(sqs_event("sqs_notice.json", [json.dumps(event) for event in events]),
                           lambda_context("ConsumerFunction"))

    assert response == {"batchItemFailures": []}
    logs = [json.loads(line) for line in captured_logs.readouterr().out.splitlines() if line.startswith("{")]
    summaries = {line["summary"]["batchId"]: line for line in logs if line.get("summary")}
    platform: Any = summaries[export.job_id]
    assert platform["summary"]["source"] == "platform"
    assert platform["summary"]["sheets"][0]["sheet"] == "products"
    assert platform["message"] == (f"platform export {export.job_id}: 25 rows consumed; sheet products: 25 "
                                   f"records, {platform['summary']['invalid']} invalid")
    assert summaries[legacy]["summary"]["source"] == "legacy"
    assert "sheets" not in summaries[legacy]["summary"]


def test_a_notice_whose_source_differs_from_its_manifest_is_rejected(relay: Relay) -> None:
    exported(relay, "products")
    [message] = relay.notices()
    body = {**json.loads(message["Body"]), "source": "legacy"}
    with pytest.raises(ReaderError, match="does not match the manifest"):
        handle_notice(json.dumps(body), relay.clients.s3)


def test_the_documented_sheet_by_sheet_reading_runs_on_a_local_copy(
    relay: Relay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/output.md, "Reading a Platform export sheet by sheet": for a notice, as the consumer above it has one,
    over ./out (here a copy of the bucket in a folder of that name)."""
    export = exported(relay, "customers_orders")
    local_copy(relay, tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"notice": json.loads(export.notice.to_json()), "source": "out"}

    exec(block("docs/output.md", "### Reading a Platform export sheet by sheet", "python").text, namespace)  # noqa: S102

    invalid = len([row for row in export.rows_of("orders") if not row["valid"]])
    assert capsys.readouterr().out.splitlines() == ["Customers: 12 records, 0 invalid",
                                                    f"Orders: 30 records, {invalid} invalid"]
    assert namespace["orders"] == export.rows_of("orders")
