"""Send a batch the way Flatfile's Portal v2 webhook does: JSON POSTs of at most 1,000 rows each.

Every POST of one delivery shares ``event.id``; ``event.sequence`` is ``{"length": n, "index": i}`` with
``i`` from 0; ``data.meta.length`` is the number of rows delivered in all parts; each part carries its
rows' ``mapped`` dicts split into ``validRows`` and ``invalidRows``. Deleted rows are not delivered (the
end user discarded them). An empty batch still gets one POST. There is no signature: pass ``token`` to
add the shared secret as the ``token`` query parameter.

Example:
    >>> from .store import State
    >>> state = State.with_samples(7)
    >>> parts = build_payloads(state, state.sample_id("big"))
    >>> [part["event"]["sequence"]["index"] for part in parts]
    [0, 1, 2]
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .store import State

__all__ = ["EVENT_TYPE", "MAX_ROWS_PER_POST", "build_payloads", "send_webhook", "with_token"]

EVENT_TYPE = "batch:v1:upload"
MAX_ROWS_PER_POST = 1000


def _state_of(source: Any) -> State:
    state = getattr(source, "state", source)
    if not isinstance(state, State):
        raise TypeError("expected an Emulator or a State")
    return state


def build_payloads(
    source: Any, batch_id: str, rows_per_post: int = MAX_ROWS_PER_POST, *, event_id: str | None = None
) -> list[dict[str, Any]]:
    """The webhook bodies for one batch of an :class:`Emulator` or :class:`.store.State`, in order."""
    if rows_per_post < 1:
        raise ValueError("rows_per_post must be >= 1")
    state = _state_of(source)
    batch = state.batch(batch_id)
    rows = [row for row in state.rows(batch_id) if not row["deleted"]]
    event_id = event_id or str(uuid.uuid4())
    length = max(1, math.ceil(len(rows) / rows_per_post))
    payloads = []
    for index in range(length):
        chunk = rows[index * rows_per_post : (index + 1) * rows_per_post]
        payloads.append(
            {
                "event": {"type": EVENT_TYPE, "id": event_id, "sequence": {"length": length, "index": index}},
                "data": {
                    "customer": state.end_user(batch.get("endUserId")),
                    "meta": {
                        "batch": {"id": batch_id},
                        "settings": {"id": batch.get("legacySettingsId")},
                        "length": len(rows),
                    },
                    "validRows": [row["mapped"] for row in chunk if row["valid"]],
                    "invalidRows": [row["mapped"] for row in chunk if not row["valid"]],
                },
            }
        )
    return payloads


def with_token(url: str, token: str) -> str:
    """``url`` with its ``token`` query parameter set to ``token``."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "token"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("token", token)])))


def _post(url: str, body: bytes, timeout: float, session: Any) -> int:
    headers = {"Content-Type": "application/json", "User-Agent": "flatfile-emulator-webhook/0.1"}
    if session is not None:
        return int(session.post(url, data=body, headers=headers, timeout=timeout).status_code)
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("webhook URLs must be http or https")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)


def send_webhook(
    emu_or_state: Any,
    batch_id: str,
    url: str,
    rows_per_post: int = MAX_ROWS_PER_POST,
    token: str | None = None,
    session: Any = None,
    *,
    timeout: float = 10.0,
    event_id: str | None = None,
) -> list[int]:
    """POST the batch's webhook parts to ``url`` in order and return the HTTP statuses.

    ``session`` may be a ``requests.Session`` (anything with ``post(url, data=, headers=, timeout=)``);
    without it the standard library sends. Connection errors propagate.

    Example:
        >>> send_webhook(emu, emu.samples["big"], "http://127.0.0.1:9/hook", token="t")  # doctest: +SKIP
        [202, 202, 202]
    """
    target = with_token(url, token) if token is not None else url
    statuses = []
    for payload in build_payloads(emu_or_state, batch_id, rows_per_post, event_id=event_id):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        statuses.append(_post(target, body, timeout, session))
    return statuses
