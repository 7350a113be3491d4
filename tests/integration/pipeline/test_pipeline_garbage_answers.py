"""Garbage from Flatfile about one batch: a clear error, and nothing written or marked as complete."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support.relay import PAGE, Relay

from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import export_batch
from flatfile_relay.flatfile import ContractError
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import PENDING


def test_a_batch_answered_under_another_id_is_refused_by_the_client(relay: Relay) -> None:
    medium = relay.emu.samples["medium"]
    impostor = str(uuid.uuid4())
    relay.emu.state.update_batch(medium, id=impostor)  # GET /rest/batch/{medium} now answers another batch

    with pytest.raises(ContractError, match="another batch"):
        relay.client.get_batch(medium, Deadline.after(10))
    upper = relay.emu.state.add_batch("submitted")["id"]
    relay.emu.state.update_batch(upper, id=upper.upper())  # the same UUID in capitals is the same batch
    assert relay.client.get_batch(upper, Deadline.after(10))["id"] == upper.upper()


def test_the_exporter_writes_nothing_for_a_batch_answered_under_another_id(relay: Relay) -> None:
    medium = relay.emu.samples["empty"]  # no rows, whose own batchId could give the mix-up away
    relay.emu.state.update_batch(medium, id=str(uuid.uuid4()))
    settings = dataclasses.replace(relay.deployment.settings("ExporterFunction"),
                                   flatfile_base_url=relay.emu.url)
    clients = relay.deployment.clients
    relay.ledger.mark_queued(medium, created_at=None)

    with pytest.raises(ContractError):
        export_batch(ExportJob.create(medium, trigger="schedule"), relay.client, clients.s3, clients.sqs,
                     relay.ledger, settings, Deadline.never(), owner="test", events=clients.events)

    listed = clients.s3.list_objects_v2(Bucket=settings.export_bucket).get("Contents", [])
    assert listed == []
    assert relay.entry(medium).state != "exported"
    assert clients.sqs.receive_message(QueueUrl=settings.notices_queue_url).get("Messages") is None


def test_a_pending_batch_answered_under_another_id_is_not_marked_from_the_other_batch(relay: Relay) -> None:
    state = relay.emu.state
    for index in range(2 * PAGE):
        state.add_batch("submitted", [{"sku": f"N-{index}"}])
    pending = state.add_batch(None, created_at=datetime.now(UTC) - timedelta(days=1))["id"]
    cancelled = state.add_batch("cancelled", created_at=datetime.now(UTC) - timedelta(days=2))["id"]
    relay.poll()
    relay.drain_jobs()
    state.update_batch(pending, id=cancelled, status="cancelled")  # garbage: the detail of another batch

    report = relay.poll()

    assert report.rechecked >= 1
    assert report.errors == 1
    assert relay.entry(pending).state == PENDING  # not closed on the strength of another batch's status
