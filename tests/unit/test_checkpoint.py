"""The poller's checkpoint (`flatfile_relay.checkpoint`): its stored form, old items, and its decisions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support.lists import T0, MemoryList, MiniPoller, newest_first

from flatfile_relay.checkpoint import VERSION, Checkpoint, checkpoint_id, is_checkpoint_id
from flatfile_relay.walk import ResumePoint

#: a checkpoint as relays before versions wrote it: the eight fields, no schemaVersion
OLD_ITEM: dict[str, Any] = {
    "baselineCompletedAt": "2024-05-01T00:00:00.000Z",
    "lastFullWalkAt": "2024-05-02T00:00:00.000Z",
    "lastPollAt": "2024-05-02T00:05:00.000Z",
    "lastPollComplete": False,
    "newestCreatedAt": "2024-05-01T23:59:59.123Z",
    "fullWalkPages": 12,
    "resumeBelow": "2024-04-01T00:00:00.000Z",
    "walkResume": {"offset": 2000, "ids": ["a", "b"], "totalCount": 100000},
}


def test_an_item_written_before_versions_loads_and_is_stored_again_field_for_field() -> None:
    checkpoint = Checkpoint.from_item(OLD_ITEM)
    assert checkpoint.baseline_completed_at == T0.replace(month=5)
    assert checkpoint.last_poll_complete is False
    assert checkpoint.newest_created_at is not None
    assert checkpoint.newest_created_at.microsecond == 123000
    assert checkpoint.full_walk_pages == 12
    assert checkpoint.walk_resume == ResumePoint(offset=2000, ids=("a", "b"), total=100000)
    assert checkpoint.to_item() == {"schemaVersion": VERSION, **OLD_ITEM}
    assert Checkpoint.from_item(checkpoint.to_item()) == checkpoint


def test_an_empty_item_is_a_new_deployment_and_none_fields_are_not_stored() -> None:
    assert Checkpoint.from_item({}) == Checkpoint()
    assert Checkpoint().to_item() == {"schemaVersion": VERSION}
    assert Checkpoint.from_item({**OLD_ITEM, "resumeBelow": None, "walkResume": None}).to_item() == {
        "schemaVersion": VERSION, **{k: v for k, v in OLD_ITEM.items() if k not in ("resumeBelow", "walkResume")}
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("walkResume", {"offset": "2000", "ids": ["a"], "totalCount": 1}),
        ("walkResume", {"offset": 2000, "ids": [], "totalCount": 1}),
        ("walkResume", {"offset": 2000, "ids": ["a"]}),
        ("walkResume", "2000"),
        ("lastFullWalkAt", "yesterday"),
        ("newestCreatedAt", 1714521600),
        ("fullWalkPages", 0),
        ("fullWalkPages", "12"),
        ("fullWalkPages", True),
        ("lastPollComplete", "false"),
    ],
)
def test_an_unreadable_field_counts_as_absent(field: str, value: Any) -> None:
    checkpoint = Checkpoint.from_item({**OLD_ITEM, field: value})
    assert field not in checkpoint.to_item()
    assert checkpoint.to_item() == {"schemaVersion": VERSION, **{k: v for k, v in OLD_ITEM.items() if k != field}}


@pytest.mark.parametrize("version", [VERSION + 1, -1, "1", True, 1.5])
def test_a_version_this_relay_cannot_read_is_refused_by_name(version: Any) -> None:
    with pytest.raises(ValueError, match="schemaVersion"):
        Checkpoint.from_item({**OLD_ITEM, "schemaVersion": version})


def test_each_source_has_its_own_key_and_the_legacy_one_keeps_the_old_key() -> None:
    assert checkpoint_id("legacy") == "#poller"
    assert checkpoint_id("platform") == "#poller:platform"
    assert all(is_checkpoint_id(checkpoint_id(name)) for name in ("legacy", "platform"))
    assert not is_checkpoint_id("#pollers")


# -- what the checkpoint says about the next walk -------------------------------------------------------


def test_a_full_walk_is_due_before_the_first_copy_and_then_periodically() -> None:
    now = T0 + timedelta(days=10)
    assert Checkpoint().full_walk_due(now, 24)
    done = Checkpoint(baseline_completed_at=T0, last_full_walk_at=now - timedelta(hours=23))
    assert not done.full_walk_due(now, 24)
    assert done.full_walk_due(now + timedelta(hours=1), 24)
    assert done.full_walk_due(now, 0)  # periodic full walks off: every walk is full
    assert Checkpoint(baseline_completed_at=T0).full_walk_due(now, 24)  # no readable last walk


@pytest.mark.parametrize(
    ("pages", "pending", "budget", "since_walk", "since_poll", "due"),
    [
        (3, 5, 100, 0, 5, True),  # a walk costs no more than the re-checks it replaces
        (3, 2, 100, 0, 5, False),  # every pending one is re-checked
        (None, 50, 100, 600, 5, False),
        (200, 150, 100, 50, 5, False),  # more than the budget, the last walk is recent
        (200, 150, 100, 55, 5, True),  # ... an hour old by the next poll
        (200, 150, 100, 55, 90, True),  # a long pause counts as an hour at most
        (None, 150, 100, None, 5, True),  # no full walk yet
    ],
)
def test_a_full_walk_for_the_pending_items_sake(pages: int | None, pending: int, budget: int,
                                                 since_walk: int | None, since_poll: int, due: bool) -> None:
    now = T0 + timedelta(days=3)
    checkpoint = Checkpoint(
        full_walk_pages=pages, last_poll_at=now - timedelta(minutes=since_poll),
        last_full_walk_at=None if since_walk is None else now - timedelta(minutes=since_walk),
    )
    assert checkpoint.walk_for_pending(now, pending, budget) is due


# -- what a walk established ----------------------------------------------------------------------------


def test_a_walk_that_reached_the_end_records_it_and_the_first_copy_once() -> None:
    poller = MiniPoller(MemoryList(newest_first(6), page_size=4))
    poller.poll()
    first = poller.checkpoint
    assert first.baseline_completed_at == first.last_full_walk_at == poller.now
    assert first.walk_resume is None
    assert first.resume_below is None
    poller.poll(full=True)
    assert poller.checkpoint.baseline_completed_at == first.baseline_completed_at
    assert poller.checkpoint.last_full_walk_at == poller.now > first.last_full_walk_at  # type: ignore[operator]


def test_a_walk_cut_short_records_where_it_stopped_and_the_lowest_point_it_reached() -> None:
    poller = MiniPoller(MemoryList(newest_first(30), page_size=4))
    poller.poll(pages=2)
    checkpoint = poller.checkpoint
    assert checkpoint.baseline_completed_at is None
    assert checkpoint.walk_resume == ResumePoint(8, tuple(f"e{n}" for n in range(29, 21, -1)), 30)
    assert checkpoint.resume_below == T0 + timedelta(minutes=22)
    assert checkpoint.newest_created_at == T0 + timedelta(minutes=29)


def test_a_walk_that_learnt_nothing_changes_nothing() -> None:
    poller = MiniPoller(MemoryList(newest_first(30), page_size=4))
    poller.poll()
    before = poller.checkpoint
    poller.poll()  # an early stop on the first page
    assert poller.checkpoint == before
