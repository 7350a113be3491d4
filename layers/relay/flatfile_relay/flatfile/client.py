"""FlatfileClient: the REST and GraphQL calls the relay makes to Flatfile.

Every call takes a `Deadline` (the Lambda's time left): requests, retries and waits stop before it.
Errors are grouped by what to do about them (see `flatfile_relay.flatfile.errors`).

Example:
    account = Account(access_key_id, secret_access_key, license_key)
    with FlatfileClient("https://api.us.flatfile.io", account, user_agent="my-tool/1.0") as client:
        deadline = Deadline.from_lambda_context(context)
        for batch in client.iter_batches(deadline):
            if batch["status"] == "submitted":
                ...
        for row in client.iter_rows(batch_id, deadline):
            ...
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from flatfile_relay import walk
from flatfile_relay.ahead import in_order
from flatfile_relay.checks import whole_number
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile.account import Account
from flatfile_relay.flatfile.auth import ApiKeyAuth, Auth, TokenAuth, server_message
from flatfile_relay.flatfile.errors import (
    BadRequestError,
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    ForbiddenError,
    GraphQLError,
    LicenseForbiddenError,
    NotFoundError,
    RetriesExhaustedError,
)
from flatfile_relay.flatfile.pagination import RowPage, batch_created_at, parse_envelope, split_list_answer
from flatfile_relay.flatfile.transport import Reply, RequestCounts, Transport
from flatfile_relay.ids import same_batch
from flatfile_relay.timestamps import as_utc

__all__ = [
    "DEFAULT_POOL_SIZE", "FINAL_DATABASE_VIEW_QUERY", "GET_BATCH_QUERY", "Batch", "FilterValue", "FlatfileClient",
]

logger = logging.getLogger("flatfile_relay.flatfile")

FilterValue = str | int | bool | None
#: a batch as the API lists it
Batch = dict[str, Any]

GET_BATCH_QUERY = "query GetBatch($batchId: UUID!) { getBatch(batchId: $batchId) { id status } }"
FINAL_DATABASE_VIEW_QUERY = (
    "query Rows($batchId: UUID, $skip: Int, $limit: Int!, $status: String) { "
    "getFinalDatabaseView(batchId: $batchId, skip: $skip, limit: $limit, status: $status) "
    "{ rows totalRows } }"
)
#: connections kept per host (more when more row pages are fetched ahead)
DEFAULT_POOL_SIZE = 10
_RESERVED_PARAMS = frozenset({"licenseKey", "skip", "take"})
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)")


class FlatfileClient:
    """A client of the legacy Flatfile API (REST + GraphQL) for one account and license.

    Args:
        base_url: e.g. `https://api.us.flatfile.io` (FLATFILE_BASE_URL).
        credentials: the access key and license key to read with.
        auth: "token" (access-key exchange, `Authorization: Bearer`) or "api_key" (`X-Api-Key`, REST only;
            GraphQL always uses a token).
        expires_in: token lifetime to ask for, 60..86400 s (FLATFILE_TOKEN_TTL).
        timeout, connect_timeout: per-request read / connect timeouts, seconds (capped by the deadline).
        max_attempts: attempts per request before `RetriesExhaustedError`.
        backoff_base, backoff_cap: full-jitter backoff between attempts, seconds.
        session: a `requests.Session` to use (the caller keeps ownership and sizes its connection pool);
            default: a new pooled one.
        token_auth: a `TokenAuth` to share (e.g. kept at module level so a warm Lambda reuses its token).
        batch_page_size: `take` for the batch list (the server may return fewer).
        row_prefetch: row-page requests kept in flight by `iter_row_pages` (1: one at a time); the
            connection pool holds at least this many connections (FLATFILE_ROW_PREFETCH).
        counts: where the transport counts requests, retries and throttles (default: its own,
            `client.transport.counts`).
        user_agent: who sends the requests (e.g. `flatfile-relay/0.1.0`), before the HTTP library's own.

    A 401 makes the client forget the token, exchange the access key again and retry the request once; a
    second 401 raises `CredentialsRejectedError` (with `auth="api_key"`, the first one does).
    """

    def __init__(
        self,
        base_url: str,
        credentials: Account,
        *,
        auth: str = "token",
        expires_in: int = 3600,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        session: requests.Session | None = None,
        token_auth: TokenAuth | None = None,
        batch_page_size: int = 100,
        row_prefetch: int = 1,
        counts: RequestCounts | None = None,
        user_agent: str = "",
    ) -> None:
        if auth not in ("token", "api_key"):
            raise ConfigurationError(f"auth must be 'token' or 'api_key' (FLATFILE_AUTH), got {auth!r}.")
        self.credentials = credentials
        self.auth_mode = auth
        self.batch_page_size = whole_number(batch_page_size, "batch_page_size")
        self.row_prefetch = whole_number(row_prefetch, "row_prefetch")
        if token_auth is not None and (
            token_auth.credentials.access_key_id != self.credentials.access_key_id
            or token_auth.credentials.secret_access_key != self.credentials.secret_access_key
        ):
            raise ValueError("token_auth holds another access key than the client's credentials")
        self.credentials.register_secrets()
        self.transport = Transport(
            base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            session=session,
            pool_maxsize=max(DEFAULT_POOL_SIZE, self.row_prefetch + 1),
            counts=counts,
            user_agent=user_agent,
        )
        self.token_auth = token_auth or TokenAuth(self.credentials, self.transport, expires_in=expires_in)
        self._rest_auth: Auth = self.token_auth if auth == "token" else ApiKeyAuth(self.credentials)

    # -- batches -------------------------------------------------------------------------------------

    def list_batches(self, skip: int, take: int, deadline: Deadline, **filters: FilterValue) -> walk.ListSlice[Batch]:
        """One page of `GET /rest/batches` of the license: up to `take` batches from offset `skip`, in the
        server's order (it may return fewer), with the list's `totalCount`. `filters` are passed as query
        parameters (e.g. `workspaceId`, `endUserId`, `search`). Walking the list is `flatfile_relay.walk`'s.

        Raises:
            LicenseForbiddenError: 403, the licenseKey is not one of the account.
            BadRequestError: 400.
            ContractError: the answer is not a list envelope of batches with string ids.

        Example:
            page = client.list_batches(0, 100, deadline)
            page.items, page.total                      # the first 100 batches, and how many are listed
        """
        whole_number(skip, "skip", low=0)
        whole_number(take, "page_size")
        reserved = _RESERVED_PARAMS.intersection(filters)
        if reserved:
            raise ValueError(f"filters cannot set {sorted(reserved)}: the client sets them")
        what = "GET /rest/batches"
        params = _params(licenseKey=self.credentials.license_key, skip=skip, take=take, **filters)
        body = self._get("/rest/batches", deadline, what, params=params, on_403=self._license_forbidden,
                         on_404=self._wrong_base_url)
        data, total = parse_envelope(body, what)
        for batch in data:
            if not isinstance(batch, dict) or not isinstance(batch.get("id"), str):
                raise ContractError(f"Flatfile answered {what} with a batch that has no string `id`.")
        return walk.ListSlice(items=data, offset=skip, total=total)

    def iter_batch_pages(
        self, deadline: Deadline, page_size: int | None = None, start: int = 0, **filters: FilterValue
    ) -> Iterator[walk.ListPage[Batch]]:
        """Page through `GET /rest/batches` from offset `start` (0: the top): `flatfile_relay.walk.pages` over
        `list_batches` (de-duplicated by id, stepping back when the list shrinks, newest-first tracked).

        Raises: as `list_batches`.
        """
        take = self.batch_page_size if page_size is None else page_size
        view = walk.ListView(read=lambda skip: self.list_batches(skip, take, deadline, **filters),
                        key=_listed_id, created_at=batch_created_at)
        yield from walk.pages(view, start)

    def iter_batches(
        self,
        deadline: Deadline,
        page_size: int | None = None,
        created_since: datetime | None = None,
        **filters: FilterValue,
    ) -> Iterator[Batch]:
        """Every batch of the license, once each (see `iter_batch_pages`).

        With `created_since` (naive: UTC), only batches created at or after it (or with no readable
        `createdAt`), stopping early once the order seen is newest-first and a whole page is older
        (`flatfile_relay.walk.created_since`).

        Example:
            for batch in client.iter_batches(deadline, created_since=since):
                ...
        """
        listed = self.iter_batch_pages(deadline, page_size, 0, **filters)
        if created_since is None:
            for page in listed:
                yield from page.items
            return
        yield from walk.created_since(listed, as_utc(created_since), batch_created_at)

    def get_batch(self, batch_id: str, deadline: Deadline) -> dict[str, Any]:
        """`GET /rest/batch/{batch_id}`: one batch, with its `__endUser__`, `__schema__` and `__embed__`.

        Raises:
            NotFoundError: Flatfile does not know the batch (404).
            ContractError: the answer is not an object, or it is another batch (its `id` differs).
        """
        path = f"/rest/batch/{_segment(batch_id)}"
        what = "GET /rest/batch/{id}"
        body = self._get(path, deadline, what, on_404=lambda: _batch_not_found(batch_id))
        if not isinstance(body, dict):
            raise ContractError(f"Flatfile answered {what} with {type(body).__name__} instead of an object.")
        if "id" in body and not same_batch(body["id"], batch_id):
            raise ContractError(
                f"Flatfile answered {what} for batch {batch_id} with another batch "
                f"({str(body['id'])[:64]!r}); nothing is decided from it."
            )
        return body

    # -- rows ----------------------------------------------------------------------------------------

    def iter_row_pages(
        self,
        batch_id: str,
        deadline: Deadline,
        skip: int = 0,
        page_size: int = 1000,
        *,
        check_order: bool = True,
        after_sequence: int | None = None,
        prefetch: int | None = None,
        expected_total: int | None = None,
        **filters: FilterValue,
    ) -> Iterator[RowPage]:
        """Stream `GET /rest/batch/{batch_id}/rows` page by page, from offset `skip`, in order.

        Pages advance by the number of rows actually returned; iteration stops on an empty page or when
        `next_skip` reaches `totalCount`. `page.next_skip` is a checkpoint to resume from. `filters` are
        passed as query parameters (e.g. `valid=True`, `deleted=False`).

        `prefetch` (default: the client's `row_prefetch`) is how many page requests may be in flight at
        once: after the first page (which tells the page size the server keeps to and `totalCount`), the
        next pages are requested ahead on a small thread pool, never past `totalCount`, and yielded in
        order. A page holding another number of rows than the one before it makes the client drop the
        pages asked ahead and continue from where that page ended, so the pages yielded are exactly those a
        one-at-a-time walk yields. At most `prefetch` pages wait in memory besides the one yielded.
        `expected_total` (a hint, e.g. a job's `countRows`): the first round asks for pages up to it at once.

        With `check_order` (the default), every row must have an integer `sequence` greater than the one
        before it (and than `after_sequence`, the last row a resumed export already wrote): otherwise
        ContractError, since an export in another order, or with a row twice, would break the relay's output
        contract (see `_check_order`).

        Raises:
            NotFoundError: unknown batch (404).
            ContractError: not a list envelope, a row that is not an object, or rows out of order.

        Example:
            for page in client.iter_row_pages(batch_id, deadline, prefetch=4):
                write(page.rows)                  # in `sequence` order, whatever page answered first
        """
        whole_number(skip, "skip", low=0)
        take = whole_number(page_size, "page_size")
        ahead = self.row_prefetch if prefetch is None else whole_number(prefetch, "prefetch")
        reserved = _RESERVED_PARAMS.intersection(filters)
        if reserved:
            raise ValueError(f"filters cannot set {sorted(reserved)}: the client sets them")
        last_sequence = after_sequence

        def fetch(at: int) -> RowPage:
            return self._row_page(batch_id, deadline, at, take, filters)

        pages = _pages(fetch, skip, ahead, take, expected_total)
        try:
            for page in pages:
                if check_order:
                    last_sequence = _check_order(page, batch_id, last_sequence)
                logger.debug("Flatfile rows page at %d: %d rows of %d", page.skip, len(page.rows), page.total_count)
                yield page
        finally:
            pages.close()  # a walk stopped early lets go of the pages asked ahead at once

    def iter_rows(self, batch_id: str, deadline: Deadline, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every row of the batch, in the server's (`sequence`) order, streamed page by page."""
        for page in self.iter_row_pages(batch_id, deadline, page_size=page_size):
            yield from page.rows

    def _row_page(
        self, batch_id: str, deadline: Deadline, skip: int, take: int, filters: Mapping[str, FilterValue]
    ) -> RowPage:
        """One page of rows at offset `skip` (safe to call from several threads at once)."""
        what = "GET /rest/batch/{id}/rows"
        answer = self._get(
            f"/rest/batch/{_segment(batch_id)}/rows",
            deadline,
            what,
            params=_params(skip=skip, take=take, **filters),
            on_404=lambda: _batch_not_found(batch_id),
            decode=split_list_answer,
        )
        body, texts = answer if isinstance(answer, tuple) else (answer, None)  # no body (204): not split
        data, total = parse_envelope(body, what)
        for row in data:
            if not isinstance(row, dict):
                raise ContractError(f"Flatfile answered {what} with a row that is not an object.")
        return RowPage(rows=data, skip=skip, next_skip=skip + len(data), total_count=total, texts=texts)

    # -- GraphQL -------------------------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None, deadline: Deadline) -> dict[str, Any]:
        """Run a GraphQL query (always with a bearer token) and return its `data`.

        An `Unauthorized` error is handled like a 401: one re-exchange, one retry.

        Raises:
            GraphQLError: the answer holds `errors` (`error.messages`, partial `error.data`).
            CredentialsRejectedError: still unauthorized with a fresh token.
            ContractError: no `data` object.
        """
        what = f"POST /graphql ({_operation(query)})"
        reply = self._send(
            "POST",
            "/graphql",
            deadline,
            what,
            auth=self.token_auth,
            json_body={"query": query, "variables": dict(variables or {})},
            unauthorized=_graphql_unauthorized,
        )
        body = reply.body
        if isinstance(body, dict) and body.get("errors"):
            errors = body["errors"] if isinstance(body["errors"], list) else [body["errors"]]
            messages = [_error_message(item) for item in errors]
            raise GraphQLError(
                f"Flatfile's GraphQL API answered {_operation(query)} with errors: "
                f"{'; '.join(messages)[:500]}. Check the query and its variables.",
                messages=messages,
                codes=[code if isinstance(code := _error_code(item), str) else None for item in errors],
                data=body.get("data"),
            )
        self._check(reply, what, on_404=self._wrong_base_url)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ContractError(f"Flatfile answered {what} without a `data` object.")
        return data

    def graphql_get_batch(self, batch_id: str, deadline: Deadline) -> dict[str, Any]:
        """`getBatch(batchId)` through GraphQL: `{"id", "status"}`.

        NotFoundError if the batch is null, or if the only errors say it was not found.
        """
        data = self._graphql_batch_query(GET_BATCH_QUERY, {"batchId": batch_id}, batch_id, deadline)
        batch = data.get("getBatch")
        if batch is None:
            raise _batch_not_found(batch_id)
        if not isinstance(batch, dict):
            raise ContractError("Flatfile's GraphQL getBatch answered something else than an object.")
        return batch

    def iter_final_database_view(
        self, batch_id: str, deadline: Deadline, status: str | None = None, limit: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """The rows of `getFinalDatabaseView` (`{id, valid, status, data, info}`), paged `limit` at a time.

        Pages advance by the rows actually returned while `skip < totalRows` (the same as the usual
        `skip + limit < totalRows` when pages are full, and safe when the server returns fewer). `rows` may
        come as a JSON list or as a string holding one.
        """
        limit = whole_number(limit, "limit")
        what = "getFinalDatabaseView"
        skip = 0
        while True:
            variables = {"batchId": batch_id, "skip": skip, "limit": limit, "status": status}
            data = self._graphql_batch_query(FINAL_DATABASE_VIEW_QUERY, variables, batch_id, deadline)
            view = data.get("getFinalDatabaseView")
            if view is None:
                raise _batch_not_found(batch_id)
            if not isinstance(view, dict):
                raise ContractError(f"Flatfile's GraphQL {what} answered something else than an object.")
            rows = _json_list(view.get("rows"), what)
            total = _count(view.get("totalRows"), what)
            for row in rows:
                if not isinstance(row, dict):
                    raise ContractError(f"Flatfile's GraphQL {what} answered a row that is not an object.")
            yield from rows
            skip += len(rows)
            if not rows or skip >= total:
                return

    def _graphql_batch_query(
        self, query: str, variables: Mapping[str, Any], batch_id: str, deadline: Deadline
    ) -> dict[str, Any]:
        try:
            return self.graphql(query, variables, deadline)
        except GraphQLError as error:
            if _only_not_found(error):
                raise _batch_not_found(batch_id) from error
            raise

    # -- misc ----------------------------------------------------------------------------------------

    def health(self, deadline: Deadline) -> bool:
        """`GET /health` (no auth, one attempt): True if Flatfile answered 2xx.

        Raises DeadlineExceededError only if the deadline had already passed.
        """
        try:
            reply = self.transport.request(
                "GET", "/health", deadline=deadline, max_attempts=1, parse_json=False
            )
        except RetriesExhaustedError:
            return False
        return reply.ok

    def close(self) -> None:
        """Close the pooled connections (not a session supplied by the caller)."""
        self.transport.close()

    def __enter__(self) -> FlatfileClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"FlatfileClient(base_url={self.transport.base_url!r}, auth={self.auth_mode!r}, "
            f"access_key_id={self.credentials.redacted_access_key_id!r})"
        )

    # -- internals -----------------------------------------------------------------------------------

    def _get(
        self,
        path: str,
        deadline: Deadline,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        on_403: Callable[[], Exception] | None = None,
        on_404: Callable[[], Exception] | None = None,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Any:
        reply = self._send("GET", path, deadline, what, auth=self._rest_auth, params=params, decode=decode)
        return self._check(reply, what, on_403=on_403, on_404=on_404)

    def _send(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        what: str,
        *,
        auth: Auth,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        unauthorized: Callable[[Reply], bool] = lambda reply: reply.status == 401,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Reply:
        """Send with auth; on 401, forget the token, exchange again and retry once."""
        for round_number in (1, 2):
            reply = self.transport.request(
                method,
                path,
                deadline=deadline,
                params=params,
                json_body=json_body,
                headers=lambda: auth.headers(deadline, self.transport),
                decode=decode,
            )
            if not unauthorized(reply):
                return reply
            key = self.credentials.redacted_access_key_id
            if not auth.refreshable:
                raise CredentialsRejectedError(
                    f"Flatfile rejected the API key of access key {key} (HTTP 401 on {what}): check "
                    "accessKeyId and secretAccessKey in the secret.",
                    status=reply.status,
                )
            if round_number == 2:
                raise CredentialsRejectedError(
                    f"Flatfile rejected a freshly exchanged token of access key {key} ({what} unauthorized "
                    "twice): check that the access key in the secret is active and belongs to this account.",
                    status=reply.status,
                )
            logger.info("Flatfile answered %s: unauthorized; exchanging the access key again", what)
            auth.invalidate(reply.sent_headers)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(
        self,
        reply: Reply,
        what: str,
        *,
        on_403: Callable[[], Exception] | None = None,
        on_404: Callable[[], Exception] | None = None,
    ) -> Any:
        if reply.ok:
            return reply.body
        message = server_message(reply.body)
        detail = f" ({message})" if message else ""
        if reply.status == 400:
            raise BadRequestError(
                f"Flatfile refused {what} as a bad request{detail}: check the licenseKey in the secret "
                "and the filters and page size passed to the client.",
                server_message=message,
            )
        if reply.status == 403:
            if on_403 is not None:
                raise on_403()
            raise ForbiddenError(
                f"Flatfile refused {what} (HTTP 403){detail}: the access key in the secret may not read it; "
                "check that accessKeyId and licenseKey belong to the same account.",
                status=403,
            )
        if reply.status == 404 and on_404 is not None:
            raise on_404()
        raise ContractError(
            f"Flatfile answered {what} with unexpected HTTP {reply.status}{detail}.", status=reply.status
        )

    def _license_forbidden(self) -> LicenseForbiddenError:
        return LicenseForbiddenError(
            "Flatfile refused the batch list (HTTP 403): the licenseKey in the secret is not a license of "
            "the account that owns the access key. Copy the license key of this account's embed into the "
            "secret.",
            status=403,
        )

    def _wrong_base_url(self) -> ConfigurationError:
        return ConfigurationError(
            f"Flatfile answered HTTP 404 at {self.transport.base_url}: check FLATFILE_BASE_URL "
            "(e.g. https://api.us.flatfile.io).",
            status=404,
        )


def _params(**values: FilterValue) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        params[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return params


def _listed_id(batch: Batch) -> str:
    return str(batch["id"])  # `list_batches` checked that it is a string


def _segment(batch_id: str) -> str:
    if not isinstance(batch_id, str) or not batch_id.strip():
        raise ValueError(f"batch_id must be a non-empty string, got {batch_id!r}")
    return quote(batch_id.strip(), safe="")


def _batch_not_found(batch_id: str) -> NotFoundError:
    return NotFoundError(
        f"Flatfile has no batch {batch_id} for this account (HTTP 404): check the batch id, or that it "
        "belongs to the license in the secret.",
        status=404,
    )


def _operation(query: str) -> str:
    match = _OPERATION.match(query)
    return match.group(1) if match else "the query"


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        return str(message) if message is not None else json.dumps(error)[:200]
    return str(error)[:200]


def _error_code(error: Any) -> Any:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    return extensions.get("code") if isinstance(extensions, dict) else None


def _only_not_found(error: GraphQLError) -> bool:
    """True if every error of the answer says "not found" (by code or by message)."""
    pairs = list(zip(error.messages, error.codes, strict=False))
    return bool(pairs) and all(
        code == "NOT_FOUND" or "not found" in message.lower() for message, code in pairs
    )


def _graphql_unauthorized(reply: Reply) -> bool:
    if reply.status == 401:
        return True
    body = reply.body
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return False
    for error in errors:
        if not isinstance(error, dict):
            continue
        message = error.get("message")
        code = _error_code(error)
        if (isinstance(message, str) and message.strip().lower() == "unauthorized") or code in (
            "UNAUTHENTICATED",
            "UNAUTHORIZED",
        ):
            return True
    return False


def _json_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ContractError(f"Flatfile's GraphQL {what} answered `rows` that are not JSON.") from None
    if not isinstance(value, list):
        raise ContractError(f"Flatfile's GraphQL {what} answered without a `rows` list.")
    return value


def _count(value: Any, what: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return whole_number(value, f"`totalRows` of Flatfile's GraphQL {what}", low=0, error=ContractError)


def _pages(
    fetch: Callable[[int], RowPage], skip: int, ahead: int, take: int, expected_total: int | None = None
) -> Generator[RowPage, None, None]:
    """Pages from offset `skip` on, each asked for where the one before it ended, with up to `ahead` requests
    in flight (`ahead.in_order`; 1: one request at a time).

    Offsets ahead are guessed from the size of the page before (of `take` up to `expected_total` for the first
    round, when a hint says how many rows there are; else the first page is asked for alone); a page of another
    size drops the guesses (their answers are never yielded) and the walk goes on from where that page really
    ended. Closing the generator lets go of the requests asked ahead at once.
    """
    if expected_total is not None and expected_total > skip:
        at, step, end = skip, take, expected_total
    else:
        page = fetch(skip)
        yield page
        if page.last:
            return
        at, step, end = page.next_skip, len(page.rows), page.total_count
    while True:
        with closing(in_order(fetch, range(at, end, step), ahead, name="flatfile-rows")) as answers:
            for offset, answer in answers:
                page = answer.result()
                yield page
                if page.last or page.next_skip != offset + step:
                    break
        if page.last:
            return
        at, step, end = page.next_skip, len(page.rows), page.total_count


def _check_order(page: RowPage, batch_id: str, last_sequence: int | None) -> int | None:
    """The `sequence` of the page's last row; ContractError unless every row has an integer `sequence` greater
    than the one before it (the first: greater than `last_sequence`, the last row before the page).

    Strict, because what it guards is an export: Flatfile gives every row a `sequence` and lists rows in that
    order, so a row without one cannot be placed, one equal to the row before is that row again (an export
    would hold it twice), and one lower is out of order (an export would break the `sequence` order its
    readers rely on).
    """
    for index, row in enumerate(page.rows):
        sequence = row.get("sequence")
        where = f"row {page.skip + index} of batch {batch_id}"
        if isinstance(sequence, bool) or not isinstance(sequence, int):
            raise ContractError(
                f"Flatfile returned {where} without an integer `sequence`; the export cannot check the row order."
            )
        if last_sequence is not None and sequence == last_sequence:
            raise ContractError(
                f"Flatfile returned {where} with sequence {sequence} again (after {last_sequence}); the export "
                "stops rather than write a row twice."
            )
        if last_sequence is not None and sequence < last_sequence:
            raise ContractError(
                f"Flatfile returned the rows of batch {batch_id} out of `sequence` order (row "
                f"{page.skip + index} has sequence {sequence} after {last_sequence}); the export stops rather "
                "than write rows out of order."
            )
        last_sequence = sequence
    return last_sequence
