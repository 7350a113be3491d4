"""PlatformClient: the calls the relay makes to the Flatfile Platform (API v1).

On the relay's own `Transport` (one deadline per call, the same retries, request counts and redaction as the
legacy client), with the environment's secret key as a bearer token. Every call takes a `Deadline`.

The listener's side of a job is written for lost answers: the transport resends a request whose answer did not
arrive, so a `complete` refused because its first attempt already completed the job is read back and reported as
the relay's own (`JobChange.resent`), never as a failure; `acknowledge` sends nothing unless the job is `ready`,
and tells the relay's own earlier acknowledgement (`RESUMED`, recognised by its `info`) from another listener's
(`TAKEN`).

Example:
    account = PlatformAccount(secret_key, environment_id)
    with PlatformClient("https://api.x.flatfile.com/v1", account, user_agent="my-tool/1.0") as client:
        job = client.get_job(job_id, deadline)
        if client.acknowledge(job, deadline, info="Exporting to AWS").change is Change.ACKNOWLEDGED:
            workbook = client.get_workbook(job.source, deadline)
            for sheet in workbook.sheets:
                for page in client.iter_record_pages(sheet.id, deadline):
                    write(page.texts)
            client.complete(job.id, "Exported 1,234 records to AWS", deadline)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from flatfile_relay.checks import is_count
from flatfile_relay.collection import collection_paused
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile.errors import (
    BadRequestError,
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    ForbiddenError,
    NotFoundError,
)
from flatfile_relay.flatfile.pagination import split_list_answer
from flatfile_relay.flatfile.transport import Reply, RequestCounts, Transport
from flatfile_relay.json_types import json_type
from flatfile_relay.platform.account import DEFAULT_BASE_URL, PlatformAccount
from flatfile_relay.platform.models import (
    Change,
    Commit,
    Event,
    EventPage,
    Job,
    JobChange,
    JobPage,
    RecordPage,
    Sheet,
    SheetCounts,
    Space,
    Workbook,
)
from flatfile_relay.platform.records import EXACT_DECODER, record_pages
from flatfile_relay.redaction import install_redaction
from flatfile_relay.timestamps import format_timestamp

__all__ = ["DEFAULT_BASE_URL", "MAX_RECORD_PAGE_SIZE", "PlatformClient"]

logger = logging.getLogger("flatfile_relay.platform")
install_redaction(logger)  # our own records are redacted before any handler sees them

#: the Platform's default and documented record page size
MAX_RECORD_PAGE_SIZE = 10_000
#: connections kept per host (more when more record pages are fetched ahead)
DEFAULT_POOL_SIZE = 10
_SORT_DIRECTIONS = ("asc", "desc")


class PlatformClient:
    """A client of the Flatfile Platform for one environment and its secret key.

    Args:
        base_url: e.g. `https://api.x.flatfile.com/v1` (FLATFILE_PLATFORM_URL; https only, plain http only to a
            loopback host).
        account: the secret key and the environment id.
        timeout, connect_timeout: per-request read / connect timeouts, seconds (capped by the deadline).
        max_attempts: attempts per request before `RetriesExhaustedError`.
        backoff_base, backoff_cap: full-jitter backoff between attempts, seconds.
        session: a `requests.Session` to use (the caller keeps ownership); default: a new pooled one.
        record_prefetch: record-page requests kept in flight by `iter_record_pages` (1: one at a time).
        counts: where the transport counts requests, retries and throttles (share the legacy client's to count
            both APIs in one place).
        user_agent: who sends the requests (e.g. `flatfile-relay/0.1.0`), before the HTTP library's own.
    """

    def __init__(
        self,
        base_url: str,
        account: PlatformAccount,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        session: requests.Session | None = None,
        record_prefetch: int = 1,
        counts: RequestCounts | None = None,
        user_agent: str = "",
    ) -> None:
        self.account = account
        self.record_prefetch = _positive(record_prefetch, "record_prefetch")
        account.register_secrets()
        self.transport = Transport(
            base_url, timeout=timeout, connect_timeout=connect_timeout, max_attempts=max_attempts,
            backoff_base=backoff_base, backoff_cap=backoff_cap, session=session,
            pool_maxsize=max(DEFAULT_POOL_SIZE, self.record_prefetch + 1), counts=counts, user_agent=user_agent,
            setting="FLATFILE_PLATFORM_URL", example=DEFAULT_BASE_URL,
        )

    @property
    def environment_id(self) -> str:
        """The environment the client works in."""
        return self.account.environment_id

    # -- the environment -------------------------------------------------------------------------------

    def get_environment(self, deadline: Deadline) -> dict[str, Any]:
        """`GET /environments/{environmentId}`: the environment as the API returned it (what `check` tests).

        Raises:
            CredentialsRejectedError: the key is refused (401).
            ConfigurationError: the key does not belong to the environment (403/404), or a wrong base URL.
        """
        what = "GET /environments/{environmentId}"
        reply = self._send("GET", f"/environments/{_segment(self.environment_id)}", deadline, what)
        return _object(self._data(self._check(reply, what, not_found=self._unknown_environment), what), what)

    # -- jobs ------------------------------------------------------------------------------------------

    def list_jobs(self, deadline: Deadline, page_number: int = 1, page_size: int = 100,
                  sort_direction: str = "asc") -> JobPage:
        """`GET /jobs` of the environment: one page (1-based `page_number`), by `createdAt` in `sort_direction`.

        Top-level jobs only (`excludeChildJobs`): a submit is never a part of another job. See `JobPage` for the
        page's real offset and `last`.
        """
        _positive(page_number, "page_number")
        _positive(page_size, "page_size")
        if sort_direction not in _SORT_DIRECTIONS:
            raise ValueError(f"sort_direction must be one of {_SORT_DIRECTIONS}, got {sort_direction!r}")
        what = "GET /jobs"
        params = {"environmentId": self.environment_id, "pageSize": str(page_size), "pageNumber": str(page_number),
                  "sortDirection": sort_direction, "excludeChildJobs": "true"}
        body = self._check(self._send("GET", "/jobs", deadline, what, params=params), what)
        data = self._data(body, what)
        if not isinstance(data, list):
            raise ContractError(f"Flatfile answered {what} without a `data` list (got a JSON {json_type(data)}).")
        jobs = [Job.parse(item, f"{what} (a job)") for item in data]
        return _job_page(jobs, body.get("pagination"), page_number, page_size, what)

    def get_job(self, job_id: str, deadline: Deadline) -> Job:
        """`GET /jobs/{jobId}`.

        Raises:
            NotFoundError: the environment has no such job (404).
            ContractError: the answer is not a job, or another job.
        """
        what = "GET /jobs/{jobId}"
        reply = self._send("GET", f"/jobs/{_segment(job_id)}", deadline, what)
        job = Job.parse(self._data(self._check(reply, what, not_found=lambda: self._not_found("job", job_id)), what),
                        what)
        if job.id != job_id:
            raise ContractError(f"Flatfile answered {what} for job {job_id} with another job ({job.id[:64]!r}).")
        return job

    def acknowledge(self, job: Job, deadline: Deadline, *, info: str, progress: int = 0) -> JobChange:
        """Become the job's listener: `POST /jobs/{jobId}/ack` (ready → executing) with `info` (what the end user
        sees) and `progress`, only when `job` (read just before) is `ready`.

        `info` also marks the job as the relay's: keep it distinctive, and unchanged while the job runs
        (`report_progress` without `info`). Outcomes (`JobChange.change`): `ACKNOWLEDGED`; `RESUMED` (already
        executing with this `info`: the relay's own earlier acknowledgement); `TAKEN` (executing with another
        `info`); `NOT_READY`; `ENDED`. Only `ACKNOWLEDGED` sends a request (and reads the job back when the server
        refuses it: a resend of an acknowledgement that went through is `ACKNOWLEDGED`, `resent=True`).
        """
        _progress(progress)
        if job.status != "ready":
            return JobChange(_unready(job, info), job)
        what = "POST /jobs/{jobId}/ack"
        reply = self._send("POST", f"/jobs/{_segment(job.id)}/ack", deadline, what,
                           json_body={"info": info, "progress": progress})
        if reply.status != 400:
            answered = Job.parse(self._data(self._check(reply, what, not_found=lambda: self._not_found("job", job.id)),
                                            what), what)
            return JobChange(Change.ACKNOWLEDGED, answered)
        current = self.get_job(job.id, deadline)
        if current.status == "executing" and current.info == info:
            return JobChange(Change.ACKNOWLEDGED, current, resent=True)
        if current.status == "ready":
            raise self._refused(reply, what, "the job is still ready")
        logger.info("Flatfile Platform refused to acknowledge job %s: it is %s", job.id, current.status)
        return JobChange(_unready(current, info), current)

    def report_progress(self, job_id: str, progress: int, deadline: Deadline, *, info: str | None = None) -> Job:
        """Tell the end user how far the job is: `POST /jobs/{jobId}/ack` again (how Flatfile's own job handler
        reports progress) with `progress` (0..100) and, if given, a new `info`.

        Returns the job as answered; when the server refuses (the job is no longer executing: canceled or ended
        by someone else), the job as read back: check `job.status` before going on.
        """
        _progress(progress)
        what = "POST /jobs/{jobId}/ack"
        body: dict[str, Any] = {"progress": progress} if info is None else {"progress": progress, "info": info}
        reply = self._send("POST", f"/jobs/{_segment(job_id)}/ack", deadline, what, json_body=body)
        if reply.status == 400:
            return self.get_job(job_id, deadline)
        return Job.parse(self._data(self._check(reply, what, not_found=lambda: self._not_found("job", job_id)), what),
                         what)

    def complete(self, job_id: str, message: str, deadline: Deadline, *, info: str | None = None) -> JobChange:
        """End the job as complete with an outcome `message` the end user reads: `POST /jobs/{jobId}/complete`.

        `COMPLETED` when it took effect (`resent=True`: an earlier attempt did, its answer lost, the resend
        refused and the job read back complete with this message); `ENDED_BY_OTHER` when someone else ended the
        job first. BadRequestError when refused for another reason (the job is not ended).
        """
        return self._end(job_id, "complete", message, info, deadline)

    def fail(self, job_id: str, message: str, deadline: Deadline, *, info: str | None = None) -> JobChange:
        """End the job as failed with an outcome `message` (say that the data is still in Flatfile):
        `POST /jobs/{jobId}/fail`. Outcomes as `complete`, with `FAILED`."""
        return self._end(job_id, "failed", message, info, deadline)

    def _end(self, job_id: str, status: str, message: str, info: str | None, deadline: Deadline) -> JobChange:
        if not isinstance(message, str) or not message.strip():
            raise ValueError("the outcome message must be a non-empty string: the end user reads it")
        verb, change = ("complete", Change.COMPLETED) if status == "complete" else ("fail", Change.FAILED)
        what = f"POST /jobs/{{jobId}}/{verb}"
        body: dict[str, Any] = {"outcome": {"message": message}}
        if info is not None:
            body["info"] = info
        reply = self._send("POST", f"/jobs/{_segment(job_id)}/{verb}", deadline, what, json_body=body)
        if reply.status != 400:
            answered = Job.parse(self._data(self._check(reply, what, not_found=lambda: self._not_found("job", job_id)),
                                            what), what)
            return JobChange(change, answered)
        current = self.get_job(job_id, deadline)
        if current.status == status and current.outcome_message == message:
            logger.info("Flatfile Platform job %s was already %s with this outcome (an answer lost, then resent)",
                        job_id, status)
            return JobChange(change, current, resent=True)
        if current.ended:
            return JobChange(Change.ENDED_BY_OTHER, current)
        raise self._refused(reply, what, f"the job is {current.status}")

    # -- spaces, workbooks, sheets ---------------------------------------------------------------------

    def get_space(self, space_id: str, deadline: Deadline) -> Space:
        """`GET /spaces/{spaceId}`: `Space.user_info` is its `metadata.userInfo`."""
        what = "GET /spaces/{spaceId}"
        reply = self._send("GET", f"/spaces/{_segment(space_id)}", deadline, what)
        return Space.parse(self._data(self._check(reply, what, not_found=lambda: self._not_found("space", space_id)),
                                      what), what)

    def get_workbook(self, workbook_id: str, deadline: Deadline) -> Workbook:
        """`GET /workbooks/{workbookId}`: its sheets in the workbook's order, and its actions."""
        what = "GET /workbooks/{workbookId}"
        reply = self._send("GET", f"/workbooks/{_segment(workbook_id)}", deadline, what)
        found = self._check(reply, what, not_found=lambda: self._not_found("workbook", workbook_id))
        return Workbook.parse(self._data(found, what), what)

    def list_sheets(self, workbook_id: str, deadline: Deadline) -> list[Sheet]:
        """`GET /sheets?workbookId=…`: the workbook's sheets, in the order the API lists them."""
        what = "GET /sheets"
        reply = self._send("GET", "/sheets", deadline, what, params={"workbookId": workbook_id})
        data = self._data(self._check(reply, what, not_found=lambda: self._not_found("workbook", workbook_id)), what)
        if not isinstance(data, list):
            raise ContractError(f"Flatfile answered {what} without a `data` list (got a JSON {json_type(data)}).")
        return [Sheet.parse(item, f"{what} (a sheet)") for item in data]

    def get_sheet(self, sheet_id: str, deadline: Deadline) -> Sheet:
        """`GET /sheets/{sheetId}`."""
        what = "GET /sheets/{sheetId}"
        reply = self._send("GET", f"/sheets/{_segment(sheet_id)}", deadline, what)
        return Sheet.parse(self._data(self._check(reply, what, not_found=lambda: self._not_found("sheet", sheet_id)),
                                      what), what)

    def sheet_counts(self, sheet_id: str, deadline: Deadline) -> SheetCounts:
        """`GET /sheets/{sheetId}/counts`: records in all, valid, with an error."""
        what = "GET /sheets/{sheetId}/counts"
        reply = self._send("GET", f"/sheets/{_segment(sheet_id)}/counts", deadline, what)
        data = _object(self._data(self._check(reply, what, not_found=lambda: self._not_found("sheet", sheet_id)),
                                  what), what)
        return SheetCounts.parse(data.get("counts"), what)

    def list_commits(self, sheet_id: str, deadline: Deadline, completed: bool | None = None) -> list[Commit]:
        """`GET /sheets/{sheetId}/commits` (only `completed` or uncompleted ones when given), as the API orders
        them."""
        what = "GET /sheets/{sheetId}/commits"
        params = None if completed is None else {"completed": "true" if completed else "false"}
        reply = self._send("GET", f"/sheets/{_segment(sheet_id)}/commits", deadline, what, params=params)
        data = self._data(self._check(reply, what, not_found=lambda: self._not_found("sheet", sheet_id)), what)
        if not isinstance(data, list):
            raise ContractError(f"Flatfile answered {what} without a `data` list (got a JSON {json_type(data)}).")
        return [Commit.parse(item, what) for item in data]

    def lock_sheet(self, sheet_id: str, deadline: Deadline) -> bool:
        """`POST /sheets/{sheetId}/lock`: end users can no longer edit the sheet. Always pair it with
        `unlock_sheet` (in a `finally`), or the customer's sheet stays frozen.

        True when the sheet is locked by this call (or by its own resend); False when the server refused
        because the sheet was already locked (by another actor, presumably: do not unlock it then).
        """
        what = "POST /sheets/{sheetId}/lock"
        reply = self._send("POST", f"/sheets/{_segment(sheet_id)}/lock", deadline, what)
        if reply.status == 400 and self.get_sheet(sheet_id, deadline).locked:
            return False
        self._check(reply, what, not_found=lambda: self._not_found("sheet", sheet_id))
        return True

    def unlock_sheet(self, sheet_id: str, deadline: Deadline) -> None:
        """`POST /sheets/{sheetId}/unlock`; safe when the sheet is already unlocked (a refusal is read back)."""
        what = "POST /sheets/{sheetId}/unlock"
        reply = self._send("POST", f"/sheets/{_segment(sheet_id)}/unlock", deadline, what)
        if reply.status == 400 and not self.get_sheet(sheet_id, deadline).locked:
            return
        self._check(reply, what, not_found=lambda: self._not_found("sheet", sheet_id))

    # -- records ---------------------------------------------------------------------------------------

    def iter_record_pages(self, sheet_id: str, deadline: Deadline, *, page_size: int = MAX_RECORD_PAGE_SIZE,
                          start_page: int = 1, prefetch: int | None = None, exact_numbers: bool = False,
                          until_length: bool = False) -> Generator[RecordPage, None, None]:
        """Every record of the sheet, page by page (`GET /sheets/{sheetId}/records`, messages included), from the
        1-based `start_page` to the first short page, in the API's order.

        Each page's `texts` are its records' JSON texts exactly as the server sent them. `prefetch` (default: the
        client's `record_prefetch`) pages are requested ahead and yielded in order (see
        `flatfile_relay.platform.records`). A server that serves fewer records than `page_size` is followed at its
        own size (`RecordPage.page_size`: resume with it). `exact_numbers`: every float in `records` comes as
        `NUMBER_MARK` and its JSON text (`flatfile_relay.platform.records.EXACT_DECODER`); `until_length`: the walk
        ends at the length the first page announced when every page came from the same commit.

        Raises:
            NotFoundError: the environment has no such sheet (404).
            ContractError: a page that is not `{"data": {"records": [...]}}` of records with ids and values.

        Example:
            for page in client.iter_record_pages(sheet.id, deadline, prefetch=4):
                write(page.texts)  # page by page, in order, whichever answer came first
        """
        if not 1 <= page_size <= MAX_RECORD_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_RECORD_PAGE_SIZE}, got {page_size!r}")
        _positive(start_page, "start_page")
        ahead = self.record_prefetch if prefetch is None else _positive(prefetch, "prefetch")

        decode = _split_exact_records if exact_numbers else _split_records

        def fetch(number: int, size: int, with_length: bool) -> RecordPage:
            return self._record_page(sheet_id, deadline, number, size, with_length, decode)

        pages = record_pages(fetch, start_page, page_size, ahead, until_length=until_length)
        try:
            yield from pages
        finally:
            pages.close()  # a walk stopped early lets go of the pages asked ahead at once

    def _record_page(self, sheet_id: str, deadline: Deadline, number: int, size: int, with_length: bool,
                     decode: Callable[[bytes], Any]) -> RecordPage:
        what = "GET /sheets/{sheetId}/records"
        params = {"pageSize": str(size), "pageNumber": str(number), "includeMessages": "true"}
        if with_length:
            params["includeLength"] = "true"
        reply = self._send("GET", f"/sheets/{_segment(sheet_id)}/records", deadline, what, params=params,
                           decode=decode)
        answer = self._check(reply, what, not_found=lambda: self._not_found("sheet", sheet_id))
        body, texts = answer if isinstance(answer, tuple) else (answer, None)
        data = _object(self._data(body, what), what)
        records = data.get("records")
        if not isinstance(records, list):
            raise ContractError(f"Flatfile answered {what} without a `records` list (got a JSON {json_type(records)}).")
        for item in records:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(
                    item.get("values"), dict):
                raise ContractError(f"Flatfile answered {what} with a record that has no string `id` and `values`.")
        counts = data.get("counts")
        total = counts.get("total") if isinstance(counts, dict) else None
        commit = data.get("commitId")
        return RecordPage(records, texts, number, size, (number - 1) * size,
                          commit if isinstance(commit, str) else None,
                          total if isinstance(total, int) and not isinstance(total, bool) else None)

    # -- events ----------------------------------------------------------------------------------------

    def list_events(self, deadline: Deadline, *, topic: str | None = None, since: datetime | None = None,
                    page_number: int = 1, page_size: int = 100) -> EventPage:
        """`GET /events` of the environment, acknowledged ones included (another listener may acknowledge
        events), filtered by `topic` and created at or after `since` (whether the server counts `since` itself
        is unknown: deduplicate by id)."""
        _positive(page_number, "page_number")
        _positive(page_size, "page_size")
        what = "GET /events"
        params = {"environmentId": self.environment_id, "pageSize": str(page_size), "pageNumber": str(page_number),
                  "includeAcknowledged": "true"}
        if topic is not None:
            params["topic"] = topic
        if since is not None:
            params["since"] = format_timestamp(since)
        data = self._data(self._check(self._send("GET", "/events", deadline, what, params=params), what), what)
        if not isinstance(data, list):
            raise ContractError(f"Flatfile answered {what} without a `data` list (got a JSON {json_type(data)}).")
        return EventPage([Event.parse(item, what) for item in data], page_number, page_size)

    # -- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections (not a session supplied by the caller)."""
        self.transport.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"PlatformClient(base_url={self.transport.base_url!r}, environment_id={self.environment_id!r}, "
                f"secret_key={self.account.redacted_secret_key!r})")

    # -- internals -------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, deadline: Deadline, what: str, *, params: Mapping[str, str] | None = None,
              json_body: Any = None, decode: Callable[[bytes], Any] = json.loads) -> Reply:
        headers = {"Authorization": self.account.authorization}
        return self.transport.request(method, path, deadline=deadline, params=params, json_body=json_body,
                                      headers=lambda: headers, decode=decode)

    def _check(self, reply: Reply, what: str, *, not_found: Callable[[], Exception] | None = None) -> Any:
        """The body of a 2xx answer; else the error for the status (see `flatfile_relay.flatfile.errors`)."""
        if reply.ok:
            return reply.body
        message = _server_message(reply.body)
        detail = f" ({message})" if message else ""
        key = self.account.redacted_secret_key
        if reply.status == 401:
            raise CredentialsRejectedError(
                f"Flatfile Platform rejected the secret key {key} (HTTP 401 on {what}){detail}: check "
                "platformSecretKey in the secret (a secret key, sk_…, of the environment in platformEnvironmentId).",
                status=401)
        if reply.status == 403:
            raise ForbiddenError(
                f"Flatfile Platform refused {what} (HTTP 403){detail}: the secret key {key} may not use environment "
                f"{self.environment_id}; check that platformSecretKey and platformEnvironmentId in the secret "
                "belong together.", status=403)
        if reply.status == 404:
            raise not_found() if not_found is not None and _platform_errors(reply.body) else self._wrong_base_url()
        if reply.status == 400:
            raise self._refused(reply, what, "")
        raise ContractError(f"Flatfile answered {what} with unexpected HTTP {reply.status}{detail}.",
                            status=reply.status)

    @staticmethod
    def _data(body: Any, what: str) -> Any:
        if not isinstance(body, dict) or "data" not in body:
            raise ContractError(f"Flatfile answered {what} with a JSON {json_type(body)} without `data`.")
        return body["data"]

    @staticmethod
    def _refused(reply: Reply, what: str, state: str) -> BadRequestError:
        message = _server_message(reply.body)
        because = f" while {state}" if state else ""
        return BadRequestError(
            f"Flatfile Platform refused {what} as a bad request{because}"
            f"{f' ({message})' if message else ''}: the relay sent something the API does not accept.",
            server_message=message)

    def _not_found(self, kind: str, resource_id: str) -> NotFoundError:
        return NotFoundError(
            f"Flatfile Platform has no {kind} {resource_id[:64]} in environment {self.environment_id} (HTTP 404): "
            "check the id, or that it belongs to the environment in platformEnvironmentId.", status=404)

    def _unknown_environment(self) -> ConfigurationError:
        return ConfigurationError(
            f"Flatfile Platform has no environment {self.environment_id} for this secret key (HTTP 404): set "
            "platformEnvironmentId in the secret to the environment the key belongs to (us_env_…).", status=404)

    def _wrong_base_url(self) -> ConfigurationError:
        return ConfigurationError(
            f"Flatfile answered HTTP 404 at {self.transport.base_url} without the Platform's error envelope: check "
            f"FLATFILE_PLATFORM_URL (e.g. {DEFAULT_BASE_URL}, with its /v1).", status=404)


