"""Failure-mode test helpers: a moto deployment wired to the emulator, seen from the poller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.jobs import ExportJob
from flatfile_relay.ledger import Ledger, LedgerEntry
from flatfile_relay.poller import PollReport, poll
from flatfile_relay.settings import Settings

#: small batch-list pages, so a few dozen batches make a multi-page list
PAGE = 5


@dataclass
class World:
    """template.yaml's resources in moto plus the emulator, seen from the poller."""

    emu: Any
    deployment: Any
    settings: Settings
    client: FlatfileClient
    ledger: Ledger

    @property
    def sqs(self) -> Any:
        return self.deployment.clients.sqs

    def poll(self, deadline: Deadline | None = None, client: FlatfileClient | None = None,
             **kwargs: Any) -> PollReport:
        return poll(client or self.client, self.ledger, self.sqs, self.settings, deadline or Deadline.never(),
                    **kwargs)

    def poll_with_sqs(self, sqs: Any, deadline: Deadline | None = None) -> PollReport:
        """A poll whose jobs go through another SQS client (to inject faults or hooks into it alone)."""
        return poll(self.client, self.ledger, sqs, self.settings, deadline or Deadline.never())

    def new_client(self, **options: Any) -> FlatfileClient:
        options.setdefault("backoff_base", 0.01)
        options.setdefault("backoff_cap", 0.05)
        options.setdefault("timeout", 5.0)
        return FlatfileClient(self.emu.url, Credentials.from_secret(self.emu.secret), batch_page_size=PAGE, **options)

    def drain_jobs(self) -> list[ExportJob]:
        url = self.settings.export_jobs_queue_url
        jobs: list[ExportJob] = []
        while messages := self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for message in messages:
                jobs.append(ExportJob.from_message(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return jobs

    def entry(self, batch_id: str) -> LedgerEntry:
        found = self.ledger.get(batch_id)
        assert found is not None, f"the ledger has no entry for {batch_id}"
        return found

    def submitted_ids(self) -> set[str]:
        return {b["id"] for b in self.emu.state.account_batches() if b["status"] == "submitted"}




Answer = tuple[int, dict[str, str], bytes]


class ScriptedServer:
    """A tiny stdlib HTTP server for answers the emulator cannot give: `routes` maps "METHOD /path" to
    `(status, headers, body bytes)`, or to a function of the query (a dict) returning one; anything else
    is a 404. Requests are recorded as "METHOD /path?query"."""

    def __init__(self, routes: dict[str, Answer | Callable[[dict[str, str]], Answer]]) -> None:
        import http.server
        import threading

        self.routes = routes
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append(f"{self.command} {self.path}")
                path, _, query = self.path.partition("?")
                route = outer.routes.get(f"{self.command} {path}", (404, {}, b'{"statusCode": 404}'))
                status, headers, body = route(dict(parse_qsl(query))) if callable(route) else route
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
