"""Record pages over real HTTP: 1-based pages of up to 10,000, a short page ends the walk, every record's text as
sent, pages fetched ahead in order, a server that caps its pages, and faults in the middle of a walk."""

from __future__ import annotations

import json

import pytest
from conftest import ClientFactory

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile.errors import NotFoundError
from flatfile_relay.platform import PlatformClient
from flatfile_relay_devkit.emulator import Emulator, FaultRule
from flatfile_relay_devkit.emulator.platform.samples import HUGE_NUMBER


def big_sheet(emu: Emulator, records: int) -> str:
    return str(emu.platform.add_generated_workbook("Big", [records])["sheets"][0]["id"])


def test_pages_of_10000_end_on_the_short_page(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    sheet = big_sheet(emu, 25_000)
    pages = list(client.iter_record_pages(sheet, deadline))
    assert [(page.page_number, len(page.records), page.offset) for page in pages] == [
        (1, 10_000, 0), (2, 10_000, 10_000), (3, 5_000, 20_000)]
    assert pages[0].total == 25_000
    assert [page.last for page in pages] == [False, False, True]
    expected = emu.platform.records_of(sheet)
    assert [record for page in pages for record in page.records] == expected
    assert len(emu.requests_to(f"/v1/sheets/{sheet}/records")) == 3  # one request a page, nothing more


def test_every_record_keeps_its_text_as_sent(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    sheet = emu.platform.sample_id("products_sheet")
    (page,) = client.iter_record_pages(sheet, deadline)
    assert page.texts is not None
    assert [json.loads(text) for text in page.texts] == page.records
    assert str(HUGE_NUMBER) in page.texts[10]  # a float would have lost digits
    assert page.records[10]["values"]["price"]["value"] == HUGE_NUMBER
    invalid = [record for record in page.records if not record["valid"]]
    assert len(invalid) == 6
    assert all(cell["messages"] for record in invalid for cell in record["values"].values() if not cell["valid"])
    assert page.commit_id == emu.platform.latest_commit(sheet)


@pytest.mark.parametrize("prefetch", [1, 4])
def test_fetching_ahead_yields_the_same_pages_in_order(emu: Emulator, make_client: ClientFactory,
                                                       deadline: Deadline, prefetch: int) -> None:
    sheet = big_sheet(emu, 4_321)
    client = make_client(record_prefetch=prefetch)
    pages = list(client.iter_record_pages(sheet, deadline, page_size=500))
    assert [page.page_number for page in pages] == list(range(1, 10))
    assert [record["id"] for page in pages for record in page.records] == [
        record["id"] for record in emu.platform.records_of(sheet)]
    assert len(emu.requests_to(f"/v1/sheets/{sheet}/records")) == 9  # none asked past the last page


def test_an_exact_multiple_ends_on_an_empty_page(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    sheet = big_sheet(emu, 1_000)
    pages = list(client.iter_record_pages(sheet, deadline, page_size=500, prefetch=3))
    assert [len(page.records) for page in pages] == [500, 500, 0]


def test_an_empty_sheet_is_one_empty_page(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    pages = list(client.iter_record_pages(emu.platform.sample_id("returns_sheet"), deadline))
    assert [(len(page.records), page.total, page.last) for page in pages] == [(0, 0, True)]


def test_a_server_serving_smaller_pages_is_followed_at_its_size(emu: Emulator, make_client: ClientFactory,
                                                                deadline: Deadline) -> None:
    sheet = big_sheet(emu, 7_000)
    emu.set(platform_max_page_size=3_000)
    pages = list(make_client(record_prefetch=2).iter_record_pages(sheet, deadline))
    assert [(page.page_number, len(page.records), page.page_size) for page in pages] == [
        (1, 3_000, 3_000), (2, 3_000, 3_000), (3, 1_000, 3_000)]
    assert sum(len(page.records) for page in pages) == 7_000


def test_a_walk_resumes_at_a_page(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    sheet = big_sheet(emu, 2_500)
    pages = list(client.iter_record_pages(sheet, deadline, page_size=1_000, start_page=2))
    assert [(page.page_number, page.offset, len(page.records)) for page in pages] == [(2, 1_000, 1_000),
                                                                                      (3, 2_000, 500)]
    assert pages[0].records[0]["id"] == emu.platform.records_of(sheet, 1_000, 1_001)[0]["id"]


def test_records_added_during_the_walk_are_read(emu: Emulator, client: PlatformClient, deadline: Deadline) -> None:
    sheet = big_sheet(emu, 1_000)
    walk = client.iter_record_pages(sheet, deadline, page_size=500, prefetch=2)
    first = next(walk)
    emu.platform.add_records(sheet, [{"sku": f"NEW-{n}"} for n in range(10)])
    rest = list(walk)
    assert [len(page.records) for page in (first, *rest)] == [500, 500, 10]


@pytest.mark.parametrize("kind", ["503", "429", "drop", "invalid_json", "truncated", "500"])
def test_a_fault_in_the_middle_of_a_walk_loses_nothing(emu: Emulator, make_client: ClientFactory,
                                                       deadline: Deadline, kind: str) -> None:
    sheet = big_sheet(emu, 2_000)
    emu.inject(FaultRule(kind=kind, path=f"/v1/sheets/{sheet}/records", after=2, count=2, retry_after=0.01))
    client = make_client(record_prefetch=3)
    pages = list(client.iter_record_pages(sheet, deadline, page_size=400))
    texts = [text for page in pages for text in page.texts or []]
    assert [json.loads(text)["id"] for text in texts] == [record["id"] for record in emu.platform.records_of(sheet)]
    assert client.transport.counts.retries == 2


def test_an_unknown_sheet_is_not_found(client: PlatformClient, deadline: Deadline) -> None:
    with pytest.raises(NotFoundError, match="no sheet us_sh_nothing"):
        list(client.iter_record_pages("us_sh_nothing", deadline))
    with pytest.raises(ValueError, match="between 1 and 10000"):
        list(client.iter_record_pages("us_sh_nothing", deadline, page_size=10_001))
