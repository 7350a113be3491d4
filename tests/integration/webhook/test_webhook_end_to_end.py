"""End to end: the emulator sends a batch as Portal v2 webhook POSTs over HTTP to the handler.

A tiny HTTP server stands in for the Function URL: it turns each request into a payload-2.0 event, calls
the handler and writes its response back.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from support.functions import lambda_context
from support.webhook import WebhookHarness

from flatfile_relay.jobs import ExportJob


class FunctionUrl:
    """`http://127.0.0.1:<port>/` in front of a Lambda handler, the way a Function URL calls it."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.lock = threading.Lock()  # one invocation at a time, like one execution environment
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> FunctionUrl:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                response = outer.invoke(self.command, self.path, dict(self.headers.items()), body)
                payload = response.get("body") or ""
                data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
                self.send_response(response["statusCode"])
                for name, value in (response.get("headers") or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:  # the query string holds the token
                pass

        return Handler

    def invoke(self, method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        parts = urlsplit(target)
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": parts.path or "/",
            "rawQueryString": parts.query, "headers": {k.lower(): v for k, v in headers.items()},
            "requestContext": {
                "http": {"method": method, "path": parts.path or "/", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
                "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
                "domainName": "127.0.0.1", "accountId": "anonymous", "apiId": "local",
            },
            "body": text, "isBase64Encoded": encoded,
        }
        if query:
            event["queryStringParameters"] = query
        with self.lock:
            result: dict[str, Any] = self.handler(event, lambda_context("WebhookFunction"))
        return result


@pytest.fixture
def function_url(webhook: WebhookHarness) -> Iterator[FunctionUrl]:
    with FunctionUrl(webhook.module.handler) as url:
        yield url


def test_the_emulator_webhook_for_a_big_batch_queues_one_export(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    from flatfile_relay_devkit.emulator import build_payloads, send_webhook

    token = emulator.secret["webhookToken"]
    webhook.set_secret(token)
    batch_id = emulator.samples["big"]
    event_id = str(uuid.uuid4())
    expected = build_payloads(emulator, batch_id, event_id=event_id)
    assert len(expected) >= 2, "the 'big' sample should need several POSTs"

    statuses = send_webhook(emulator, batch_id, function_url.url, token=token, event_id=event_id)

    assert statuses == [202] * len(expected)
    stored = webhook.objects()
    assert sorted(stored) == sorted(
        f"flatfile/webhooks/{batch_id}/{event_id}-{index}.json" for index in range(len(expected))
    )
    for index, part in enumerate(expected):
        assert json.loads(stored[f"flatfile/webhooks/{batch_id}/{event_id}-{index}.json"]) == part
    [message] = webhook.jobs()
    job = ExportJob.from_message(message)
    assert (job.batch_id, job.trigger) == (batch_id, "webhook")
    entry = webhook.ledger().get(batch_id)
    assert entry is not None
    assert entry.state == "queued"
    # no Flatfile API call is needed to accept a webhook
    assert emulator.request_log == []


def test_the_emulator_webhook_with_a_wrong_token_is_refused(
    webhook: WebhookHarness, emulator: Any, function_url: FunctionUrl
) -> None:
    from flatfile_relay_devkit.emulator import send_webhook

    webhook.set_secret(emulator.secret["webhookToken"])
    statuses = send_webhook(emulator, emulator.samples["big"], function_url.url, token="not-the-token")
    assert set(statuses) == {401}
    assert webhook.objects() == {}
    assert webhook.jobs() == []
