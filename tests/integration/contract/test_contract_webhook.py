"""Contract item 8: the webhook's token, its answers, and "nothing stored or queued" on every refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contract_stack import Stack, portal_payload, webhook_event


def _nothing_stored_or_queued(stack: Stack) -> None:
    assert stack.object_keys() == []
    assert stack.jobs() == []


@pytest.mark.parametrize("where", ["query", "header"])
def test_a_valid_token_is_accepted_in_the_query_or_the_header(stack: Stack, where: str) -> None:
    batch_id = stack.emulator.samples["single"]
    status, body = stack.webhook_with_token(batch_id, in_header=where == "header")
    assert status == 202, body
    assert [job["batchId"] for job in stack.jobs()] == [batch_id]
    assert [key for key in stack.object_keys() if "/webhooks/" in f"/{key}"]


def test_the_token_header_name_is_case_insensitive_and_a_raw_query_string_is_enough(stack: Stack) -> None:
    token = stack.emulator.secret["webhookToken"]
    batch_id = stack.emulator.samples["single"]
    status, _ = stack.webhook(webhook_event(portal_payload(batch_id), headers={"X-Webhook-Token": token}))
    assert status == 202
    event = webhook_event(portal_payload(batch_id))
    event["rawQueryString"] = f"token={token}"  # an event built by hand may carry only the raw query string
    status, _ = stack.webhook(event)
    assert status == 202


REFUSED_TOKENS: list[tuple[dict[str, str], dict[str, str]]] = [
    ({}, {}),
    ({"token": "wrong-token"}, {}),
    ({}, {"x-webhook-token": "wrong-token"}),
    ({"token": ""}, {}),
    ({"tok": "x"}, {}),
]


def test_missing_or_wrong_token_is_401_and_nothing_is_stored_or_queued(stack: Stack) -> None:
    body = portal_payload(stack.emulator.samples["single"])
    for query, headers in REFUSED_TOKENS:
        status, _ = stack.webhook(webhook_event(body, query=query, headers=headers))
        assert status == 401, (query, headers)
        _nothing_stored_or_queued(stack)


def test_no_webhook_token_configured_is_401_for_any_token(stack: Stack) -> None:
    secret = {k: v for k, v in stack.emulator.secret.items() if k != "webhookToken"}
    stack.put_secret(secret)
    token = stack.emulator.secret["webhookToken"]
    for query in ({"token": token}, {"token": ""}, {}):
        status, _ = stack.webhook(webhook_event(portal_payload(stack.emulator.samples["single"]), query=query))
        assert status == 401
    _nothing_stored_or_queued(stack)

    stack.put_secret(stack.emulator.secret)  # fixed: the next request (same warm function) is accepted
    status, _ = stack.webhook(webhook_event(portal_payload(stack.emulator.samples["single"]),
                                            query={"token": token}))
    assert status == 202


MALFORMED_BODIES: list[str | None] = [
    None, "", "not json", "[]", "{}", '{"event": {"type": "batch:v1:upload"}}',
    json.dumps({"event": {"type": "batch:v1:upload", "id": "e-1"}, "data": {"meta": {"batch": {"id": "nope"}}}}),
]


def test_a_malformed_body_is_400_and_nothing_is_stored_or_queued(stack: Stack) -> None:
    token = stack.emulator.secret["webhookToken"]
    for body in MALFORMED_BODIES:
        status, _ = stack.webhook(webhook_event(body, query={"token": token}))
        assert status == 400, body
        _nothing_stored_or_queued(stack)


def test_a_too_large_body_is_413_and_nothing_is_stored_or_queued(stack: Stack) -> None:
    token = stack.emulator.secret["webhookToken"]
    payload = json.loads(portal_payload(stack.emulator.samples["single"]))
    payload["data"]["validRows"] = [{"notes": "x" * 1000}] * 6000
    status, _ = stack.webhook(webhook_event(json.dumps(payload), query={"token": token}))
    assert status == 413
    _nothing_stored_or_queued(stack)


def test_webhook_parts_and_the_poll_converge_on_one_export(stack_factory: Any) -> None:
    stack = stack_factory(samples=False)
    big = stack.add_batch(rows=40)
    stack.add_batch(rows=1)
    event_id = "3b9c1f0e-6d2a-4e8b-9f7c-51a0d4e2b8c6"
    for index in range(3):
        status, _ = stack.webhook_with_token(big, index=index, length=3, event_id=event_id)
        assert status == 202
    stack.poll()
    stack.export_queued()
    notices = [n for n in stack.notices() if n["batchId"] == big]
    assert len(notices) == 1
    assert notices[0]["trigger"] == "webhook"
    assert stack.manifest(big)["trigger"] == "webhook"
    stored = [key for key in stack.object_keys() if "webhooks/" in key]
    assert stored == [f"flatfile/webhooks/{big}/{event_id}-{i}.json" for i in range(3)]
    # a late redelivery after the export queues nothing
    status, body = stack.webhook_with_token(big, event_id=event_id)
    assert status == 202
    assert body["queued"] is False
    assert stack.jobs() == []
