"""The emulated Flatfile API: routing, authentication and the REST and GraphQL endpoints.

:class:`Api` turns a :class:`.responses.Request` into a :class:`.responses.Response`; it knows nothing
about sockets (see :mod:`.server`), so it can be exercised directly.

Example:
    >>> from .auth import TokenAuthority
    >>> from .config import EmulatorConfig
    >>> from .store import State
    >>> state = State.with_samples(7)
    >>> api = Api(state, TokenAuthority(state.account), lambda: EmulatorConfig())
    >>> api.handle(Request("GET", "/health")).status
    200
    >>> api.handle(Request("GET", "/rest/batches", {"licenseKey": state.account.license_key})).status
    401
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from . import graphql
from .auth import TokenAuthority
from .config import EmulatorConfig
from .platform.api import PLATFORM_PREFIX, PlatformApi
from .responses import Request, Response, json_response, nest_error
from .store import State

__all__ = [
    "DEFAULT_EXPIRES_IN", "MAX_EXPIRES_IN", "MIN_EXPIRES_IN", "Api", "auth_kind", "is_platform_path", "paginate",
]

DEFAULT_EXPIRES_IN = 43_200
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 86_400


class _BadRequest(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


def is_platform_path(path: str) -> bool:
    """Whether a path belongs to the Platform API (``/v1`` and below)."""
    return path == PLATFORM_PREFIX or path.startswith(PLATFORM_PREFIX + "/")


def auth_kind(request: Request) -> str | None:
    """Which credentials the request presents: ``"bearer"``, ``"api_key"`` or ``None``."""
    if (request.header("authorization") or "").lower().startswith("bearer "):
        return "bearer"
    return "api_key" if request.header("x-api-key") is not None else None


def _bearer(request: Request) -> str | None:
    value = request.header("authorization") or ""
    return value[7:].strip() if value.lower().startswith("bearer ") else None


def _int_param(query: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer number") from None
    if value < minimum:
        raise _BadRequest(f"{name} must not be less than {minimum}")
    return value


def _bool_param(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise _BadRequest(f"{name} must be a boolean value")
    return raw.lower() == "true"


def paginate(items: list[Any], skip: int, take: int) -> dict[str, Any]:
    """The list envelope for ``items[skip:skip + take]``.

    Example:
        >>> paginate(list(range(137)), 100, 50)["pagination"]["nextOffset"] is None
        True
    """
    page = items[skip : skip + take]
    total = len(items)
    return {
        "pagination": {
            "totalCount": total,
            "limit": take,
            "offset": skip,
            "onPage": len(page),
            "pageCount": math.ceil(total / take),
            "currentPage": skip // take + 1,
            "nextOffset": skip + len(page) if skip + len(page) < total else None,
            "previousOffset": max(0, skip - take) if skip > 0 else None,
        },
        "data": page,
    }


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Api:
    """Routes requests to the endpoints of the emulated API; those under ``/v1`` to the Platform's (``platform``)."""

    def __init__(self, state: State, tokens: TokenAuthority, config: Callable[[], EmulatorConfig],
                 platform: PlatformApi | None = None) -> None:
        self.state = state
        self.tokens = tokens
        self.platform = platform
        self._config = config
        self._shuffles = itertools.count()
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Answer one request (unknown routes: NestJS 404 ``Cannot GET /path``)."""
        if self.platform is not None and is_platform_path(request.path):
            return self.platform.handle(request)
        try:
            response = self._route(request)
        except _BadRequest as exc:
            return nest_error(400, exc.messages)
        if response is None:
            return nest_error(404, f"Cannot {request.method} {request.path}")
        return response

    def _route(self, request: Request) -> Response | None:
        path = request.path.rstrip("/") or "/"
        parts = path.split("/")[1:]
        if request.method == "POST":
            if path == "/auth/access-key/exchange":
                return self._exchange(request)
            return self._graphql(request) if path == "/graphql" else None
        if request.method != "GET":
            return None
        if path == "/health":
            return json_response(200, {"status": "ok"})
        is_batch = len(parts) == 3 and parts[:2] == ["rest", "batch"]
        is_rows = len(parts) == 4 and parts[:2] == ["rest", "batch"] and parts[3] == "rows"
        if path != "/rest/batches" and not is_batch and not is_rows:
            return None
        if not self.authenticated(request):
            return nest_error(401, "Unauthorized")
        if is_batch:
            return self._get_batch(parts[2])
        return self._get_rows(request, parts[2]) if is_rows else self._list_batches(request)

    # -- authentication --------------------------------------------------------------------------------

    def authenticated(self, request: Request, *, bearer_only: bool = False) -> bool:
        """Whether the request carries a valid Bearer token (or, unless ``bearer_only``, ``X-Api-Key``).

        A Bearer token, when present, decides alone (a valid ``X-Api-Key`` does not rescue a bad token).
        """
        token = _bearer(request)
        if token is not None:
            return self.tokens.verify(token) is not None
        api_key = request.header("x-api-key")
        return not bearer_only and api_key is not None and self.tokens.check_api_key(api_key)

    @staticmethod
    def _json_body(request: Request) -> Any:
        try:
            return json.loads(request.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _BadRequest(f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}") from None

    def _exchange(self, request: Request) -> Response:
        body = self._json_body(request)
        if not isinstance(body, dict):
            body = {}
        problems = []
        for name in ("accessKeyId", "secretAccessKey"):
            if not isinstance(body.get(name), str) or not body[name]:
                problems.append(f"{name} must be a string")
        expires_in = body.get("expiresIn", DEFAULT_EXPIRES_IN)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool):
            problems.append("expiresIn must be an integer number")
        elif expires_in < MIN_EXPIRES_IN:
            problems.append(f"expiresIn must not be less than {MIN_EXPIRES_IN}")
        elif expires_in > MAX_EXPIRES_IN:
            problems.append(f"expiresIn must not be greater than {MAX_EXPIRES_IN}")
        if problems:
            return nest_error(400, problems)
        if not self.tokens.check_keys(body["accessKeyId"], body["secretAccessKey"]):
            return nest_error(401, "Unauthorized")
        cap = self._config().token_lifetime_cap
        lifetime = min(float(expires_in), cap) if cap is not None else float(expires_in)
        token = self.tokens.issue(lifetime)
        return json_response(201, {"accessToken": token, "user": dict(self.state.account.user)})

    # -- REST ------------------------------------------------------------------------------------------

    def _paging(self, request: Request) -> tuple[int, int]:
        config = self._config()
        skip = _int_param(request.query, "skip", 0, 0)
        take = _int_param(request.query, "take", config.default_take, 1)
        return skip, min(take, config.max_take)

    def _list_batches(self, request: Request) -> Response:
        license_key = request.query.get("licenseKey")
        if not license_key:
            return nest_error(400, ["licenseKey should not be empty", "licenseKey must be a UUID"])
        if license_key != self.state.account.license_key:
            return nest_error(403, "Forbidden resource")
        skip, take = self._paging(request)
        config = self._config()
        with self.state.lock:  # the batches themselves, not copies (fast with 100,000): encoded before unlocking
            batches = list(self.state.batches.values())
            for name in ("workspaceId", "endUserId"):
                wanted = request.query.get(name)
                if wanted:
                    batches = [batch for batch in batches if batch.get(name) == wanted]
            search = (request.query.get("search") or "").casefold()
            if search:
                searched = ("filename", "originalFile", "memo")
                batches = [b for b in batches if any(search in str(b.get(k) or "").casefold() for k in searched)]
            batches.sort(key=lambda batch: (batch["createdAt"], batch["id"]), reverse=config.order == "newest")
            if config.order == "random":
                with self._lock:
                    shuffle = next(self._shuffles)
                random.Random(f"flatfile-emulator:{config.seed}:order:{shuffle}").shuffle(batches)
            return json_response(200, paginate(batches, skip, take))

    def _get_batch(self, batch_id: str) -> Response:
        if not _is_uuid(batch_id):
            return nest_error(400, "Validation failed (uuid is expected)")
        if not self.state.has_batch(batch_id):
            return nest_error(404, "Batch not found")
        return json_response(200, self.state.batch_detail(batch_id))

    def _get_rows(self, request: Request, batch_id: str) -> Response:
        if not _is_uuid(batch_id):
            return nest_error(400, "Validation failed (uuid is expected)")
        skip, take = self._paging(request)
        valid = _bool_param(request.query, "valid")
        deleted = _bool_param(request.query, "deleted")
        if not self.state.has_batch(batch_id):
            return nest_error(404, "Batch not found")
        rows = [
            row
            for row in self.state.rows(batch_id)
            if (valid is None or row["valid"] == valid) and (deleted is None or row["deleted"] == deleted)
        ]
        return json_response(200, paginate(rows, skip, take))

    # -- GraphQL ---------------------------------------------------------------------------------------

    def _graphql(self, request: Request) -> Response:
        body = self._json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return json_response(400, {"errors": [graphql.error("Must provide query string.")]})
        query: str = body["query"]
        if not self.authenticated(request, bearer_only=True):
            failure = graphql.error(
                "Unauthorized",
                graphql.first_root_field(query),
                code="UNAUTHENTICATED",
                response={"statusCode": 401, "message": "Unauthorized"},
            )
            return json_response(200, {"data": None, "errors": [failure]})
        variables = body.get("variables")
        result = graphql.execute(self.state, query, variables if isinstance(variables, dict) else {})
        return json_response(200, result)
