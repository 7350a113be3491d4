"""The walk over a sheet's record pages: 1-based page numbers, a short page ends it, pages fetched ahead in order.

The walk does not stop on a count by default: the first page asks for the sheet's length (`includeLength`) to
tell the two meanings of a short first page apart, the end of the sheet or a server serving fewer records than
asked (then the walk goes on at the size the server keeps to); without a length it asks for the next page to
know. Pages after the first are requested ahead (`ahead` in flight, `flatfile_relay.ahead.in_order`) up to the
page the length announces, then one at a time until a short page (records added meanwhile are not missed).
`until_length` ends the walk at the length instead, when every page so far was read at the commit the length was
counted at (`RecordPage.commit_id`): the pages are then one view of the sheet, and a sheet whose length is a
multiple of the page size costs no empty page.

Pages read with `EXACT_DECODER` hold every number of a record that Python would not write back as the same text
as `NUMBER_MARK` followed by that text, so a number no float holds keeps every digit in `records` too (the texts
keep them anyway).

Example:
    >>> from flatfile_relay.platform.models import RecordPage
    >>> sheet = [{"id": str(n)} for n in range(7)]
    >>> def fetch(number: int, size: int, length: bool) -> RecordPage:
    ...     served = min(size, 3)  # a server that caps pages at 3 records
    ...     start = (number - 1) * served
    ...     return RecordPage(sheet[start:start + served], None, number, served, start,
    ...                       total=len(sheet) if length else None)
    >>> [len(page.records) for page in record_pages(fetch, 1, 10, ahead=2)]
    [3, 3, 1]
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import replace

from flatfile_relay.ahead import in_order
from flatfile_relay.flatfile.errors import ContractError
from flatfile_relay.platform.models import RecordPage

__all__ = ["EXACT_DECODER", "NUMBER_MARK", "PageFetch", "ends_walk", "record_pages"]

#: in records read with `EXACT_DECODER`, a number that Python would not write back as the same text (a float such as
#: `12.30`, `1e400` or `0.1000000000000000000001`; the integer `-0`; an integer of thousands of digits) comes as a
#: string: this character, then the number's JSON text
NUMBER_MARK = "\x00"
#: integers longer than this stay text (Python refuses to read past 4,300 digits)
_LONGEST_INT = 4000


def _integer(text: str) -> int | str:
    """An integer of a record read with `EXACT_DECODER`: an `int` when it gives the same text back."""
    if text == "-0" or len(text) > _LONGEST_INT:
        return NUMBER_MARK + text
    return int(text)


def _float(text: str) -> float | str:
    """A float of a record read with `EXACT_DECODER`: a `float` when `repr` gives the same text back (JSON writes a
    float as `repr` does), else the marked text."""
    value = float(text)
    return value if repr(value) == text else NUMBER_MARK + text


#: a JSON decoder that keeps every number's text (see `NUMBER_MARK`)
EXACT_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_integer)

PageFetch = Callable[[int, int, bool], RecordPage]
"""`fetch(page_number, page_size, with_length)`: one page (safe to call from several threads at once)."""


def record_pages(fetch: PageFetch, start: int, page_size: int, ahead: int, *, until_length: bool = False
                 ) -> Generator[RecordPage, None, None]:
    """Every page from page `start` (1-based) of `page_size` records to the first short page, in order (or, with
    `until_length`, to the length the first page announced when every page came from its commit).

    Closing the generator lets go of the pages requested ahead at once.

    Raises:
        ContractError: a walk resumed at a page after the first finds the server serving fewer records than the
            walk's page size while the sheet holds more (the page numbers no longer mean the same records: start
            the sheet again). Without a length, a short page there is the end.
    """
    page = fetch(start, page_size, True)
    total = page.total
    first = page
    if page.records and page.last and total is not None and total > page.next_offset and start != 1:
        raise ContractError(
            f"Flatfile served {len(page.records)} records on page {start} where the walk asked for {page_size} and "
            "the sheet holds more: the server's page size changed since the walk began; export the sheet again "
            "from its first page."
        )
    if page.records and page.last and (total is None or total > page.next_offset) and start == 1:
        page, probe = _served_size(fetch, page, page_size, total is not None)
        if probe is not None:
            yield page
            page = probe
    yield page
    size = page.page_size
    while not ends_walk(page, first, until_length):
        number = page.page_number + 1
        keys: Iterable[int] = itertools.count(number)
        if total is not None and ahead > 1:
            keys = range(number, max(number, math.ceil(total / size)) + 1)
        in_flight = ahead if total is not None else 1
        with closing(in_order(lambda n: fetch(n, size, False), keys, in_flight, name="flatfile-records")) as pages:
            for _, answer in pages:
                page = answer.result()
                yield page
                if ends_walk(page, first, until_length):
                    break
        total = None  # past the length read at the start (records added since): one page at a time


def ends_walk(page: RecordPage, first: RecordPage, until_length: bool) -> bool:
    """Whether `record_pages` ends its walk with `page` (`first`: the walk's first page): a short page, or (with
    `until_length`) the length `first` announced, reached at `first`'s commit."""
    if page.last:
        return True
    return (until_length and first.total is not None and first.commit_id is not None
            and page.commit_id == first.commit_id and page.next_offset >= first.total)


def _served_size(fetch: PageFetch, page: RecordPage, asked: int, more: bool) -> tuple[RecordPage, RecordPage | None]:
    """A short first page of a sheet that may hold more (`more`: its length says so; else unknown): the first
    page at the size the server serves, and the second page when it had to be asked for to know."""
    served = len(page.records)
    if more:
        return replace(page, page_size=served), None
    probe = fetch(2, asked, False)  # no length given: the next page tells the end from a smaller page size
    if not probe.records:
        return page, None
    return replace(page, page_size=served), replace(probe, page_size=served, offset=served)
