"""Failure modes of the poller: garbage for one pending batch, and a list that shrinks while it is walked."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from support.relay import PAGE, Relay
from support.scripted_server import ScriptedServer

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.ledger import PENDING, QUEUED
from flatfile_relay.webhook import WebhookDelivery, accept_delivery
from flatfile_relay_devkit.emulator import FaultRule
from flatfile_relay_devkit.emulator.webhook import build_payloads


@pytest.mark.parametrize("kind", ["invalid_json", "500", "truncated"])
def test_garbage_for_one_pending_batch_does_not_block_the_recheck_of_the_others(relay: Relay, kind: str) -> None:
    state = relay.emu.state
    for index in range(2 * PAGE):  # newer than every sample: the pending batches sit deep in the list
        state.add_batch("submitted", [{"sku": f"N-{index}"}])
    broken = state.add_batch(None, created_at=datetime.now(UTC) - timedelta(days=3))["id"]  # re-checked first
    healthy = relay.emu.samples["in_progress"]
    relay.poll()
    relay.drain_jobs()
    assert relay.entry(broken).state == relay.entry(healthy).state == PENDING
    state.set_status(broken, "submitted")
    state.set_status(healthy, "submitted")
    relay.emu.inject(FaultRule(kind=kind, path=f"/rest/batch/{broken}", count=None))
    client = relay.new_client(max_attempts=2)

    report = relay.poll(client=client)

    assert report.early_stop  # the walk did not show them: both go through the pending re-check
    assert report.rechecked == 2
    assert report.errors == 1  # the broken one is skipped, logged and counted ...
    assert report.jobs_sent == [healthy]  # ... and the other is queued all the same
    assert relay.entry(broken).state == PENDING  # nothing marked wrongly: it is re-checked next time
    assert relay.entry(healthy).state == QUEUED
    relay.emu.clear_faults()
    assert relay.poll(client=client).jobs_sent == [broken]
    client.close()


def test_a_batch_deleted_while_the_list_is_walked_does_not_hide_the_next_one(relay: Relay) -> None:
    state = relay.emu.state
    for index in range(3 * PAGE):
        state.add_batch("submitted", [{"sku": f"N-{index}"}])
    listed = [batch["id"] for batch in relay.new_client().iter_batches(Deadline.never())]
    assert len(listed) > 4 * PAGE
    doomed = listed[0]  # on the first page
    shifted = listed[3 * PAGE]  # first on page 4: moves up to page 3 once `doomed` is gone
    state.set_status(shifted, "submitted")
    answered = []

    def delete_after_the_third_page(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.path_url.startswith("/rest/batches"):
            answered.append(response.status_code)
            if len(answered) == 3:
                state.remove_batch(doomed)

    session = requests.Session()
    session.hooks["response"].append(delete_after_the_third_page)
    client = relay.new_client(session=session)

    report = relay.poll(client=client)

    assert len(answered) > 3
    assert report.reached_end
    assert shifted in report.jobs_sent  # a walk that reached the end saw every batch listed all along
    assert relay.entry(shifted).state == QUEUED
    client.close()
    session.close()


def test_batches_known_only_from_webhooks_do_not_let_the_walk_stop_above_an_unseen_one(relay: Relay) -> None:
    """The poller is the webhook's safety net: newer batches the webhook delivered must not hide an older
    one whose webhook never arrived."""
    state = relay.emu.state
    relay.poll()  # the baseline
    relay.drain_jobs()
    now = datetime.now(UTC)
    missed = state.add_batch("submitted", [{"sku": "M-1"}], now - timedelta(minutes=5))["id"]  # webhook lost
    delivered = [state.add_batch("submitted", [{"sku": f"D-{i}"}], now)["id"] for i in range(PAGE)]
    settings = dataclasses.replace(relay.deployment.settings("WebhookFunction"),
                                   export_bucket=relay.settings.export_bucket)
    for batch_id in delivered:  # what the webhook function does for each delivery it accepts
        body = json.dumps(build_payloads(relay.emu, batch_id)[0]).encode()
        accept_delivery(WebhookDelivery.parse(body), body, relay.deployment.clients.s3, relay.sqs,
                        relay.ledger, settings)
    assert {job.batch_id for job in relay.drain_jobs()} == set(delivered)

    report = relay.poll()

    assert report.jobs_sent == [missed]
    assert relay.entry(missed).state == QUEUED
    assert relay.poll().early_stop  # and once it has been walked past, idle polls stop early again


def test_a_batch_count_that_keeps_flapping_cannot_hold_the_walk_in_place(relay: Relay) -> None:
    """Garbage: totalCount alternating between two values, one batch a page. The walk still ends."""
    batches = [{"id": str(uuid.uuid4()), "status": "submitted", "createdAt": f"2024-01-0{9 - i}T00:00:00.000Z"}
               for i in range(6)]
    answered = [0]

    def batch_list(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        answered[0] += 1
        skip = int(query.get("skip", 0))
        total = len(batches) - answered[0] % 2  # 6, 5, 6, 5, ...
        body = {"pagination": {"totalCount": total}, "data": batches[skip:skip + 1]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    with ScriptedServer({"GET /rest/batches": batch_list}) as server:
        client = FlatfileClient(server.url, Credentials.from_secret(relay.emu.secret), auth="api_key", timeout=5.0)
        seen = [batch["id"] for page in client.iter_batch_pages(Deadline.after(20)) for batch in page.items]
        client.close()

    assert answered[0] <= 2 * len(batches)  # it ended, without going round in circles
    assert len(seen) == len(set(seen)) >= len(batches) - 1  # the count said 5 at the end: up to the 5th