def _split_records(content: bytes) -> tuple[Any, list[str] | None]:
    return split_list_answer(content, ("data", "records"))


def _split_exact_records(content: bytes) -> tuple[Any, list[str] | None]:
    with collection_paused():
        return split_list_answer(content, ("data", "records"), decoder=EXACT_DECODER)


def _job_page(jobs: list[Job], pagination: Any, number: int, size: int, what: str) -> JobPage:
    """The page with its real offset: a full page counts by its own length, the last one by `totalCount`."""
    if not isinstance(pagination, dict):
        return JobPage(jobs, number, size, (number - 1) * size, None, None, len(jobs) < size)
    total, pages = pagination.get("totalCount"), pagination.get("pageCount")
    if not (isinstance(total, int) and isinstance(pages, int) and is_count(total) and is_count(pages)):
        raise ContractError(f"Flatfile answered {what} with a `pagination` without whole numbers "
                            "`totalCount` and `pageCount`.")
    last = not jobs or number >= pages
    offset = total if not jobs else total - len(jobs) if last else (number - 1) * len(jobs)
    return JobPage(jobs, number, size, max(0, offset), total, pages, last)


def _unready(job: Job, info: str) -> Change:
    if job.status == "executing":
        return Change.RESUMED if job.info == info else Change.TAKEN
    return Change.ENDED if job.ended else Change.NOT_READY


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContractError(f"Flatfile answered {what} with a JSON {json_type(value)} instead of an object.")
    return value


def _platform_errors(body: Any) -> bool:
    """Whether a body is the Platform's error envelope (`{"errors": [...]}`), not some other server's 404."""
    return isinstance(body, dict) and isinstance(body.get("errors"), list)


def _server_message(body: Any) -> str:
    """What the server said: the Platform's `errors[].message`, joined, or a `message` (cut to 300 characters)."""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if isinstance(errors, list):
        messages = [str(item.get("message")) for item in errors if isinstance(item, dict) and item.get("message")]
        return "; ".join(messages)[:300]
    message = body.get("message")
    return str(message)[:300] if message else ""


def _segment(resource_id: str) -> str:
    if not isinstance(resource_id, str) or not resource_id.strip():
        raise ValueError(f"an id must be a non-empty string, got {resource_id!r}")
    return quote(resource_id.strip(), safe="")


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


def _progress(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"progress must be a whole number from 0 to 100, got {value!r}")
