"""A first copy of an account of 100,000 batches, each poll cut short by its deadline: every poll reads the
top, then carries on where the one before stopped, so the polls together read the list about once.

Seeded in process, not over HTTP: the emulator's store directly, and the ledger through moto's own backend
(the same in-process moto server the relay reaches over HTTP). Nearly every batch is already exported in the
ledger, so the ledger work stays small: the walk still reads and checks every listed batch, and the batches
the ledger does not know (one in 997, at every kind of position in the pages) must each get an export job.

A module of its own: the 100,000 ledger items would make the next test's emptying of the deployment slow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from moto.backends import get_backend
from support.relay import Relay

from flatfile_relay.ledger import EXPORTED
from flatfile_relay_devkit.local.deployment import ACCOUNT
from flatfile_relay_devkit.local.moto import REGION

LISTED = 100_000
PAGE = 1000  # the emulator's largest page
PAGES_PER_POLL = 12  # what each poll's deadline allows
NEW_EVERY = 997  # one batch in this many is not in the ledger yet


@pytest.mark.slow
@pytest.mark.timeout(300)  # about 40 s on an idle machine; far longer while other suites share the cores
def test_a_first_copy_of_100000_batches_carries_on_where_each_cut_poll_stopped(
    relay_factory: Callable[..., Relay],
) -> None:
    relay = relay_factory(batch_page_size=PAGE)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stored = relay.emu.state.add_batches("submitted", (start + timedelta(seconds=i) for i in range(LISTED)))
    table = get_backend("dynamodb")[ACCOUNT][REGION]
    for index, batch_id in enumerate(stored):
        if index % NEW_EVERY:
            table.put_item(relay.settings.ledger_table, {"batchId": {"S": batch_id}, "state": {"S": EXPORTED}})
    listed = relay.emu.state.batches  # the live dict (copies of 100,000 batches would cost seconds)
    total = len(listed)
    new = {batch_id for index, batch_id in enumerate(stored) if index % NEW_EVERY == 0}
    new |= {batch_id for batch_id, batch in listed.items() if batch["status"] == "submitted"} - set(stored)

    reports = []
    while not reports or not reports[-1].complete:
        assert len(reports) < 20, "the first copy does not progress"
        reports.append(relay.poll(relay.pages_deadline(PAGES_PER_POLL), reserve=1.0))

    cut, last = reports[:-1], reports[-1]
    assert all(r.baseline and r.full_walk and not r.complete for r in cut)
    assert all(r.pages == PAGES_PER_POLL for r in cut)
    assert last.reached_end
    assert last.baseline
    assert relay.ledger.checkpoint().baseline_completed_at
    assert relay.ledger.checkpoint().walk_resume is None
    # the list was read about once: one page of the top and a quarter of a page of overlap per poll on top
    pages = sum(r.pages for r in reports)
    assert pages == relay.list_requests()
    assert math.ceil(total / PAGE) <= pages <= math.ceil(total / PAGE) + 2 * len(reports)
    assert len(reports) <= math.ceil(total / PAGE / (PAGES_PER_POLL - 2)) + 1
    # the pages read cover the whole list (it did not change), and every batch the ledger lacked got its job
    read = sorted(int(r.query["skip"]) for r in relay.emu.requests_to("/rest/batches"))
    reached = 0
    for skip in read:
        assert skip <= reached, f"batches {reached}..{skip} were never read"
        reached = max(reached, skip + PAGE)
    assert reached >= total
    queued = [job.batch_id for job in relay.drain_jobs()]
    assert len(queued) == len(set(queued))
    assert set(queued) == new
    assert sum(len(r.jobs_sent) for r in reports) == len(new)
