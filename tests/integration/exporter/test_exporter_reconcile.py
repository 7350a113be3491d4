"""Reconciliation: what an export wrote must agree with the source's own counts before anything is published.

A count that disagrees for a while (the source settling) publishes nothing and the export is retried from its first
row; one that still disagrees on the job's last delivery is a contract error naming both figures, the job ends in the
DLQ and `ReconciliationFailed` is counted. Legacy batches (countRows, countRowsAccepted, countRowsInvalid) and
Platform sheets (`GET sheets/{id}/counts`), against the emulator over HTTP and moto.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable

import pytest
from support.cloudwatch import emitted_metrics
from support.functions import ROOT
from support.relay import Relay, rows_of

from flatfile_relay.deadline import Deadline
from flatfile_relay.errors import ContractError, TransientError
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import EXPORTED, EXPORTING
from flatfile_relay.platform_export import GIVE_UP_MESSAGE
from flatfile_relay.reconcile import CountsDisagreeError, ReconciliationFailedError
from flatfile_relay_devkit.local.lambda_runtime import LocalLambda


def part_flags(relay: Relay, manifest: dict) -> dict[str, int]:
    """rows / valid / invalid / deleted counted from the rows in the manifest's parts."""
    rows = [row for part in manifest["parts"] for row in relay.part_rows(part["uri"])]
    live = [row for row in rows if not row.get("deleted")]
    return {"rows": len(rows), "valid": sum(1 for row in live if row["valid"] is True),
            "invalid": sum(1 for row in live if row["valid"] is False),
            "deleted": sum(1 for row in rows if row.get("deleted"))}


def assert_nothing_published(relay: Relay, batch_id: str) -> None:
    assert relay.object_keys("flatfile/manifests/") == []
    assert relay.notices() == []
    assert relay.export_events() == []
    assert relay.entry(batch_id).state != EXPORTED


