"""fieldStats: per field, cells filled and invalid and the first distinct validation messages, counted while the
rows stream (also across invocations), in the manifest; the sample consumer logs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from support.functions import function_app, lambda_context
from support.relay import Relay, sqs_event

from flatfile_relay.deadline import Deadline


def filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def test_a_legacy_manifest_counts_each_fields_filled_cells_across_invocations(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_batch([{"sku": f"S-{i}", "qty": str(i) if i % 3 else " ", "notes": None if i % 2 else "n"}
                                for i in range(35)])
    rows_read = lambda: len(relay.emu.requests_to(f"/rest/batch/{batch_id}/rows"))  # noqa: E731
    assert relay.export(batch_id, deadline=Deadline(2.5, clock=lambda: float(rows_read())),
                        reserve=1.0).status == "continued"

    assert relay.export(batch_id, resume=True).status == "exported"

    manifest = relay.manifest_dict(batch_id)
    rows = [row for part in manifest["parts"] for row in relay.part_rows(part["uri"])]
    assert manifest["fieldStats"] == {
        key: {"filled": sum(1 for row in rows if filled(row["mapped"].get(key))), "invalid": None, "messages": []}
        for key in ("sku", "qty", "notes")}
    assert manifest["fieldStats"]["qty"]["filled"] == 23


def test_a_platform_sheets_field_stats_name_its_invalid_cells_and_their_messages(
    platform_relay: Callable[..., Relay],
) -> None:
    relay = platform_relay(part_max_rows=10)
    job_id = relay.submit("products")

    assert relay.export_job(job_id).status == "exported"

    [sheet] = relay.manifest_dict(job_id)["sheets"]
    records = relay.emu.platform.records_of(relay.emu.platform.sample_id("products_sheet"))
    for key, stats in sheet["fieldStats"].items():
        cells = [record["values"].get(key) or {} for record in records]
        assert stats["filled"] == sum(1 for cell in cells if filled(cell.get("value"))), key
        assert stats["invalid"] == sum(1 for cell in cells if cell.get("valid") is False), key
        errors = [m["message"] for cell in cells for m in cell.get("messages", []) if m.get("type") == "error"]
        assert stats["messages"] == list(dict.fromkeys(errors))[:3], key
    assert any(stats["invalid"] for stats in sheet["fieldStats"].values())


def test_the_sample_consumer_logs_the_fields_with_invalid_cells(
    platform_relay: Callable[..., Relay], monkeypatch: pytest.MonkeyPatch, captured_logs: pytest.CaptureFixture[str]
) -> None:
    relay = platform_relay(part_max_rows=10)
    for key, value in relay.deployment.environment("ConsumerFunction").items():
        monkeypatch.setenv(key, value)
    job_id = relay.submit("products")
    relay.export_job(job_id)
    [notice] = relay.notices()
    stats = relay.manifest_dict(job_id)["sheets"][0]["fieldStats"]
    app = function_app("consumer", fresh=True)

    assert app.handler(sqs_event("sqs_notice.json", [notice["Body"]]),
                       lambda_context("ConsumerFunction")) == {"batchItemFailures": []}

    logs = [json.loads(line) for line in captured_logs.readouterr().out.splitlines()
            if line.startswith("{") and '"level"' in line]
    [summary] = [line for line in logs if line.get("summary")]
    assert summary["summary"]["fieldStats"] == {"products": stats}
    key, invalid = next((key, value) for key, value in stats.items() if value["invalid"])
    assert f"fields with invalid cells: products.{key}: {invalid['invalid']} invalid" in summary["message"]
    assert invalid["messages"][0] in summary["message"]
