"""The Platform side of the emulator, without sockets: records, samples, the job lifecycle, edits, locks, events."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from flatfile_relay_devkit.emulator.platform import (
    PLATFORM_LABELS,
    PlatformConflict,
    PlatformState,
    Products,
    SheetLocked,
    SheetRecords,
)

ANCHOR = "2024-03-08T00:00:00.000Z"


@pytest.fixture
def state() -> PlatformState:
    return PlatformState.with_samples(7, ANCHOR)


def test_the_samples_are_deterministic_for_a_seed_and_an_anchor(state: PlatformState) -> None:
    again = PlatformState.with_samples(7, ANCHOR)
    assert state.samples == again.samples
    assert set(state.samples) == set(PLATFORM_LABELS)
    sheet = state.sample_id("products_sheet")
    assert state.records_of(sheet) == again.records_of(sheet)
    assert state.events() == again.events()
    assert PlatformState.with_samples(8, ANCHOR).samples != state.samples


def test_the_samples_cover_two_sheets_invalid_records_user_info_and_no_ready_job(state: PlatformState) -> None:
    orders = state.workbook(state.sample_id("customers_orders"))
    assert [sheet["slug"] for sheet in orders["sheets"]] == ["customers", "orders"]
    products = state.sample_id("products_sheet")
    assert state.counts(products) == {"total": 25, "valid": 19, "error": 6}
    invalid = [record for record in state.records_of(products) if not record["valid"]]
    assert all(any(not cell["valid"] and cell["messages"] for cell in record["values"].values()) for record in invalid)
    assert state.workbook(state.sample_id("products"))["actions"][0]["operation"] == "submitActionFg"
    space = state.sample_id("acme")
    assert state.spaces[space]["metadata"]["userInfo"]["companyName"] == "Acme Ltd"
    assert state.spaces[state.sample_id("internal")]["metadata"] == {}
    mine = [job for job in state.jobs.values() if job["environmentId"] == state.account.environment_id]
    assert sorted(job["status"] for job in mine) == ["complete", "complete", "failed"]
    assert state.job(state.sample_id("foreign_job"))["environmentId"] == state.account.foreign_environment_id


def test_some_order_cells_are_missing_or_null(state: PlatformState) -> None:
    orders = state.records_of(state.sample_id("orders"))
    assert any("notes" not in record["values"] for record in orders)
    assert any(record["values"].get("notes", {}).get("value", "") is None for record in orders)


def test_a_generated_sheet_costs_no_memory_until_read_and_its_ids_find_their_records() -> None:
    tracemalloc.start()
    try:
        records = SheetRecords("ab12", Products("2024-03-01T00:00:00.000Z"), 200_000)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 100_000  # no record is kept
    assert records.counts() == {"total": 200_000, "valid": 195_000, "error": 5_000}
    page = records.page(199_990, 200_050)
    assert len(page) == 10
    assert records.find(page[-1]["id"]) == 199_999
    assert records.find("us_rc_ab12zzzzzz") is None
    assert records.page(0, 1) == records.page(0, 1)  # rebuilt identically


def test_an_edit_is_stored_and_moves_the_counts() -> None:
    records = SheetRecords("ab12", Products("2024-03-01T00:00:00.000Z", invalid_every=2), 4)
    assert records.counts()["error"] == 2
    fixed = records.update(1, {"supplierEmail": "ok@example.com"}, "2024-03-02T00:00:00.000Z")
    assert fixed["valid"] is True
    assert records.at(1)["values"]["supplierEmail"]["value"] == "ok@example.com"
    broken = records.update(0, {"qty": {"value": -1, "messages": [{"type": "error", "message": "too low"}]}}, "x")
    assert broken["valid"] is False
    assert records.counts() == {"total": 4, "valid": 2, "error": 2}


def test_submit_makes_a_ready_job_and_emits_created_then_ready(state: PlatformState) -> None:
    workbook = state.sample_id("customers_orders")
    job = state.submit(workbook)
    assert (job["type"], job["operation"], job["source"], job["status"]) == ("workbook", "submitActionFg", workbook,
                                                                            "ready")
    events = state.events()[-2:]
    assert [event["topic"] for event in events] == ["job:created", "job:ready"]
    assert events[-1]["context"]["jobId"] == job["id"]
    assert events[-1]["context"]["workbookId"] == workbook
    assert events[-1]["context"]["spaceId"] == state.sample_id("acme")
    assert events[-1]["payload"]["job"] == "workbook:submitActionFg"
    assert state.submit(workbook, ready=False)["status"] == "created"
    with pytest.raises(ValueError, match="no action with operation 'nope'"):
        state.submit(workbook, "nope")


def test_the_job_lifecycle_and_its_refusals(state: PlatformState) -> None:
    job = state.submit(state.sample_id("products"))["id"]
    executing = state.acknowledge(job, info="Exporting", progress=5)
    assert (executing["status"], executing["info"], executing["progress"]) == ("executing", "Exporting", 5)
    assert executing["startedAt"] is not None
    again = state.acknowledge(job, progress=50)  # a listener reports progress by acknowledging again
    assert (again["status"], again["info"], again["progress"], again["startedAt"]) == (
        "executing", "Exporting", 50, executing["startedAt"])
    done = state.complete(job, {"message": "Exported 25 records"})
    assert (done["status"], done["progress"], done["outcome"]) == ("complete", 100, {"message": "Exported 25 records"})
    for refused in (lambda: state.complete(job, {}), lambda: state.fail(job, {}), lambda: state.acknowledge(job),
                    lambda: state.cancel(job)):
        with pytest.raises(PlatformConflict, match=r"already complete|cannot be acknowledged"):
            refused()
    assert [event["topic"] for event in state.events()[-4:]] == ["job:ready", "job:updated", "job:updated",
                                                               "job:completed"]


def test_fail_and_cancel_end_a_job(state: PlatformState) -> None:
    failed = state.fail(state.submit(state.sample_id("products"))["id"], {"message": "Your data is safe"})
    assert failed["status"] == "failed"
    assert state.events()[-1]["topic"] == "job:failed"
    canceled = state.cancel(state.submit(state.sample_id("products"))["id"])
    assert canceled["status"] == "canceled"
    created = state.submit(state.sample_id("products"), ready=False)["id"]
    with pytest.raises(PlatformConflict, match="cannot be acknowledged: it is created"):
        state.acknowledge(created)
    assert state.set_job_status(created, "ready")["status"] == "ready"


def test_an_edit_makes_a_commit_an_event_and_changes_the_counts(state: PlatformState) -> None:
    sheet = state.sample_id("products_sheet")
    before = state.latest_commit(sheet)
    invalid = next(record for record in state.records_of(sheet) if not record["valid"])
    broken = next(key for key, cell in invalid["values"].items() if not cell["valid"])
    commit = state.edit_records(sheet, {invalid["id"]: {broken: "P-fixed"}})
    assert commit != before
    assert state.latest_commit(sheet) == commit
    assert state.counts(sheet)["error"] == 5
    assert state.commits_of(sheet)[-1]["createdBy"] == state.account.guest_id
    assert [event["topic"] for event in state.events()[-2:]] == ["records:updated", "commit:created"]
    with pytest.raises(KeyError, match="not found"):
        state.edit_records(sheet, {"us_rc_nope": {"sku": "x"}})


def test_a_locked_sheet_refuses_end_user_edits_until_unlocked(state: PlatformState) -> None:
    sheet = state.sample_id("customers")
    record = state.records_of(sheet, 0, 1)[0]["id"]
    state.lock_sheet(sheet)
    state.lock_sheet(sheet)  # the same actor again: nothing changes
    assert state.sheet(sheet)["lockedBy"] == state.account.user_id
    with pytest.raises(SheetLocked):
        state.edit_records(sheet, {record: {"name": "Edited"}})
    with pytest.raises(SheetLocked):
        state.add_records(sheet, [{"name": "New"}])
    state.edit_records(sheet, {record: {"name": "By the lock holder"}}, actor=state.account.user_id)
    state.unlock_sheet(sheet)
    with pytest.raises(PlatformConflict, match="not locked"):
        state.unlock_sheet(sheet)
    state.edit_records(sheet, {record: {"name": "Edited"}})
    added = state.add_records(sheet, [{"customerId": "C-9999", "name": {"value": "New", "messages": []}}])
    assert state.counts(sheet)["total"] == 13
    assert state.records_of(sheet, 12)[0]["id"] == added[0]["id"]


def test_a_generated_workbook_needs_no_samples() -> None:
    state = PlatformState(PlatformState.with_samples(3).account)
    workbook = state.add_generated_workbook("Big", [5, 0], label="big")
    assert [sheet["recordCounts"]["total"] for sheet in workbook["sheets"]] == [5, 0]
    assert state.samples["big"] == workbook["id"]
    assert state.spaces[workbook["spaceId"]]["name"] == "Generated"


def test_generated_records_written_as_text_are_the_records_as_json() -> None:
    from flatfile_relay_devkit.emulator.platform.records import Products, SheetRecords

    generator = Products("2024-03-01T00:00:00.000Z", salt=3, invalid_every=7)
    records = SheetRecords("ab12", generator, 500)
    records.update(5, {"name": "Edited \\u2028 ünïcode"}, "2024-03-02T00:00:00.000Z")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    assert records.texts(0, 500) == [dumps(record) for record in records.page(0, 500)]
    assert records.texts(495, 600) == [dumps(record) for record in records.page(495, 600)]