def test_the_manifest_counts_are_the_batchs_own_and_the_rows_in_its_parts(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_import(rows=47)  # every tenth invalid, every seventh deleted
    batch = relay.emu.state.batch(batch_id)

    assert relay.export(batch_id).status == "exported"

    manifest = relay.manifest_dict(batch_id)
    counted = part_flags(relay, manifest)
    assert manifest["counts"]["exported"] == counted
    assert counted["deleted"] > 0
    assert counted["invalid"] > 0
    assert manifest["counts"]["source"] == {"rows": batch["countRows"], "valid": batch["countRowsAccepted"],
                                            "invalid": batch["countRowsInvalid"], "deleted": None}
    assert manifest["counts"]["exported"]["rows"] == manifest["rowCount"] == 47


def test_a_batch_without_counts_says_null_and_is_exported(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(3))
    relay.emu.state.update_batch(batch_id, countRows=None, countRowsAccepted="3")
    relay.emu.state.update_batch(batch_id, **{"countRowsInvalid": True})

    assert relay.export(batch_id).status == "exported"

    counts = relay.manifest_dict(batch_id)["counts"]
    assert counts["source"] == {"rows": None, "valid": None, "invalid": None, "deleted": None}
    assert counts["exported"] == {"rows": 3, "valid": 3, "invalid": 0, "deleted": 0}


def test_counts_that_disagree_for_a_while_publish_nothing_until_they_agree(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_batch(rows_of(25))
    relay.emu.state.skew_counts(batch_id, reads=1, countRows=1)

    with pytest.raises(CountsDisagreeError, match=r"rows: 25 exported, the source counts 26 \(countRows\)") as error:
        relay.export(batch_id)

    assert isinstance(error.value, TransientError)
    assert_nothing_published(relay, batch_id)
    entry = relay.entry(batch_id)
    assert (entry.state, entry.parts, entry.next_skip, entry.lease_expires_at) == (EXPORTING, (), 0, 0)

    relay.emu.clear_request_log()
    outcome = relay.export(batch_id)

    assert (outcome.status, outcome.row_count, outcome.rows_written) == ("exported", 25, 25)  # read again
    manifest = relay.manifest_dict(batch_id)
    assert manifest["counts"]["source"]["rows"] == manifest["counts"]["exported"]["rows"] == 25
    assert len(relay.notices()) == 1


def test_counts_that_still_disagree_on_the_last_delivery_are_a_contract_error_naming_both(relay: Relay) -> None:
    batch_id = relay.add_import(rows=20)
    relay.emu.state.skew_counts(batch_id, countRowsAccepted=-2)

    with pytest.raises(CountsDisagreeError):
        relay.export(batch_id)
    with pytest.raises(ReconciliationFailedError) as error:
        relay.export(batch_id, last_delivery=True)

    assert isinstance(error.value, ContractError)
    accepted = relay.emu.state.batch(batch_id)["countRowsAccepted"]
    assert f"valid: {accepted} exported, the source counts {accepted - 2} (countRowsAccepted)" in str(error.value)
    assert "last delivery" in str(error.value)
    assert_nothing_published(relay, batch_id)


def test_an_export_resumed_in_another_invocation_counts_every_row(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_import(rows=35)
    rows_read = lambda: len(relay.emu.requests_to(f"/rest/batch/{batch_id}/rows"))  # noqa: E731
    cut = Deadline(2.5, clock=lambda: float(rows_read()))

    assert relay.export(batch_id, deadline=cut, reserve=1.0).status == "continued"
    assert relay.entry(batch_id).tally is not None

    assert relay.export(batch_id, trigger="schedule", resume=True).status == "exported"

    manifest = relay.manifest_dict(batch_id)
    assert manifest["counts"]["exported"] == part_flags(relay, manifest)


def test_parts_recorded_without_counts_are_exported_again_from_the_first_row(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=10, page_size=10)
    batch_id = relay.add_import(rows=35)
    rows_read = lambda: len(relay.emu.requests_to(f"/rest/batch/{batch_id}/rows"))  # noqa: E731
    assert relay.export(batch_id, deadline=Deadline(2.5, clock=lambda: float(rows_read())),
                        reserve=1.0).status == "continued"
    # an entry written before the relay counted rows
    relay.clients.dynamodb.update_item(TableName=relay.settings.ledger_table, Key={"batchId": {"S": batch_id}},
                                       UpdateExpression="REMOVE exportTally")

    outcome = relay.export(batch_id, resume=True)

    assert (outcome.status, outcome.rows_written) == ("exported", 35)
    manifest = relay.manifest_dict(batch_id)
    assert manifest["counts"]["exported"] == part_flags(relay, manifest)


def test_a_permanent_mismatch_ends_in_the_dlq_with_reconciliation_failed_counted(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(5))
    relay.emu.state.skew_counts(batch_id, countRowsInvalid=1)
    job = ExportJob.create(batch_id, trigger="schedule")
    relay.sqs.send_message(QueueUrl=relay.queue_url, MessageBody=job.to_message())
    runtime = LocalLambda(relay.deployment, ROOT, env_overrides=relay.env)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        report = runtime.drain("ExporterFunction")

    assert (report.delivered, report.failed, report.succeeded) == (5, 5, 0)
    [dead] = relay.drain(relay.deployment.refs["ExportJobsDLQ"])
    assert json.loads(dead["Body"])["batchId"] == batch_id
    assert_nothing_published(relay, batch_id)
    metrics = {name for _, name, _ in emitted_metrics(printed.getvalue())}
    assert "ReconciliationFailed" in metrics
    logged = [json.loads(line) for line in printed.getvalue().splitlines() if '"level":"ERROR"' in line]
    assert sum(1 for line in logged if "ReconciliationFailedError" in line["message"]) == 1
    assert any("invalid: 0 exported, the source counts 1 (countRowsInvalid)" in line["message"] for line in logged)


# -- the Platform ---------------------------------------------------------------------------------------------


@pytest.fixture
def platform(platform_relay: Callable[..., Relay]) -> Relay:
    return platform_relay(part_max_rows=1000)


def test_a_platform_manifest_carries_each_sheets_counts(platform: Relay) -> None:
    relay = platform
    sheet_id = relay.emu.platform.sample_id("orders")
    job_id = relay.submit("customers_orders")

    assert relay.export_job(job_id).status == "exported"

    manifest = relay.manifest_dict(job_id)
    orders = next(sheet for sheet in manifest["sheets"] if sheet["slug"] == "orders")
    served = relay.emu.platform.counts(sheet_id)
    assert orders["counts"]["source"] == {"rows": served["total"], "valid": served["valid"],
                                          "invalid": served["error"], "deleted": None}
    assert orders["counts"]["exported"] == {"rows": 30, "valid": served["valid"], "invalid": served["error"],
                                            "deleted": 0}
    assert manifest["counts"]["exported"]["rows"] == manifest["rowCount"] == 42
    assert manifest["counts"]["source"]["rows"] == 42


def test_a_platform_sheet_whose_counts_disagree_for_a_while_publishes_nothing_until_they_agree(
        platform: Relay) -> None:
    relay = platform
    job_id = relay.submit("customers_orders")
    relay.emu.platform.skew_counts(relay.emu.platform.sample_id("orders"), reads=1, total=2)

    with pytest.raises(CountsDisagreeError, match=r"sheet orders: rows: 30 exported, the source counts 32 \(total\)"):
        relay.export_job(job_id)

    assert_nothing_published(relay, job_id)
    assert relay.emu.platform.job(job_id)["status"] == "executing"  # not failed: retried

    assert relay.export_job(job_id).status == "exported"
    assert relay.emu.platform.job(job_id)["outcome"] == {"message": "Exported 42 records to AWS"}


def test_a_platform_mismatch_on_the_last_delivery_fails_the_job_with_the_data_safe(platform: Relay) -> None:
    relay = platform
    job_id = relay.submit("customers_orders")
    relay.emu.platform.skew_counts(relay.emu.platform.sample_id("customers"), valid=-1)

    with pytest.raises(ReconciliationFailedError, match=r"sheet customers: valid: 12 exported, the source counts 11"):
        relay.export_job(job_id, last_delivery=True)

    assert_nothing_published(relay, job_id)
    job = relay.emu.platform.job(job_id)
    assert (job["status"], job["outcome"]) == ("failed", {"message": GIVE_UP_MESSAGE})
