"""A Platform export under faults, against the emulator over HTTP: throttling, server errors and dropped
connections on record pages, a deadline in the middle of a sheet, records edited while the export reads them, and
sheet locks that are always given back and never taken from someone else."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
from support.platform_export import expected_lines, job_posts, strict_rows, unlocked
from support.relay import Relay

from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import CONTINUED, EXPORTED, MAX_RESTARTS
from flatfile_relay.flatfile import RetriesExhaustedError
from flatfile_relay.jobs import ExportJob
from flatfile_relay.platform_export import SheetsChangedError
from flatfile_relay_devkit.emulator import FaultRule
from flatfile_relay_devkit.emulator.platform.store import SheetLocked


@pytest.fixture
def relay(platform_relay: Callable[..., Relay]) -> Relay:
    """The exporter's relay (parts of up to 1,000 rows) with both sources' keys and the emulator's samples."""
    return platform_relay(part_max_rows=1000)

Factory = Callable[..., Relay]


def paged(platform_relay: Factory, page: int = 10, **settings: object) -> Relay:
    """The relay against an emulator serving record pages of `page` records (the client follows that size)."""
    settings.setdefault("part_max_rows", 1000)
    return platform_relay(emulator={"platform_max_page_size": page}, **settings)


def rows_equal_records(relay: Relay, job_id: str, workbook_id: str) -> None:
    """The manifest's rows are the workbook's records as they are now, in order, each once."""
    manifest = relay.manifest_dict(job_id)
    assert [value for _, value in strict_rows(relay, manifest)] == expected_lines(relay, job_id, workbook_id)


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "drop", "truncated", "invalid_json"])
def test_throttling_server_errors_and_dropped_connections_on_record_pages_are_retried(
    platform_relay: Factory, fault: str
) -> None:
    relay = paged(platform_relay)
    workbook = relay.emu.platform.add_generated_workbook("Faulty", [95, 12])
    job_id = relay.submit(workbook["id"])
    relay.emu.inject(FaultRule(kind=fault, path="/v1/sheets/*/records", after=2, count=3, retry_after=0.01))

    assert relay.export_job(job_id).status == EXPORTED

    assert len([r for r in relay.emu.request_log if r.fault == fault]) == 3
    rows_equal_records(relay, job_id, workbook["id"])
    assert len(job_posts(relay, job_id, "complete")) == 1
    assert unlocked(relay, workbook["id"])


