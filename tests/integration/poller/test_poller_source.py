"""The poller walking a source other than the legacy one (`poll_source`): its own checkpoint, imports it calls
unrelated left alone, and the pending imports of other sources left to them. The source here is the legacy
API seen as another team's: the emulator over HTTP, moto over HTTP."""

from __future__ import annotations

from typing import Any

from support.relay import PAGE, Relay

from flatfile_relay.checkpoint import Checkpoint
from flatfile_relay.deadline import Deadline
from flatfile_relay.ledger import PENDING
from flatfile_relay.poller import PollReport, poll_source
from flatfile_relay.sources import Disposition
from flatfile_relay.sources.legacy import LegacySource


class OurTeamsBatches(LegacySource):
    """The license's batches, except other teams' uploads (a filename starting with `other-`)."""

    name = "ours"

    def classify(self, item: dict[str, Any]) -> Disposition:
        if str(item.get("filename", "")).startswith("other-"):
            return Disposition.UNRELATED
        return super().classify(item)


def poll(relay: Relay) -> PollReport:
    return poll_source(OurTeamsBatches(relay.client), relay.ledger, relay.sqs, relay.settings, Deadline.never())


def others(relay: Relay, count: int, status: str | None = "submitted") -> list[str]:
    return [relay.emu.state.add_batch(status, [{"sku": "O"}], filename=f"other-{n}.csv")["id"] for n in range(count)]


def test_a_source_keeps_its_own_checkpoint_and_leaves_unrelated_imports_alone(relay: Relay) -> None:
    theirs = others(relay, 2) + others(relay, 1, status=None)

    report = poll(relay)

    assert report.reached_end
    assert sorted(report.jobs_sent) == sorted(relay.submitted_ids() - set(theirs))
    assert all(relay.ledger.get(batch_id) is None for batch_id in theirs)  # neither queued nor pending
    assert relay.ledger.checkpoint("ours").baseline_completed_at is not None
    assert relay.ledger.get("#poller:ours") is not None
    assert relay.ledger.checkpoint() == Checkpoint()  # the legacy source's checkpoint: untouched


def test_unrelated_imports_on_top_do_not_keep_idle_polls_reading(relay: Relay) -> None:
    poll(relay)
    relay.drain_jobs()
    others(relay, PAGE)  # a whole page of other teams' uploads, newer than anything the walk saw

    assert poll(relay).pages == 2  # newer than the newest known: read past once
    idle = poll(relay)

    assert idle.early_stop
    assert idle.pages == 1  # a page of them is as good as a page of known batches
    assert idle.jobs_sent == []


def test_a_source_rechecks_only_its_own_pending_imports(relay: Relay) -> None:
    poll(relay)
    relay.ledger.mark_pending("us_jb_0123456789", created_at="2026-01-01T00:00:00.000Z", status="planning")
    relay.emu.clear_request_log()

    report = poll(relay)

    assert report.rechecked == 0  # (the sample still in progress is on the first page)
    assert report.errors == 0
    assert relay.emu.requests_to("/rest/batch/us_jb_0123456789") == []
    assert relay.entry("us_jb_0123456789").state == PENDING
