"""export_platform_job against the emulator's Platform (HTTP) and moto (HTTP): what lands in S3, SQS and EventBridge
for a submit job (architecture.md item 10), what the job shows the end user, and what it costs in requests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from support.platform_export import (
    PLATFORM_KEYS,
    api_records,
    calls,
    expected_lines,
    platform_requests,
    settled,
    strict_loads,
    strict_rows,
    unlocked,
)
from support.relay import MANIFEST_KEYS, NOTICE_KEYS, PART_KEYS, Relay

from flatfile_relay.ledger import EXPORTED
from flatfile_relay_devkit.emulator.faults import FaultRule
from flatfile_relay_devkit.emulator.platform.samples import HUGE_NUMBER


@pytest.fixture
def relay(platform_relay: Callable[..., Relay]) -> Relay:
    """The exporter's relay (parts of up to 1,000 rows) with both sources' keys and the emulator's samples."""
    return platform_relay(part_max_rows=1000)

#: a one-sheet job of up to 10,000 records: job, ack, workbook, records, counts, space, complete (one page is one
#: answer of the server: no lock needed to read it whole)
ONE_SHEET_CALLS = [
    "GET /v1/jobs/{jobId}", "POST /v1/jobs/{jobId}/ack", "GET /v1/workbooks/{workbookId}",
    "GET /v1/sheets/{sheetId}/records", "GET /v1/sheets/{sheetId}/counts", "GET /v1/spaces/{spaceId}",
    "POST /v1/jobs/{jobId}/complete",
]


def test_a_two_sheet_workbook_lands_sheet_by_sheet_with_its_manifest_notice_and_event(relay: Relay) -> None:
    platform = relay.emu.platform
    workbook_id = platform.sample_id("customers_orders")
    job_id = relay.submit("customers_orders")
    job = platform.job(job_id)

    outcome = relay.export_job(job_id, trigger="webhook")

    assert (outcome.status, outcome.row_count) == ("exported", 42)
    day = datetime.fromisoformat(job["createdAt"].replace("Z", "+00:00")).astimezone(UTC).date().isoformat()
    folder = f"flatfile/rows/submitted_date={day}/{job_id}/"
    assert relay.object_keys("flatfile/manifests/") + relay.object_keys("flatfile/rows/") == [
        f"flatfile/manifests/{job_id}.json", f"{folder}part-00000.jsonl.gz",
        f"{folder}part-00001.jsonl.gz"]  # one part a sheet: a part never spans two
    manifest = relay.manifest_dict(job_id)
    assert set(manifest) == MANIFEST_KEYS - {"schema", "fieldStats"} | PLATFORM_KEYS  # those per sheet
    assert (manifest["source"], manifest["batchId"], manifest["rowCount"], manifest["trigger"]) == (
        "platform", job_id, 42, "webhook")
    assert manifest["batch"]["workbook"] == platform.workbook(workbook_id)
    assert (manifest["batch"]["job"]["id"], manifest["batch"]["job"]["status"]) == (job_id, "executing")
    assert set(manifest["batch"]) == {"job", "workbook"}
    space = platform.spaces[platform.workbooks[workbook_id]["spaceId"]]
    assert (manifest["workbookId"], manifest["spaceId"], manifest["environmentId"]) == (
        workbook_id, space["id"], relay.emu.platform_secret["platformEnvironmentId"])
    described = {"counts", "schema", "schemaChange", "fieldStats"}
    assert [{k: v for k, v in sheet.items() if k not in described} for sheet in manifest["sheets"]] == [
        {"id": platform.sample_id("customers"), "slug": "customers", "name": "Customers", "rowCount": 12},
        {"id": platform.sample_id("orders"), "slug": "orders", "name": "Orders", "rowCount": 30}]
    assert [sheet["counts"]["exported"]["rows"] for sheet in manifest["sheets"]] == [12, 30]
    assert [(part["sheet"], part["rows"]) for part in manifest["parts"]] == [("customers", 12), ("orders", 30)]
    assert all(set(part) == PART_KEYS | {"sheet"} for part in manifest["parts"])
    assert (manifest["filename"], manifest["submittedAt"], manifest["customer"]) == (
        "Customers and orders", job["createdAt"], space["metadata"]["userInfo"])
    # every record, in workbook then API order, as the API sent it plus the four fields
    rows = [value for _, value in strict_rows(relay, manifest)]
    assert rows == expected_lines(relay, job_id, workbook_id)
    assert all(row["sheet"] == part["sheet"] for part in manifest["parts"]
               for row in [value for _, value in strict_rows(relay, {"parts": [part]})])
    # one notice and one event, announcing it
    [notice] = relay.notice_bodies()
    assert set(notice) == NOTICE_KEYS - {"schema"} | PLATFORM_KEYS
    assert (notice["source"], notice["batchId"], notice["rowCount"], notice["filename"], notice["submittedAt"]) == (
        "platform", job_id, 42, "Customers and orders", job["createdAt"])
    assert notice["customer"] == space["metadata"]["userInfo"]
    assert (notice["sheets"], notice["workbookId"]) == (
        [{k: v for k, v in sheet.items() if k not in {"counts", "fieldStats"}} for sheet in manifest["sheets"]],
        workbook_id)
    [event] = relay.export_events()
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "flatfile-relay", "flatfile.batch.exported", notice)
    # the end user's side: completed with an outcome in their words; no sheet left locked
    done = platform.job(job_id)
    assert (done["status"], done["outcome"], done["info"]) == (
        "complete", {"message": "Exported 42 records to AWS"}, "Exporting to AWS")
    assert unlocked(relay, workbook_id)
    assert relay.entry(job_id).state == EXPORTED


