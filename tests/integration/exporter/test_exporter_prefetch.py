"""Row pages fetched ahead: the exporter's output is the same, in order, whatever answers first or fails."""

from __future__ import annotations

import gc
import time
import tracemalloc

import pytest
from support.relay import Relay, rows_of

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import RetriesExhaustedError
from flatfile_relay_devkit.emulator import FaultRule

PAGE = 10
PREFETCH = 4


def skips_answered(relay: Relay, batch_id: str) -> list[int]:
    """The `skip` of every rows request the emulator answered with 200, in arrival order."""
    return [int(record.query["skip"]) for record in relay.emu.requests_to(f"/rest/batch/{batch_id}/rows")
            if record.status == 200]


def exported_parts(relay: Relay, batch_id: str) -> list[bytes]:
    return [relay.object_at(part["uri"]) for part in relay.manifest_dict(batch_id)["parts"]]


def test_pages_answered_out_of_order_are_written_in_sequence_order_and_asked_for_once(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=25, page_size=PAGE)
    batch_id = relay.add_batch(rows_of(95))
    relay.emu.set(jitter=0.05)  # each answer waits 0..50 ms more: later pages overtake earlier ones
    ahead = relay.new_client(row_prefetch=PREFETCH)

    outcome = relay.export(batch_id, client=ahead)
    asked = skips_answered(relay, batch_id)

    assert (outcome.status, outcome.row_count) == ("exported", 95)
    assert relay.exported_rows(batch_id) == relay.api_rows(batch_id)
    assert sorted(asked) == list(range(0, 95, PAGE))  # none twice, none past the end
    ahead_parts = exported_parts(relay, batch_id)

    relay.emu.set(jitter=0.0)
    again = relay.export(batch_id, trigger="replay", client=relay.new_client(row_prefetch=1))
    assert again.status == "exported"
    assert exported_parts(relay, batch_id) == ahead_parts  # byte for byte what a one-page-at-a-time export writes


def test_a_page_that_fails_once_is_retried_and_its_rows_are_written_once(relay: Relay) -> None:
    relay = relay.with_settings(part_max_rows=25, page_size=PAGE)
    batch_id = relay.add_batch(rows_of(95))
    relay.emu.inject(FaultRule(kind="500", path=f"/rest/batch/{batch_id}/rows", after=3, count=1),
                     FaultRule(kind="drop", path=f"/rest/batch/{batch_id}/rows", after=5, count=1))

    outcome = relay.export(batch_id, client=relay.new_client(row_prefetch=PREFETCH))
    asked = skips_answered(relay, batch_id)

    assert (outcome.status, outcome.row_count) == ("exported", 95)
    rows = relay.exported_rows(batch_id)
    assert rows == relay.api_rows(batch_id)
    assert [row["sequence"] for row in rows] == sorted({row["sequence"] for row in rows})
    assert sorted(asked) == list(range(0, 95, PAGE))  # the failed ones answered once, when retried


def test_a_page_that_keeps_failing_stops_the_export_after_whole_parts_and_the_rerun_neither_loses_nor_repeats(
    relay: Relay,
) -> None:
    relay = relay.with_settings(part_max_rows=25, page_size=PAGE)
    batch_id = relay.add_batch(rows_of(95))
    relay.emu.inject(FaultRule(kind="503", path=f"/rest/batch/{batch_id}/rows", after=6, count=None))

    with pytest.raises(RetriesExhaustedError):
        relay.export(batch_id, client=relay.new_client(row_prefetch=PREFETCH, max_attempts=1), owner="first")

    entry = relay.ledger.get(batch_id)
    assert entry is not None
    assert entry.next_skip in (25, 50)  # only whole parts are recorded, whichever pages had come back
    assert relay.notices() == []

    relay.emu.clear_faults()
    outcome = relay.export(batch_id, client=relay.new_client(row_prefetch=PREFETCH), owner="second")

    assert (outcome.status, outcome.row_count) == ("exported", 95)
    assert relay.exported_rows(batch_id) == relay.api_rows(batch_id)


def test_pages_shorter_than_asked_drop_the_guesses_and_the_walk_continues_where_the_page_ended(relay: Relay) -> None:
    batch_id = relay.add_batch(rows_of(83))
    client = relay.new_client(row_prefetch=PREFETCH)
    pages = client.iter_row_pages(batch_id, Deadline.never(), page_size=PAGE)

    first = next(pages)
    relay.emu.set(max_take=6)  # the pages asked ahead come back with 6 rows, not 10
    rest = list(pages)

    walked = [first, *rest]
    assert [page.skip for page in walked[1:]] == [page.next_skip for page in walked[:-1]]
    assert [row for page in walked for row in page.rows] == relay.api_rows(batch_id)
    assert walked[-1].next_skip == 83


def test_memory_of_a_walk_is_bounded_by_the_pages_in_flight_not_by_the_batch(relay: Relay) -> None:
    pages_in_batch = 40
    batch_id = relay.add_batch(rows_of(pages_in_batch * PAGE * 5))
    page_size = PAGE * 5

    def peak_of(prefetch: int, pages_read: int) -> int:
        client = relay.new_client(row_prefetch=prefetch)
        client.iter_row_pages(batch_id, Deadline.never(), page_size=page_size, prefetch=1).__next__()  # token, warm
        gc.collect()
        tracemalloc.start()
        try:
            pages = client.iter_row_pages(batch_id, Deadline.never(), page_size=page_size)
            for read, _page in enumerate(pages, start=1):
                time.sleep(0.01)  # a slow consumer: every page asked ahead has come back and waits in memory
                if read == pages_read:
                    break
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            client.close()

    one_page = peak_of(1, 1)  # what holding one page costs (its answer, its rows)
    whole_batch = peak_of(PREFETCH, pages_in_batch)

    assert whole_batch < (PREFETCH + 2) * one_page  # the pool and the page in hand, whatever the batch size
    assert whole_batch < pages_in_batch * one_page / 4
