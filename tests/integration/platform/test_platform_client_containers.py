"""Environment, spaces, workbooks, sheets, counts, commits, locks and events over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile.errors import NotFoundError
from flatfile_relay.platform import PlatformClient, SheetCounts
from flatfile_relay.timestamps import parse_timestamp
from flatfile_relay_devkit.emulator import Emulator


def test_the_environment_of_the_key(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    environment = client.get_environment(deadline)
    assert (environment["id"], environment["name"]) == (emu.platform_secret["platformEnvironmentId"], "Production")


def test_a_workbook_has_its_sheets_in_order_its_fields_and_its_actions(emu: Emulator, client: PlatformClient,
                                                                       deadline: Deadline) -> None:
    workbook = client.get_workbook(emu.platform.sample_id("customers_orders"), deadline)
    assert workbook.name == "Customers and orders"
    assert [sheet.slug for sheet in workbook.sheets] == ["customers", "orders"]
    assert [sheet.id for sheet in workbook.sheets] == [emu.platform.sample_id("customers"),
                                                       emu.platform.sample_id("orders")]
    assert [field["key"] for field in workbook.sheets[1].fields] == ["orderId", "customerId", "amount", "currency",
                                                                     "shipped", "notes"]
    assert workbook.operations == {"submitActionFg", "downloadCsv"}
    assert workbook.space_id == emu.platform.sample_id("acme")
    assert workbook.raw["sheets"][0]["config"]["name"] == "Customers"
    listed = client.list_sheets(workbook.id, deadline)
    assert [sheet.id for sheet in listed] == [sheet.id for sheet in workbook.sheets]
    with pytest.raises(NotFoundError, match="no workbook"):
        client.get_workbook(emu.platform.sample_id("foreign_workbook"), deadline)


def test_a_space_carries_the_embeds_user_info(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    acme = client.get_space(emu.platform.sample_id("acme"), deadline)
    assert acme.user_info is not None
    assert (acme.user_info["userId"], acme.user_info["companyName"]) == ("cust-48213", "Acme Ltd")
    assert client.get_space(emu.platform.sample_id("internal"), deadline).user_info is None


def test_counts_and_commits_move_when_records_are_edited(emu: Emulator, client: PlatformClient,
                                                         deadline: Deadline) -> None:
    sheet = emu.platform.sample_id("products_sheet")
    assert client.sheet_counts(sheet, deadline) == SheetCounts(total=25, valid=19, error=6)
    commits = client.list_commits(sheet, deadline)
    invalid = next(record for record in emu.platform.records_of(sheet) if not record["valid"])
    emu.platform.edit_records(sheet, {invalid["id"]: {"supplierEmail": "fixed@example.com", "sku": "P-999"}})
    assert client.sheet_counts(sheet, deadline) == SheetCounts(total=25, valid=20, error=5)
    after = client.list_commits(sheet, deadline, completed=True)
    assert [commit.id for commit in after[:-1]] == [commit.id for commit in commits]
    assert after[-1].id == emu.platform.latest_commit(sheet)
    assert after[-1].completed_at is not None


def test_lock_then_unlock_and_a_second_unlock_is_harmless(emu: Emulator, client: PlatformClient,
                                                          deadline: Deadline) -> None:
    sheet = emu.platform.sample_id("orders")
    assert client.lock_sheet(sheet, deadline) is True
    assert client.get_sheet(sheet, deadline).locked
    assert client.lock_sheet(sheet, deadline) is True  # a resend of its own lock
    client.unlock_sheet(sheet, deadline)
    client.unlock_sheet(sheet, deadline)  # refused by the server, read back: unlocked, fine
    assert not client.get_sheet(sheet, deadline).locked


def test_a_sheet_locked_by_someone_else_is_reported_not_taken_over(emu: Emulator, client: PlatformClient,
                                                                   deadline: Deadline) -> None:
    sheet = emu.platform.sample_id("orders")
    emu.platform.lock_sheet(sheet, actor="us_usr_someone")
    assert client.lock_sheet(sheet, deadline) is False
    assert emu.platform.sheet(sheet)["lockedBy"] == "us_usr_someone"


def test_events_by_topic_and_since(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    job = emu.platform.submit(emu.platform.sample_id("products"))
    ready = client.list_events(deadline, topic="job:ready")
    assert ready.events[-1].context["jobId"] == job["id"]
    assert ready.events[-1].payload["job"] == "workbook:submitActionFg"
    since = ready.events[-1].created_at
    assert since is not None
    later = client.list_events(deadline, topic="job:ready", since=since + timedelta(milliseconds=1))
    assert later.events == []
    every = client.list_events(deadline, since=parse_timestamp(job["createdAt"]), page_size=1)
    assert (len(every.events), every.last) == (1, False)
    assert client.list_events(deadline, page_size=500).last