def test_invalid_records_keep_their_messages_and_every_value_its_exact_text(relay: Relay) -> None:
    platform = relay.emu.platform
    job_id = relay.submit("products")
    sheet_id = platform.sample_id("products_sheet")

    assert relay.export_job(job_id).status == "exported"

    manifest = relay.manifest_dict(job_id)
    lines = strict_rows(relay, manifest)
    sent = api_records(relay, sheet_id)
    assert len(lines) == len(sent) == 25
    for (text, row), record in zip(lines, sent, strict=True):
        assert text.startswith(record[:-1] + ',"batchId":')  # the record's own text, untouched
        assert row["mapped"] == {key: cell.get("value") for key, cell in strict_loads(record)["values"].items()}
    invalid = [row for _, row in lines if row["valid"] is False]
    assert len(invalid) == 6
    assert all(cell["messages"] for row in invalid for cell in row["values"].values() if cell["valid"] is False)
    assert {"type": "warn", "source": "custom-logic", "message": "Negative stock?"} in lines[12][1]["values"]["qty"][
        "messages"]
    # the 30-digit number: every digit, in the record and in `mapped`
    assert lines[10][1]["mapped"]["price"] == HUGE_NUMBER
    assert '"mapped":{"sku":"P-011","name":' in lines[10][0]
    assert f'"price":{HUGE_NUMBER},' in lines[10][0].split('"mapped":')[1]
    assert platform.job(job_id)["outcome"] == {"message": "Exported 25 records to AWS"}


def test_an_empty_sheet_gives_an_empty_export_and_a_job_completed_with_zero_records(relay: Relay) -> None:
    platform = relay.emu.platform
    job_id = relay.submit("returns")

    assert relay.export_job(job_id).status == "exported"

    manifest = relay.manifest_dict(job_id)
    assert (manifest["rowCount"], manifest["parts"], manifest["customer"]) == (0, [], None)
    [sheet] = manifest["sheets"]
    assert {k: v for k, v in sheet.items() if k not in {"schema", "fieldStats"}} == {
        "id": platform.sample_id("returns_sheet"), "slug": "returns", "name": "Returns", "rowCount": 0,
        "counts": {"source": {"rows": 0, "valid": 0, "invalid": 0, "deleted": None},
                   "exported": {"rows": 0, "valid": 0, "invalid": 0, "deleted": 0}}}
    assert sheet["fieldStats"] == {}  # no records: no field seen
    assert relay.object_keys("flatfile/rows/") == []
    [notice] = relay.notice_bodies()
    assert (notice["rowCount"], notice["customer"]) == (0, None)
    assert platform.job(job_id)["outcome"] == {"message": "Exported 0 records to AWS"}


@pytest.mark.parametrize("records", [1, 9_999, 10_000])
def test_a_one_sheet_job_of_up_to_10000_records_costs_seven_requests(
    platform_relay: Callable[..., Relay], records: int
) -> None:
    relay = platform_relay(part_max_rows=50_000)
    workbook = relay.emu.platform.add_generated_workbook("One sheet", [records])
    job_id = relay.submit(workbook["id"])
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).row_count == records

    assert settled(calls(relay)) == ONE_SHEET_CALLS
    assert relay.emu.platform.job(job_id)["outcome"] == {
        "message": f"Exported {records:,} record{'' if records == 1 else 's'} to AWS"}


def test_a_one_sheet_job_longer_than_a_page_locks_its_sheet_before_the_second_page(
    platform_relay: Callable[..., Relay],
) -> None:
    relay = platform_relay(part_max_rows=50_000)
    workbook = relay.emu.platform.add_generated_workbook("Two pages", [10_001])
    job_id = relay.submit(workbook["id"])
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).row_count == 10_001

    assert settled(calls(relay)) == [
        "GET /v1/jobs/{jobId}", "POST /v1/jobs/{jobId}/ack", "GET /v1/workbooks/{workbookId}",
        "GET /v1/sheets/{sheetId}/records", "POST /v1/sheets/{sheetId}/lock", "GET /v1/sheets/{sheetId}/records",
        "GET /v1/sheets/{sheetId}/counts", "GET /v1/spaces/{spaceId}", "POST /v1/sheets/{sheetId}/unlock",
        "POST /v1/jobs/{jobId}/complete",
    ]
    assert [r.query["pageNumber"] for r in relay.emu.requests_to("/v1/sheets/", "GET")
            if r.path.endswith("/records")] == ["1", "2"]
    assert unlocked(relay, workbook["id"])


