"""Garbage answers to the rows of one batch: a clear error naming the problem, nothing written as complete,
and the lease given up so that the retry resumes at once."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from support.relay import Relay
from support.scripted_server import ScriptedServer

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.exporter import export_batch
from flatfile_relay.flatfile import ConfigurationError, ContractError, FlatfileClient, TransientError
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import EXPORTED

BATCH = "2f6f3c1e-8d4b-4a8e-9c1d-0e5b7a9f3c21"
JSON = {"Content-Type": "application/json"}


def row(sequence: Any) -> dict[str, Any]:
    return {"id": f"r{sequence}", "batchId": BATCH, "mapped": {"sku": "A"}, "valid": True, "deleted": False,
            "sequence": sequence}


def envelope(total: Any, rows: list[Any]) -> bytes:
    return json.dumps({"pagination": {"totalCount": total}, "data": rows}).encode()


GARBAGE: dict[str, tuple[tuple[int, dict[str, str], bytes], type[Exception], str]] = {
    "a list instead of an envelope": ((200, JSON, b"[]"), ContractError, "list envelope"),
    "no data": ((200, JSON, b'{"pagination": {"totalCount": 1}}'), ContractError, "`data`"),
    "negative totalCount": ((200, JSON, envelope(-1, [row(0)])), ContractError, "totalCount"),
    "totalCount as text": ((200, JSON, envelope("2", [row(0)])), ContractError, "totalCount"),
    "sequence as text": ((200, JSON, envelope(1, [row("0")])), ContractError, "sequence"),
    "the same rows on every page": ((200, JSON, envelope(4, [row(0), row(1)])), ContractError, "sequence"),
    "one row twice": ((200, JSON, envelope(2, [row(0), row(0)])), ContractError, "again"),
    "fewer rows than announced": ((200, JSON, envelope(5, [])), ContractError, "announced 5"),
    "rows out of order": ((200, JSON, envelope(2, [row(1), row(0)])), ContractError, "order"),
    "an HTML page": ((200, {"Content-Type": "text/html"}, b"<html>gateway</html>"), TransientError, "not JSON"),
    "an empty 200": ((200, JSON, b""), TransientError, "not JSON"),
    "a redirect": ((302, {"Location": "https://elsewhere.example/rows"}, b""), ConfigurationError, "redirect"),
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_rows_give_a_clear_error_and_nothing_complete(relay: Relay, case: str) -> None:
    answer, error, words = GARBAGE[case]
    batch = {"id": BATCH, "status": "submitted", "createdAt": "2024-01-01T00:00:00.000Z"}
    routes = {
        f"GET /rest/batch/{BATCH}": (200, JSON, json.dumps(batch).encode()),
        f"GET /rest/batch/{BATCH}/rows": answer,
    }
    settings = dataclasses.replace(relay.deployment.settings("ExporterFunction"), page_size=2)
    clients = relay.deployment.clients
    with ScriptedServer(routes) as server:
        client = FlatfileClient(server.url, Credentials.from_secret(relay.emu.secret), auth="api_key", max_attempts=2,
                                backoff_base=0.0, timeout=5.0)
        run: Callable[[], Any] = lambda: export_batch(  # noqa: E731
            ExportJob.create(BATCH, trigger="schedule"), client, clients.s3, clients.sqs, relay.ledger,
            settings, Deadline.never(), owner="garbage-test", events=clients.events,
        )
        with pytest.raises(error) as caught:
            run()
        client.close()

    assert words in str(caught.value)
    assert relay.emu.secret["secretAccessKey"] not in str(caught.value)
    keys = [item["Key"] for item in clients.s3.list_objects_v2(Bucket=settings.export_bucket).get("Contents", [])]
    assert not any("/manifests/" in key for key in keys)
    entry = relay.entry(BATCH)
    assert entry.state != EXPORTED
    assert entry.lease_expires_at == 0  # given up: the retry resumes at once
    assert clients.sqs.receive_message(QueueUrl=settings.notices_queue_url).get("Messages") is None
