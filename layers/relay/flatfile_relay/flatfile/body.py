"""Reading an answer's body within a size cap and a time cap.

requests' read timeout bounds each wait for the socket, not the whole body: a server that trickles a byte
every few seconds, or sends gigabytes, would hold the function until Lambda kills it. `read_body` streams
the body (decoded, as `response.content` would give it) and stops with a clear error at `max_bytes`, or
once `max_seconds` have passed; each socket wait is narrowed to the time left, so the cap holds even for a
trickle.

    BodyTooLargeError   the body is larger than the relay reads (a `ContractError`: asking again would not help)
    SlowBodyError       the body took longer than the cap (a `TransientError`, and a `requests` read timeout:
                        the transport retries it like any other)

Example:
    >>> import io, requests, urllib3
    >>> response = requests.Response()
    >>> response.raw = urllib3.HTTPResponse(io.BytesIO(b'{"data": []}'), preload_content=False)
    >>> read_body(response, what="GET /rest/batches")
    b'{"data": []}'
    >>> response.raw = urllib3.HTTPResponse(io.BytesIO(b"x" * 10), preload_content=False)
    >>> read_body(response, what="GET /rest/batches", max_bytes=4)
    Traceback (most recent call last):
    ...
    flatfile_relay.flatfile.body.BodyTooLargeError: Flatfile answered GET /rest/batches with a body of more ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import requests
import urllib3.exceptions

from flatfile_relay.flatfile.errors import ContractError, TransientError

__all__ = ["CHUNK_BYTES", "MAX_BODY_BYTES", "MAX_READ_SECONDS", "BodyTooLargeError", "SlowBodyError", "read_body"]

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest body read (decoded bytes): a page of 10,000 rows of a few kilobytes each, with room to spare."""
MAX_READ_SECONDS = 120.0
"""Longest time one body may take to arrive (the caller caps it further by its deadline)."""
CHUNK_BYTES = 64 * 1024


class BodyTooLargeError(ContractError):
    """The answer's body is larger than the relay reads (`MAX_BODY_BYTES`); asking again would not help."""


class SlowBodyError(TransientError, requests.exceptions.ReadTimeout):
    """The answer's body took longer than the time cap to arrive; like any read timeout, worth a retry (the
    transport catches it as one: it never leaves `Transport.request` but as `RetriesExhaustedError`)."""


def read_body(
    response: requests.Response,
    *,
    what: str,
    max_bytes: int = MAX_BODY_BYTES,
    max_seconds: float = MAX_READ_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The whole (decoded) body of a response sent with ``stream=True``; `what` names the request in errors.

    Raises:
        BodyTooLargeError: `Content-Length` announces, or the body reaches, more than `max_bytes`.
        SlowBodyError: the body is still arriving after `max_seconds`.
        requests.ConnectionError, ChunkedEncodingError, ContentDecodingError: as `response.content` would.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes and not response.headers.get("Content-Encoding"):
        raise _too_large(what, max_bytes)
    started = clock()
    chunks: list[bytes] = []
    size = 0
    while True:
        left = max_seconds - (clock() - started)
        if left <= 0:
            raise _too_slow(what, max_seconds, size)
        _narrow_wait(response.raw, left)
        try:
            chunk = _read_some(response.raw)
        except requests.exceptions.ConnectionError:
            if clock() - started >= max_seconds:  # the narrowed wait ran out: the cap, not the network
                raise _too_slow(what, max_seconds, size) from None
            raise
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(what, max_bytes)
        chunks.append(chunk)


def _read_some(raw: Any) -> bytes:
    """What one socket read brings (never waits for a full chunk); urllib3's errors as requests names them."""
    try:
        return bytes(raw.read1(CHUNK_BYTES, decode_content=True))
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ConnectionError(error) from None
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from None
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(error) from None
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from None


def _narrow_wait(raw: Any, seconds: float) -> None:
    """Let the next socket wait last no longer than `seconds` (when the connection is still there to narrow)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        with suppress(OSError, ValueError):
            timeout = sock.gettimeout()
            sock.settimeout(seconds if timeout is None else min(timeout, seconds))


def _too_slow(what: str, max_seconds: float, size: int) -> SlowBodyError:
    return SlowBodyError(f"{what}: the body took more than {max_seconds:.1f}s to arrive ({size} bytes read)")


def _too_large(what: str, max_bytes: int) -> BodyTooLargeError:
    return BodyTooLargeError(
        f"Flatfile answered {what} with a body of more than {max_bytes} bytes, more than the relay reads "
        "(MAX_BODY_BYTES); lower FLATFILE_PAGE_SIZE so that a page holds fewer rows."
    )