def test_the_counts_of_the_sheets_and_the_space_are_read_together(relay: Relay) -> None:
    job_id = relay.submit("customers_orders")
    relay.emu.inject(FaultRule(kind="slow", path="/v1/sheets/*/counts", delay=1.5, count=2))
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).row_count == 42

    [space] = [r for r in relay.emu.request_log if r.path.startswith("/v1/spaces/")]
    counts = [r for r in relay.emu.request_log if r.path.endswith("/counts")]
    assert len(counts) == 2
    arrived = [r.at for r in (*counts, space)]
    assert max(arrived) - min(arrived) < 1.0  # all three asked before the first answer (1.5 s) came back
    assert relay.manifest_dict(job_id)["customer"] == relay.emu.platform.spaces[space.path.rsplit("/", 1)[1]][
        "metadata"]["userInfo"]


def test_a_part_never_spans_two_sheets(platform_relay: Callable[..., Relay]) -> None:
    relay = platform_relay(part_max_rows=7)
    job_id = relay.submit("customers_orders")

    assert relay.export_job(job_id).parts_written == 7

    manifest = relay.manifest_dict(job_id)
    assert [(part["sheet"], part["rows"]) for part in manifest["parts"]] == [
        ("customers", 7), ("customers", 5), ("orders", 7), ("orders", 7), ("orders", 7), ("orders", 7),
        ("orders", 2)]
    for part in manifest["parts"]:
        assert {row["sheet"] for _, row in strict_rows(relay, {"parts": [part]})} == {part["sheet"]}
    assert [value for _, value in strict_rows(relay, manifest)] == expected_lines(
        relay, job_id, relay.emu.platform.sample_id("customers_orders"))


def test_progress_is_reported_per_sheet_and_every_few_pages_not_per_page(platform_relay: Callable[..., Relay]) -> None:
    relay = platform_relay(emulator={"platform_max_page_size": 10}, part_max_rows=1000)
    workbook = relay.emu.platform.add_generated_workbook("Paged", [123, 45, 6])
    job_id = relay.submit(workbook["id"])
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).row_count == 174

    pages = len(relay.emu.requests_to("/v1/sheets/", "GET"))
    reports = [record for record in platform_requests(relay)
               if record.route == "/v1/jobs/{jobId}/ack" and record.body_keys == ("progress",)]
    assert 3 <= len(reports) <= 2 + 13 // 5  # two sheet ends, and every fifth page of the 13-page sheet
    assert pages >= 13 + 5 + 1
    assert relay.emu.platform.job(job_id)["progress"] == 100


def test_the_part_lines_are_one_json_object_each_even_with_line_breaks_in_values(relay: Relay) -> None:
    platform = relay.emu.platform
    sheet_id = platform.sample_id("orders")
    record_id = platform.records_of(sheet_id, 0, 1)[0]["id"]
    platform.edit_records(sheet_id, {record_id: {"notes": "line one\nline two\u2028three\r\n\"quoted\""}})
    job_id = relay.submit("customers_orders")

    assert relay.export_job(job_id).status == "exported"

    manifest = relay.manifest_dict(job_id)
    data = gzip.decompress(relay.object_at(manifest["parts"][1]["uri"]))
    assert data.count(b"\n") == 30
    first = json.loads(data.split(b"\n")[0])
    assert first["mapped"]["notes"] == "line one\nline two\u2028three\r\n\"quoted\""


def test_each_further_sheet_costs_its_lock_records_check_progress_and_unlock(relay: Relay) -> None:
    job_id = relay.submit("customers_orders")
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).row_count == 42

    assert settled(calls(relay)) == [
        "GET /v1/jobs/{jobId}", "POST /v1/jobs/{jobId}/ack", "GET /v1/workbooks/{workbookId}",
        "POST /v1/sheets/{sheetId}/lock", "POST /v1/sheets/{sheetId}/lock",
        "GET /v1/sheets/{sheetId}/records", "POST /v1/jobs/{jobId}/ack",  # the first sheet, then progress
        "GET /v1/sheets/{sheetId}/records",
        "GET /v1/sheets/{sheetId}/records",  # the first sheet is still at the commit it was read at
        "GET /v1/sheets/{sheetId}/counts", "GET /v1/sheets/{sheetId}/counts",  # reconciliation
        "GET /v1/spaces/{spaceId}", "POST /v1/sheets/{sheetId}/unlock", "POST /v1/sheets/{sheetId}/unlock",
        "POST /v1/jobs/{jobId}/complete",
    ]
