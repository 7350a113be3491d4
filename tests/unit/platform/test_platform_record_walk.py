"""The walk over record pages, on a scripted sheet: short pages end it, capped servers are followed, fetches
ahead never pass the announced end, a resumed walk notices a changed page size."""

from __future__ import annotations

import threading

import pytest

from flatfile_relay.flatfile.errors import ContractError
from flatfile_relay.platform import RecordPage, record_pages
from flatfile_relay.platform.records import ends_walk


class Sheet:
    """A sheet of `count` records behind a server that serves at most `cap` a page and may omit the length."""

    def __init__(self, count: int, cap: int = 10_000, length: bool = True) -> None:
        self.records = [{"id": str(n), "values": {}} for n in range(count)]
        self.cap = cap
        self.length = length
        self.asked: list[tuple[int, int, bool]] = []
        self._lock = threading.Lock()

    def fetch(self, number: int, size: int, with_length: bool) -> RecordPage:
        with self._lock:
            self.asked.append((number, size, with_length))
        served = min(size, self.cap)
        start = (number - 1) * served
        total = len(self.records) if with_length and self.length else None
        return RecordPage(self.records[start:start + served], None, number, size, start, None, total)


def walk(sheet: Sheet, size: int, ahead: int = 1, start: int = 1) -> list[tuple[int, int]]:
    return [(page.page_number, len(page.records)) for page in record_pages(sheet.fetch, start, size, ahead)]


@pytest.mark.parametrize("ahead", [1, 3])
def test_pages_until_the_short_one_and_no_request_past_it(ahead: int) -> None:
    sheet = Sheet(23)
    assert walk(sheet, 5, ahead) == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 3)]
    assert sorted(number for number, _, _ in sheet.asked) == [1, 2, 3, 4, 5]
    assert [length for _, _, length in sheet.asked] == [True, False, False, False, False]


def test_an_exact_multiple_ends_on_an_empty_page_and_a_small_sheet_on_its_first() -> None:
    assert walk(Sheet(10), 5, 3) == [(1, 5), (2, 5), (3, 0)]
    assert walk(Sheet(3), 5, 3) == [(1, 3)]
    assert walk(Sheet(0), 5, 3) == [(1, 0)]


@pytest.mark.parametrize("length", [True, False])
def test_a_server_capping_the_page_is_followed_at_its_size(length: bool) -> None:
    sheet = Sheet(23, cap=4, length=length)
    assert walk(sheet, 10, 2) == [(1, 4), (2, 4), (3, 4), (4, 4), (5, 4), (6, 3)]


def test_without_a_length_a_short_first_page_costs_one_more_request_to_know_the_end() -> None:
    sheet = Sheet(3, length=False)
    assert walk(sheet, 10) == [(1, 3)]
    assert sheet.asked == [(1, 10, True), (2, 10, False)]


def test_records_added_past_the_announced_end_are_read_one_page_at_a_time() -> None:
    sheet = Sheet(10)
    pages = record_pages(sheet.fetch, 1, 5, 3)
    first = next(pages)
    sheet.records += [{"id": f"new-{n}", "values": {}} for n in range(7)]
    rest = [(page.page_number, len(page.records)) for page in pages]
    assert [(first.page_number, len(first.records)), *rest] == [(1, 5), (2, 5), (3, 5), (4, 2)]


def test_a_resumed_walk_keeps_its_page_size_and_refuses_a_changed_one() -> None:
    assert walk(Sheet(23), 5, start=3) == [(3, 5), (4, 5), (5, 3)]
    assert walk(Sheet(23, length=False), 5, start=5) == [(5, 3)]
    with pytest.raises(ContractError, match="page size changed"):
        walk(Sheet(23, cap=4), 5, start=2)


def test_closing_the_walk_stops_asking() -> None:
    sheet = Sheet(100)
    pages = record_pages(sheet.fetch, 1, 5, 4)
    next(pages)
    next(pages)
    pages.close()
    assert len(sheet.asked) <= 1 + 4 + 1


class CommittedSheet(Sheet):
    """A sheet whose pages name the commit they were read at (`commits[n]`: the commit of page n, else `c1`)."""

    def __init__(self, count: int, commits: dict[int, str | None] | None = None) -> None:
        super().__init__(count)
        self.commits = commits or {}

    def fetch(self, number: int, size: int, with_length: bool) -> RecordPage:
        page = super().fetch(number, size, with_length)
        return RecordPage(page.records, None, number, size, page.offset, self.commits.get(number, "c1"), page.total)


def until_length(sheet: Sheet, size: int, ahead: int = 1) -> list[tuple[int, int]]:
    return [(page.page_number, len(page.records))
            for page in record_pages(sheet.fetch, 1, size, ahead, until_length=True)]


@pytest.mark.parametrize("ahead", [1, 3])
def test_until_length_a_multiple_of_the_page_size_costs_no_empty_page(ahead: int) -> None:
    sheet = CommittedSheet(10)
    assert until_length(sheet, 5, ahead) == [(1, 5), (2, 5)]
    assert sorted(number for number, _, _ in sheet.asked) == [1, 2]
    assert until_length(CommittedSheet(5), 5) == [(1, 5)]


def test_until_length_goes_on_to_a_short_page_when_a_commit_moved_or_none_is_named() -> None:
    assert until_length(CommittedSheet(10, {2: "c2"}), 5) == [(1, 5), (2, 5), (3, 0)]
    assert until_length(CommittedSheet(10, {1: None, 2: None}), 5) == [(1, 5), (2, 5), (3, 0)]
    assert walk(CommittedSheet(10), 5) == [(1, 5), (2, 5), (3, 0)]  # the default: never on a count


def test_ends_walk_says_where_record_pages_stops() -> None:
    first = RecordPage([{"id": "1"}] * 5, None, 1, 5, 0, "c1", 10)
    full = RecordPage([{"id": "2"}] * 5, None, 2, 5, 5, "c1", None)
    assert ends_walk(full, first, True)
    assert not ends_walk(full, first, False)
    assert ends_walk(RecordPage([], None, 3, 5, 10, "c1"), first, False)
