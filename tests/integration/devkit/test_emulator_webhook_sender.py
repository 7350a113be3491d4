"""send_webhook against a tiny local receiver: chunking, sequence, token, statuses."""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from support.shapes import END_USER_KEYS

from flatfile_relay_devkit.emulator import Emulator, send_webhook


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.queries: list[dict[str, list[str]]] = []
        self.content_types: list[str] = []
        self.status = 202
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                receiver.queries.append(parse_qs(urlsplit(self.path).query))
                receiver.content_types.append(self.headers["Content-Type"])
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_big_batch_arrives_in_parts_of_at_most_1000_rows(emulator: Emulator, receiver: Receiver) -> None:
    batch_id = emulator.samples["big"]
    statuses = send_webhook(emulator, batch_id, receiver.url, token="s3cret")
    kept = [row for row in emulator.state.rows(batch_id) if not row["deleted"]]
    assert statuses == [202, 202, 202]
    assert [body["event"]["sequence"] for body in receiver.bodies] == [
        {"length": 3, "index": i} for i in range(3)
    ]
    assert len({body["event"]["id"] for body in receiver.bodies}) == 1
    sizes = [len(b["data"]["validRows"]) + len(b["data"]["invalidRows"]) for b in receiver.bodies]
    assert all(size <= 1000 for size in sizes)
    assert sum(sizes) == len(kept)
    for body in receiver.bodies:
        assert body["event"]["type"] == "batch:v1:upload"
        assert body["data"]["meta"]["length"] == len(kept)
        assert body["data"]["meta"]["batch"] == {"id": batch_id}
        assert body["data"]["meta"]["settings"] == {"id": None}
        assert set(body["data"]["customer"]) == END_USER_KEYS
    assert receiver.queries == [{"token": ["s3cret"]}] * 3
    assert set(receiver.content_types) == {"application/json"}


def test_empty_batch_is_one_post(emulator: Emulator, receiver: Receiver) -> None:
    assert send_webhook(emulator.state, emulator.samples["empty"], receiver.url) == [202]
    (body,) = receiver.bodies
    assert body["event"]["sequence"] == {"length": 1, "index": 0}
    assert body["data"]["meta"]["length"] == 0
    assert receiver.queries == [{}]


def test_nasty_values_survive_the_webhook(emulator: Emulator, receiver: Receiver) -> None:
    batch_id = emulator.samples["nasty"]
    send_webhook(emulator, batch_id, receiver.url, rows_per_post=10)
    delivered = [row for b in receiver.bodies for row in b["data"]["validRows"] + b["data"]["invalidRows"]]
    kept = [row["mapped"] for row in emulator.state.rows(batch_id) if not row["deleted"]]
    assert sorted(map(json.dumps, delivered)) == sorted(map(json.dumps, kept))
    assert [b["event"]["sequence"]["index"] for b in receiver.bodies] == list(range(len(receiver.bodies)))


def test_error_statuses_are_returned_with_stdlib_and_requests(emulator: Emulator, receiver: Receiver) -> None:
    receiver.status = 401
    assert send_webhook(emulator, emulator.samples["single"], receiver.url) == [401]
    with requests.Session() as session:
        assert send_webhook(emulator, emulator.samples["single"], receiver.url, session=session) == [401]


def test_unreachable_receiver_raises(emulator: Emulator, receiver: Receiver) -> None:
    url = receiver.url
    receiver.close()
    with pytest.raises(urllib.error.URLError):
        send_webhook(emulator, emulator.samples["single"], url, timeout=2)