def test_a_deadline_in_the_middle_of_a_sheet_continues_in_a_new_invocation(platform_relay: Factory) -> None:
    relay = paged(platform_relay, part_max_rows=10)
    workbook = relay.emu.platform.add_generated_workbook("Long", [20, 47, 8])
    job_id = relay.submit(workbook["id"])
    second = relay.emu.platform.sheet_ids(workbook["id"])[1]
    pages = lambda: float(len(relay.emu.requests_to(f"/v1/sheets/{second}/records")))  # noqa: E731
    client = relay.platform_client(record_prefetch=1)

    first = relay.export_job(job_id, client=client, deadline=Deadline(2.5, clock=pages), reserve=0.1)

    assert first.status == CONTINUED  # time ran short at the second sheet's third page request
    last = relay.entry(job_id).parts[-1]
    # the page read ahead may or may not have become a part before the deadline: either way, mid-sheet
    assert last["sheetId"] == second
    assert last["sheetEnd"] in (20, 30)
    assert unlocked(relay, workbook["id"])  # given back while nobody exports
    [continuation] = relay.drain_jobs()
    assert continuation.resume
    relay.emu.clear_request_log()

    assert relay.run_platform_job(continuation, client=client).status == EXPORTED

    asked = [int(r.query["pageNumber"]) for r in relay.emu.requests_to(f"/v1/sheets/{second}/records")
             if r.query["pageSize"] == "10"]
    assert asked == list(range(last["sheetEnd"] // 10 + 1, 6))  # on after the last finished part, not from 1
    rows_equal_records(relay, job_id, workbook["id"])
    assert [part["rows"] for part in relay.manifest_dict(job_id)["parts"]] == [10, 10, 10, 10, 10, 10, 7, 8]
    assert len(job_posts(relay, job_id, "complete")) == 1
    assert len(job_posts(relay, job_id, "ack")) >= 1
    assert relay.emu.platform.job(job_id)["outcome"] == {"message": "Exported 75 records to AWS"}
    assert unlocked(relay, workbook["id"])


def test_a_crash_mid_sheet_resumes_after_the_last_finished_part(platform_relay: Factory) -> None:
    relay = paged(platform_relay, part_max_rows=10)
    workbook = relay.emu.platform.add_generated_workbook("Crashy", [64])
    job_id = relay.submit(workbook["id"])
    relay.emu.inject(FaultRule(kind="500", path="/v1/sheets/*/records", after=3, count=None))
    with pytest.raises(RetriesExhaustedError):
        relay.export_job(job_id, client=relay.platform_client(max_attempts=1, record_prefetch=1))
    assert len(relay.entry(job_id).parts) == 3
    assert unlocked(relay, workbook["id"])
    relay.emu.clear_faults()
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).status == EXPORTED

    sheet = relay.emu.platform.sheet_ids(workbook["id"])[0]
    assert next(r.query["pageNumber"] for r in relay.emu.requests_to(f"/v1/sheets/{sheet}/records")) == "4"
    rows_equal_records(relay, job_id, workbook["id"])


def test_a_record_edited_between_two_pages_is_caught_and_the_job_exported_again_from_the_start(
    platform_relay: Factory,
) -> None:
    """Another writer with the relay's key (a hook, another listener) is not stopped by the lock: the commit each
    page names tells."""
    relay = paged(platform_relay, part_max_rows=10)
    platform = relay.emu.platform
    workbook = platform.add_generated_workbook("Edited", [35])
    sheet = platform.sheet_ids(workbook["id"])[0]
    record = platform.records_of(sheet, 0, 1)[0]["id"]
    edits: list[int] = []

    def edit_before_page_2(sheet_id: str, page: int) -> None:
        if sheet_id == sheet and page == 2 and not edits:
            edits.append(page)
            platform.edit_records(sheet, {record: {"price": 4242.5, "name": "Changed"}},
                                  actor=platform.account.user_id)

    platform.on_records_page(edit_before_page_2)
    job_id = relay.submit(workbook["id"])

    assert relay.export_job(job_id).status == EXPORTED

    assert edits == [2]
    rows = [value for _, value in strict_rows(relay, relay.manifest_dict(job_id))]
    assert rows[0]["mapped"]["name"] == "Changed"
    rows_equal_records(relay, job_id, workbook["id"])
    walks = [r for r in relay.emu.requests_to(f"/v1/sheets/{sheet}/records") if "includeLength" in r.query]
    assert [r.query["pageNumber"] for r in walks] == ["1", "1"]  # read again from its first page
    assert len(job_posts(relay, job_id, "complete")) == 1
    assert relay.manifest_dict(job_id)["rowCount"] == 35


def test_a_long_sheet_whose_first_page_names_no_commit_is_read_again_under_the_lock(platform_relay: Factory) -> None:
    """An edit between the first page and the lock would go unseen without a commit to compare: the one sheet of the
    job is read again from its first page once it is locked."""
    relay = paged(platform_relay)
    platform = relay.emu.platform
    workbook = platform.add_generated_workbook("No commits", [25])
    sheet = platform.sheet_ids(workbook["id"])[0]
    with platform.lock:
        platform.commits[sheet].clear()  # a server whose record pages name no commit
    job_id = relay.submit(workbook["id"])
    relay.emu.clear_request_log()

    assert relay.export_job(job_id).status == EXPORTED

    pages = [(r.method, r.query.get("pageNumber")) for r in relay.emu.request_log
             if r.path.startswith(f"/v1/sheets/{sheet}/") and not r.path.endswith("/counts")]
    assert pages[:3] == [("GET", "1"), ("POST", None), ("GET", "1")]  # page 1, the lock, page 1 again
    assert sorted(pages[3:-1]) == [("GET", "2"), ("GET", "3")]
    assert pages[-1] == ("POST", None)  # the unlock
    rows_equal_records(relay, job_id, workbook["id"])
    assert relay.manifest_dict(job_id)["rowCount"] == 25
    assert unlocked(relay, workbook["id"])


def test_the_cyclic_collector_rests_while_the_rows_stream_and_runs_again_after(platform_relay: Factory) -> None:
    relay = paged(platform_relay)
    platform = relay.emu.platform
    workbook = platform.add_generated_workbook("Collected", [35])
    sheet = platform.sheet_ids(workbook["id"])[0]
    seen: list[tuple[int, bool]] = []
    platform.on_records_page(lambda sheet_id, page: seen.append((page, gc.isenabled())) if sheet_id == sheet else None)
    job_id = relay.submit(workbook["id"])
    assert gc.isenabled()

    assert relay.export_job(job_id).status == EXPORTED

    assert sorted(seen) == [(1, False), (2, False), (3, False), (4, False)]  # the emulator runs in this process
    assert gc.isenabled()
    rows_equal_records(relay, job_id, workbook["id"])


def test_an_end_user_cannot_edit_while_the_sheets_are_locked(platform_relay: Factory) -> None:
    relay = paged(platform_relay)
    platform = relay.emu.platform
    workbook = platform.add_generated_workbook("Locked", [25])
    sheet = platform.sheet_ids(workbook["id"])[0]
    record = platform.records_of(sheet, 0, 1)[0]["id"]
    refused: list[str] = []

    def user_edits(sheet_id: str, page: int) -> None:
        if page == 2:
            try:
                platform.edit_records(sheet, {record: {"name": "Too late"}})  # as the end user
            except SheetLocked as error:
                refused.append(str(error))

    platform.on_records_page(user_edits)
    job_id = relay.submit(workbook["id"])

    assert relay.export_job(job_id).status == EXPORTED

    assert refused
    assert "locked" in refused[0]
    rows_equal_records(relay, job_id, workbook["id"])
    assert unlocked(relay, workbook["id"])
    platform.edit_records(sheet, {record: {"name": "After the export"}})  # editable again


def test_an_edit_to_a_sheet_read_before_is_caught_before_the_manifest(relay: Relay) -> None:
    platform = relay.emu.platform
    workbook_id = platform.sample_id("customers_orders")
    customers, orders = platform.sheet_ids(workbook_id)
    record = platform.records_of(customers, 0, 1)[0]["id"]
    edits: list[str] = []

    def edit_customers_while_orders_are_read(sheet_id: str, page: int) -> None:
        if sheet_id == orders and not edits:
            edits.append(sheet_id)
            platform.edit_records(customers, {record: {"vip": True}}, actor=platform.account.user_id)

    platform.on_records_page(edit_customers_while_orders_are_read)
    job_id = relay.submit("customers_orders")

    assert relay.export_job(job_id).status == EXPORTED

    rows_equal_records(relay, job_id, workbook_id)
    assert relay.manifest_dict(job_id)["parts"][0]["rows"] == 12


def test_records_that_keep_changing_fail_the_invocation_to_be_retried(platform_relay: Factory) -> None:
    relay = paged(platform_relay)
    platform = relay.emu.platform
    workbook = platform.add_generated_workbook("Busy", [30])
    sheet = platform.sheet_ids(workbook["id"])[0]
    record = platform.records_of(sheet, 0, 1)[0]["id"]
    edits: list[int] = []

    def always(sheet_id: str, page: int) -> None:
        if page == 2:
            edits.append(page)
            platform.edit_records(sheet, {record: {"qty": len(edits)}}, actor=platform.account.user_id)

    platform.on_records_page(always)
    job_id = relay.submit(workbook["id"])

    with pytest.raises(SheetsChangedError):
        relay.export_job(job_id)

    assert len(edits) == MAX_RESTARTS + 1
    assert relay.entry(job_id).parts == ()
    assert unlocked(relay, workbook["id"])
    assert relay.emu.platform.job(job_id)["status"] == "executing"  # retried later: not given up on
    assert relay.notices() == []


def test_a_sheet_someone_else_locked_is_never_unlocked_by_the_relay(relay: Relay) -> None:
    platform = relay.emu.platform
    workbook_id = platform.sample_id("customers_orders")
    customers, orders = platform.sheet_ids(workbook_id)
    platform.lock_sheet(orders, actor="us_usr_another")
    job_id = relay.submit("customers_orders")

    assert relay.export_job(job_id).row_count == 42

    assert platform.sheet(orders)["lockedBy"] == "us_usr_another"
    assert platform.sheet(customers)["lockedBy"] is None
    assert relay.emu.requests_to(f"/v1/sheets/{orders}/unlock") == []
    assert relay.entry(job_id).locked_sheets == ()


def test_a_lock_left_by_a_crashed_invocation_is_given_back_by_the_next(platform_relay: Factory) -> None:
    relay = paged(platform_relay)
    workbook = relay.emu.platform.add_generated_workbook("Crash", [40])
    sheet = relay.emu.platform.sheet_ids(workbook["id"])[0]
    job_id = relay.submit(workbook["id"])
    relay.emu.inject(FaultRule(kind="503", path="/v1/sheets/*/unlock", count=None),
                     FaultRule(kind="500", path="/v1/sheets/*/records", after=1, count=None))
    with pytest.raises(RetriesExhaustedError):
        relay.export_job(job_id, client=relay.platform_client(max_attempts=1, record_prefetch=1))
    assert relay.emu.platform.sheet(sheet)["lockedBy"] is not None  # could not be unlocked then
    assert relay.entry(job_id).locked_sheets == (sheet,)
    relay.emu.clear_faults()

    assert relay.export_job(job_id).status == EXPORTED

    assert unlocked(relay, workbook["id"])
    assert relay.entry(job_id).locked_sheets == ()


def test_every_job_delivered_twice_gives_one_manifest_and_one_completion(relay: Relay) -> None:
    jobs = [relay.submit(label) for label in ("customers_orders", "products", "returns")]
    for job_id in jobs + jobs:
        relay.run_platform_job(ExportJob.create(job_id, trigger="schedule"))

    notices = relay.notice_bodies()
    assert sorted(notice["batchId"] for notice in notices) == sorted(jobs)
    for job_id in jobs:
        assert len(job_posts(relay, job_id, "complete")) == 1
        assert relay.emu.platform.job(job_id)["status"] == "complete"
    assert len(relay.object_keys("flatfile/manifests/")) == 3
