"""A tiny HTTP server scripted answer by answer, for what the Flatfile emulator cannot be made to say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

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
