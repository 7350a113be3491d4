"""The HTTP transport: a threaded HTTP/1.1 server (keep-alive) that applies latency and faults.

Each request is read whole, delayed by the ``latency`` and ``jitter`` knobs, checked against the fault plan, answered by
the :class:`.api.Api` (or by the fault), recorded as a :class:`RequestRecord` and only then written, so a
client that got its answer always finds its request in the log.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from .api import Api, auth_kind, is_platform_path
from .config import EmulatorConfig
from .faults import FaultPlan, FaultRule
from .platform.api import platform_error, route_template
from .responses import JSON_CONTENT_TYPE, Request, Response, nest_error

__all__ = ["EmulatorHTTPServer", "RequestRecord"]

_INVALID_JSON_BODY = "<html><body><h1>502 Bad Gateway</h1>upstream error</body></html>"


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received (never holds credentials or bodies).

    ``status`` is 0 for a dropped connection (for a ``lost`` fault: the status of the answer that was never
    sent); ``fault`` names the injected fault, if any; ``at`` is the arrival time (``time.time()``); ``route``
    is the template of the Platform route that served it (e.g. ``/v1/jobs/{jobId}/ack``; None for the legacy
    API); ``body_keys`` are the top-level keys of a JSON object body (``("[]",)`` for a JSON array), never values.
    """

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0
    auth: str | None = None
    fault: str | None = None
    at: float = 0.0
    route: str | None = None
    body_keys: tuple[str, ...] = ()

    @property
    def auth_kind(self) -> str | None:
        """Alias of :attr:`auth`."""
        return self.auth


def fault_response(rule: FaultRule, path: str = "/") -> Response | None:
    """The canned answer of a status or ``invalid_json`` fault (``None`` for the other kinds); under ``/v1`` a
    status fault answers in the Platform's error envelope."""
    if rule.kind == "invalid_json":
        return Response(200, (rule.body or _INVALID_JSON_BODY).encode("utf-8"), JSON_CONTENT_TYPE)
    if not rule.kind.isdigit():
        return None
    status = int(rule.kind)
    messages = {
        429: "ThrottlerException: Too Many Requests",
        500: "Internal server error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }
    response = platform_error(status, messages[status]) if is_platform_path(path) else nest_error(
        status, messages[status])
    if rule.body is not None:
        response.body = rule.body.encode("utf-8")
    if status == 429 and rule.retry_after is not None:
        response.headers.append(("Retry-After", format(rule.retry_after, "g")))
    return response


def _body_keys(body: bytes) -> tuple[str, ...]:
    """The top-level keys of a JSON object body, sorted (``("[]",)`` for an array; ``()`` for anything else)."""
    if not body.strip():
        return ()
    try:
        value = json.loads(body)
    except ValueError:
        return ()
    if isinstance(value, list):
        return ("[]",)
    return tuple(sorted(value)) if isinstance(value, dict) else ()


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` bound to one emulator; :meth:`close_connections` ends keep-alive sockets."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        api: Api,
        faults: FaultPlan,
        config: Callable[[], EmulatorConfig],
        record: Callable[[RequestRecord], None],
        errors: list[str],
    ) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.faults = faults
        self.config = config
        self.record = record
        self.errors = errors
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, alive: bool) -> None:
        """Remember (or forget) an open client connection."""
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection (idle keep-alive ones included)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate sends: no 40 ms delayed-ACK stall
    server_version = "FlatfileEmulator/0.1"
    timeout = 60

    @property
    def _server(self) -> EmulatorHTTPServer:
        return cast(EmulatorHTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        self._server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (see ``Emulator.request_log``)."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        arrived = time.time()
        server = self._server
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._write(nest_error(400, "Bad Content-Length"))
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        path = unquote(url.path) or "/"
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        request = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        config = server.config()
        delay = config.latency + (random.uniform(0.0, config.jitter) if config.jitter > 0 else 0.0)
        if delay > 0:
            time.sleep(delay)
        rule = server.faults.take(self.command, path)
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.delay)
        response = fault_response(rule, path) if rule is not None else None
        if response is None and (rule is None or rule.kind != "drop"):
            response = self._answer(request)
        record = RequestRecord(
            method=self.command,
            path=path,
            query=query,
            status=response.status if response is not None else 0,
            auth=auth_kind(request),
            fault=rule.kind if rule is not None else None,
            at=arrived,
            route=route_template(self.command, path) if is_platform_path(path) else None,
            body_keys=_body_keys(body),
        )
        server.record(record)
        if response is None or (rule is not None and rule.kind == "lost"):  # close without a byte of response
            self.close_connection = True
            return
        kind = rule.kind if rule is not None else None
        trickle = rule.delay if rule is not None and kind == "trickle" else 0.0
        self._write(response, truncate=kind == "truncated", trickle=trickle)

    def _answer(self, request: Request) -> Response:
        try:
            return self._server.api.handle(request)
        except Exception:  # noqa: BLE001 - any bug becomes a 500, kept for the tests to inspect
            self._server.errors.append(traceback.format_exc())
            return nest_error(500, "Internal server error")

    def _write(self, response: Response, *, truncate: bool = False, trickle: float = 0.0) -> None:
        body = response.body[: len(response.body) // 2] if truncate else response.body
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.flush()
            step = 1 if trickle else max(1, len(body))
            for at in range(0, len(body), step):  # a trickle: one byte at a time, `trickle` seconds apart
                if at:
                    time.sleep(trickle)
                self.wfile.write(body[at:at + step])
                self.wfile.flush()
        except OSError:
            self.close_connection = True
        if truncate:
            self.close_connection = True
