"""Request and response values passed between the HTTP server and the API, plus NestJS-style errors.

Example:
    >>> nest_error(404, "Cannot GET /nope").status
    404
    >>> json.loads(nest_error(401, "Unauthorized").body)
    {'statusCode': 401, 'message': 'Unauthorized', 'error': 'Unauthorized'}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["JSON_CONTENT_TYPE", "REASONS", "Request", "Response", "dump_json", "json_response", "nest_error"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Request:
    """An HTTP request as the API sees it: header names lower-cased, query values the last given."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """An HTTP response to send (``Content-Length`` is added by the server)."""

    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII characters sent as-is).

    A string holding a lone surrogate, which UTF-8 cannot carry, is sent as a ``\\udXXX`` escape (what
    Node's ``JSON.stringify`` does) instead of failing the request.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def json_response(status: int, value: Any) -> Response:
    """A JSON response."""
    return Response(status, dump_json(value))


def nest_error(status: int, message: str | list[str], error: str | None = None) -> Response:
    """A NestJS error body: ``{"statusCode", "message", "error"}`` (500 has no ``error``, like NestJS)."""
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if status != 500:
        body["error"] = error or REASONS.get(status, "Error")
    return json_response(status, body)
