"""Test doubles for the Flatfile client's unit tests: a scripted HTTP layer below `requests`.

`ScriptedHTTP` is a `requests` transport adapter: the client under test runs unchanged (its session,
transport, retries and auth), only the bytes on the wire come from a script instead of a socket.
Imported by the tests of this directory (pytest puts it on `sys.path`).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3 import HTTPResponse

BASE_URL = "https://flatfile.test"
ACCESS_KEY_ID = "FF00" + "K" * 36
SECRET_ACCESS_KEY = "sEcReT" + "x" * 34
LICENSE_KEY = "6f1c2b4e-8a1d-4c55-9a1e-2b9a3c4d5e6f"
SECRET = {
    "accessKeyId": ACCESS_KEY_ID,
    "secretAccessKey": SECRET_ACCESS_KEY,
    "licenseKey": LICENSE_KEY,
    "webhookToken": "hook-token-one,hook-token-two",
}


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT with these claims (the client never checks signatures)."""

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims)}.c2lnbmF0dXJl"


@dataclass
class Call:
    """One request the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    timeout: Any


Result = tuple[Any, ...] | BaseException
Handler = Callable[[Call], Result]


@dataclass
class ScriptedHTTP(BaseAdapter):
    """Answers each request with `handler(call)`: `(status, body[, headers])` or an exception to raise.

    `body` may be a dict/list (sent as JSON), `bytes` or `str` (sent as is).
    """

    handler: Handler
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        raw_body = request.body or b""
        if isinstance(raw_body, str):
            raw_body = raw_body.encode()
        call = Call(
            method=request.method or "",
            path=url.path,
            query=dict(parse_qsl(url.query)),
            headers=dict(request.headers),
            body=json.loads(raw_body) if raw_body else None,
            timeout=timeout,
        )
        self.calls.append(call)
        result = self.handler(call)
        if isinstance(result, BaseException):
            raise result
        status, body, *rest = result
        headers = dict(rest[0]) if rest else {}
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        raw = HTTPResponse(
            body=io.BytesIO(data), headers=headers, status=status, preload_content=False, decode_content=False
        )
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass

    def paths(self) -> list[str]:
        return [f"{call.method} {call.path}" for call in self.calls]


class FakeFlatfile:
    """A scripted Flatfile: the exchange issues JWTs; other paths answer from queues or `routes`.

    `queue(path, *results)` makes the next requests to `path` answer those results in order (then
    `routes[path]`, then 404).
    """

    base_url = BASE_URL
    secret = SECRET
    make_jwt = staticmethod(make_jwt)

    def __init__(self, token_lifetime: int = 3600) -> None:
        self.token_lifetime = token_lifetime
        self.issued: list[str] = []
        self.routes: dict[str, Handler] = {}
        self.queues: dict[str, list[Result]] = {}
        self.http = ScriptedHTTP(self.handle)
        self.session = requests.Session()
        self.session.mount("https://", self.http)
        self.session.mount("http://", self.http)

    @property
    def calls(self) -> list[Call]:
        return self.http.calls

    def paths(self) -> list[str]:
        return self.http.paths()

    def queue(self, path: str, *results: Result) -> None:
        self.queues.setdefault(path, []).extend(results)

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def handle(self, call: Call) -> Result:
        queued = self.queues.get(call.path)
        if queued:
            return queued.pop(0)
        if call.path in self.routes:
            return self.routes[call.path](call)
        if call.path == "/auth/access-key/exchange":
            return self.exchange(call)
        return 404, {"statusCode": 404, "message": f"Cannot {call.method} {call.path}", "error": "Not Found"}

    def exchange(self, call: Call) -> Result:
        body = call.body or {}
        if body.get("accessKeyId") != ACCESS_KEY_ID or body.get("secretAccessKey") != SECRET_ACCESS_KEY:
            return 401, {"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}
        now = int(time.time())
        token = make_jwt({"sub": "1", "iat": now, "exp": now + self.token_lifetime, "n": len(self.issued)})
        self.issued.append(token)
        return 201, {"accessToken": token, "user": {"id": 1}}

    def valid_bearer(self, call: Call) -> bool:
        return call.headers.get("Authorization") in {f"Bearer {token}" for token in self.issued}
