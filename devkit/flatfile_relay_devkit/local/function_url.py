"""A local Function URL: a small HTTP server on 127.0.0.1 that turns each request into the payload-2.0 event
Lambda's Function URL sends, invokes a handler with it, and writes the handler's response back.

Example:
    >>> with FunctionUrl(lambda event: lambdas.invoke("WebhookFunction", event)) as url:   # doctest: +SKIP
    ...     send_webhook(emulator, batch_id, url.url, token=token)
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Invoke = Callable[[dict[str, Any]], Any]


class FunctionUrl:
    """`http://127.0.0.1:<port>/` in front of `invoke(event) -> response`, the way a Function URL calls it.

    Requests are handled one at a time, like one execution environment. Nothing is logged per request (the
    query string may hold the webhook token).
    """

    def __init__(self, invoke: Invoke, host: str = "127.0.0.1", port: int = 0) -> None:
        self.invoke_handler = invoke
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._request_handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> FunctionUrl:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> FunctionUrl:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoke(self, method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """Invoke the handler with the event of one request; return its response."""
        event = function_url_event(method, target, headers, body)
        with self.lock:
            result: dict[str, Any] = self.invoke_handler(event)
        return result

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


def function_url_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The payload-2.0 event a Function URL sends for one request (`target` is the path and query).

    Example:
        >>> function_url_event("POST", "/?token=t", {"Content-Type": "application/json"}, b"{}")["rawQueryString"]
        'token=t'
    """
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    event: dict[str, Any] = {
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
    return event
