"""A trigger marks a batch `queued` after sending its job; the exporter may have handled that job already."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from support.relay import Relay

from flatfile_relay.aws import AwsClients
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import NOT_SUBMITTED, export_batch
from flatfile_relay.ledger import EXPORTED, PENDING
from flatfile_relay.webhook import WebhookDelivery, accept_delivery
from flatfile_relay_devkit.emulator.webhook import build_payloads


def test_a_job_handed_back_by_the_exporter_before_the_webhook_marks_it_queued_is_not_lost(relay: Relay) -> None:
    """The webhook can beat the REST API: the exporter finds the batch not submitted yet and hands it back
    to the poller (pending). The webhook's late `queued` mark must not bury it: no job is left in flight."""
    state = relay.emu.state
    batch_id = state.add_batch(None, [{"sku": "R-1"}, {"sku": "R-2"}])["id"]  # REST still says in progress
    exporter_settings = dataclasses.replace(relay.deployment.settings("ExporterFunction"),
                                            flatfile_base_url=relay.emu.url)
    webhook_settings = relay.deployment.settings("WebhookFunction")
    webhook_sqs = AwsClients().sqs
    outcomes: list[Any] = []

    def the_exporter_is_quick(**_: Any) -> None:  # the job is consumed between the send and the mark
        for job in relay.drain_jobs():
            outcomes.append(export_batch(job, relay.client, relay.deployment.clients.s3, relay.sqs,
                                         relay.ledger, exporter_settings, Deadline.never(), owner="fast",
                                         events=relay.clients.events))

    webhook_sqs.meta.events.register("after-call.sqs.SendMessageBatch", the_exporter_is_quick)
    body = json.dumps(build_payloads(relay.emu, batch_id)[0]).encode()
    accept_delivery(WebhookDelivery.parse(body), body, relay.deployment.clients.s3, webhook_sqs, relay.ledger,
                    webhook_settings)

    assert [outcome.status for outcome in outcomes] == [NOT_SUBMITTED]
    assert relay.drain_jobs() == []  # no job left in flight ...
    assert relay.entry(batch_id).state == PENDING  # ... so the poller must still own the batch
    state.set_status(batch_id, "submitted")
    report = relay.poll()
    assert batch_id in report.jobs_sent
    job = next(job for job in relay.drain_jobs() if job.batch_id == batch_id)
    export_batch(job, relay.client, relay.deployment.clients.s3, relay.sqs, relay.ledger, exporter_settings,
                 Deadline.never(), owner="later", events=relay.clients.events)
    assert relay.entry(batch_id).state == EXPORTED


def test_a_job_handed_back_before_the_poller_marks_it_queued_is_not_lost(relay: Relay) -> None:
    """Same race from the poller: it saw the batch submitted in the list, the detail says otherwise."""
    state = relay.emu.state
    relay.poll()
    relay.drain_jobs()
    batch_id = state.add_batch("submitted", [{"sku": "R-1"}])["id"]
    # the list says submitted, the detail (what the exporter reads) not yet
    exporter_settings = dataclasses.replace(relay.deployment.settings("ExporterFunction"),
                                            flatfile_base_url=relay.emu.url)
    poller_sqs = AwsClients().sqs
    outcomes: list[Any] = []

    def the_exporter_is_quick(**_: Any) -> None:
        state.set_status(batch_id, None)  # what the detail answers at this moment
        for job in relay.drain_jobs():
            outcomes.append(export_batch(job, relay.client, relay.deployment.clients.s3, relay.sqs,
                                         relay.ledger, exporter_settings, Deadline.never(), owner="fast",
                                         events=relay.clients.events))
        state.set_status(batch_id, "submitted")

    poller_sqs.meta.events.register("after-call.sqs.SendMessageBatch", the_exporter_is_quick)
    report = relay.poll(sqs=poller_sqs)

    assert report.jobs_sent == [batch_id]
    assert [outcome.status for outcome in outcomes] == [NOT_SUBMITTED]
    assert relay.entry(batch_id).state == PENDING  # the poller re-checks it ...
    again = relay.poll()
    assert again.jobs_sent == [batch_id]  # ... and queues it again
    assert [job.batch_id for job in relay.drain_jobs()] == [batch_id]
