"""Contract item 5: which batches get exported — a complete first copy, EXPORT_SINCE, late submissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contract_stack import Stack


def test_export_since_limits_the_first_poll_to_batches_created_since(stack_factory: Any) -> None:
    probe = stack_factory()
    batches = probe.emulator.state.batches
    submitted = sorted((b["createdAt"], bid) for bid, b in batches.items() if b["status"] == "submitted")
    since = submitted[len(submitted) // 2][0]  # half of the submitted batches were created before it

    stack = stack_factory(env={"EXPORT_SINCE": since})
    assert set(stack.poll()["jobs_sent"]) == {bid for created, bid in submitted if created >= since}
    stack.export_queued()
    assert {n["batchId"] for n in stack.notices()} == {bid for created, bid in submitted if created >= since}
    assert stack.poll()["jobs_sent"] == []


def test_export_since_as_a_plain_date(stack_factory: Any) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    stack = stack_factory(env={"EXPORT_SINCE": tomorrow})
    assert stack.poll()["jobs_sent"] == []
    new = stack.emulator.state.add_batch("submitted", [{"sku": "A"}], created_at=f"{tomorrow}T00:00:01Z")["id"]
    assert stack.poll()["jobs_sent"] == [new]


def test_later_polls_export_new_and_late_submitted_batches(stack: Stack) -> None:
    state = stack.emulator.state
    long_ago = datetime.now(UTC) - timedelta(days=60)
    old = state.add_batch(None, [{"sku": "OLD-1"}], created_at=long_ago)["id"]
    stack.poll()
    stack.jobs()

    in_progress = stack.emulator.samples["in_progress"]
    state.set_status(in_progress, "submitted")
    state.set_status(old, "submitted")
    new = state.add_batch("submitted", [{"sku": "NEW-1"}])["id"]
    assert set(stack.poll()["jobs_sent"]) == {in_progress, old, new}
    stack.export_queued()
    notices = stack.notices()
    assert sorted(n["batchId"] for n in notices) == sorted([in_progress, old, new])
    for batch_id in (in_progress, old, new):
        assert stack.exported_rows(stack.manifest(batch_id)) == stack.api_rows(batch_id)
    assert stack.poll()["jobs_sent"] == []


def test_a_late_submission_below_the_first_page_is_exported_by_the_next_poll(stack_factory: Any) -> None:
    """More batches than one list page: the pending batch sits on page 2, behind a page of known batches."""
    stack = stack_factory(env={"FLATFILE_BATCH_PAGE_SIZE": "5"}, samples=False)
    state = stack.emulator.state
    pending = state.add_batch(None, [{"sku": "P-1"}], created_at=datetime.now(UTC) - timedelta(days=6))["id"]
    for index in range(8):
        state.add_batch("submitted", [], created_at=datetime.now(UTC) - timedelta(minutes=index))
    first = stack.poll()
    assert first["pages"] >= 2
    stack.jobs()

    state.set_status(pending, "submitted")
    assert stack.poll()["jobs_sent"] == [pending]

