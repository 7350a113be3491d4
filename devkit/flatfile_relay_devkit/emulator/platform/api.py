"""The emulated Platform API (v1): routes under ``/v1``, the bearer secret key, the Platform's answers and errors.

Every answer is ``{"data": ...}`` (lists of jobs, spaces and environments add ``pagination``); errors are
``{"errors": [{"message": ...}]}``. A secret key belongs to one environment: resources of another one are
unknown to it (404), and naming another ``environmentId`` is forbidden (403). :data:`ROUTES` lists every route;
:func:`route_template` names the route of a request (the request log keeps it).

Example:
    >>> from ..config import EmulatorConfig
    >>> from ..responses import Request
    >>> from .store import PlatformState
    >>> state = PlatformState.with_samples(7)
    >>> api = PlatformApi(state, lambda: EmulatorConfig())
    >>> key = {"authorization": f"Bearer {state.account.secret_key}"}
    >>> api.handle(Request("GET", f"/v1/workbooks/{state.sample_id('products')}", {}, key)).status
    200
    >>> api.handle(Request("GET", "/v1/jobs", {}, {"authorization": "Bearer sk_wrong"})).body
    b'{"errors":[{"message":"Unauthorized: the secret key is not valid"}]}'
    >>> route_template("POST", f"/v1/jobs/{state.sample_id('job_failed')}/complete")
    '/v1/jobs/{jobId}/complete'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import EmulatorConfig
from ..responses import JSON_CONTENT_TYPE, Request, Response, json_response
from ..samples import parse_time
from .records import Record
from .store import PlatformConflict, PlatformState

__all__ = ["PLATFORM_PREFIX", "ROUTES", "PlatformApi", "platform_error", "route_template"]

PLATFORM_PREFIX = "/v1"

#: (method, template, handler): every route the emulated Platform serves
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/v1/environments", "list_environments"),
    ("GET", "/v1/environments/{environmentId}", "get_environment"),
    ("GET", "/v1/spaces", "list_spaces"),
    ("GET", "/v1/spaces/{spaceId}", "get_space"),
    ("GET", "/v1/workbooks", "list_workbooks"),
    ("GET", "/v1/workbooks/{workbookId}", "get_workbook"),
    ("GET", "/v1/sheets", "list_sheets"),
    ("GET", "/v1/sheets/{sheetId}", "get_sheet"),
    ("GET", "/v1/sheets/{sheetId}/counts", "get_counts"),
    ("GET", "/v1/sheets/{sheetId}/commits", "list_commits"),
    ("POST", "/v1/sheets/{sheetId}/lock", "lock_sheet"),
    ("POST", "/v1/sheets/{sheetId}/unlock", "unlock_sheet"),
    ("GET", "/v1/sheets/{sheetId}/records", "get_records"),
    ("PUT", "/v1/sheets/{sheetId}/records", "update_records"),
    ("POST", "/v1/sheets/{sheetId}/records", "insert_records"),
    ("GET", "/v1/jobs", "list_jobs"),
    ("POST", "/v1/jobs", "create_job"),
    ("GET", "/v1/jobs/{jobId}", "get_job"),
    ("POST", "/v1/jobs/{jobId}/ack", "ack_job"),
    ("POST", "/v1/jobs/{jobId}/complete", "complete_job"),
    ("POST", "/v1/jobs/{jobId}/fail", "fail_job"),
    ("POST", "/v1/jobs/{jobId}/cancel", "cancel_job"),
    ("GET", "/v1/events", "list_events"),
)
#: record list parameters the emulator does not implement: refused (400) rather than silently ignored
_UNSUPPORTED_RECORD_PARAMS = ("versionId", "commitId", "sinceVersionId", "sinceCommitId", "sortField", "q",
                              "searchValue", "searchField", "ids", "filterField", "for")
#: default page sizes: records 10,000 (the API's own), jobs 20 (the SDK's documentation), others 50
_DEFAULT_PAGE_SIZE = {"get_records": 10_000, "list_jobs": 20}


class _Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Call:
    """One authenticated request: the key's environment, the path's parameters, the query."""

    environment_id: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: bytes


def platform_error(status: int, message: str) -> Response:
    """The Platform's error envelope: ``{"errors": [{"message": ...}]}``."""
    return json_response(status, {"errors": [{"message": message}]})


def _match(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """(template, handler, path parameters) of the route serving this request, if any."""
    parts = path.rstrip("/").split("/")
    for route_method, template, handler in ROUTES:
        pattern = template.split("/")
        if route_method != method or len(pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(pattern, parts, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            return template, handler, params
    return None


def route_template(method: str, path: str) -> str | None:
    """The template of the Platform route serving ``method path`` (e.g. ``/v1/jobs/{jobId}``), or None."""
    found = _match(method.upper(), path)
    return found[0] if found is not None else None


def _int(query: Mapping[str, str], name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Failure(400, f"{name} must be an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise _Failure(400, f"{name} must be between {minimum} and {maximum}" if maximum is not None
                       else f"{name} must be at least {minimum}")
    return value


def _bool(query: Mapping[str, str], name: str) -> bool:
    raw = (query.get(name) or "").lower()
    if raw not in ("", "true", "false"):
        raise _Failure(400, f"{name} must be true or false")
    return raw == "true"


def _body(call: _Call) -> Any:
    try:
        return json.loads(call.body.decode("utf-8")) if call.body.strip() else None
    except (UnicodeDecodeError, ValueError):
        raise _Failure(400, "The request body is not valid JSON") from None


def _object_body(call: _Call) -> dict[str, Any]:
    body = _body(call)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _Failure(400, "The request body must be a JSON object")
    return body


def _paged(items: list[Any], size: int, number: int) -> dict[str, Any]:
    page = items[(number - 1) * size: number * size]
    total = len(items)
    return {"pagination": {"currentPage": number, "pageCount": math.ceil(total / size), "totalCount": total},
            "data": page}


class PlatformApi:
    """Answers the Platform routes (:data:`ROUTES`) from a :class:`.store.PlatformState`."""

    def __init__(self, state: PlatformState, config: Callable[[], EmulatorConfig]) -> None:
        self.state = state
        self._config = config

    def handle(self, request: Request) -> Response:
        """Answer one request under ``/v1`` (401 before anything else without a valid secret key)."""
        value = request.header("authorization") or ""
        key = value[7:].strip() if value.lower().startswith("bearer ") else ""
        environment_id = self.state.account.environment_of_key(key) if key else None
        if environment_id is None:
            return platform_error(401, "Unauthorized: the secret key is not valid")
        found = _match(request.method, request.path)
        if found is None:
            return platform_error(404, f"Cannot {request.method} {request.path}")
        _, handler, params = found
        call = _Call(environment_id, params, request.query, request.body)
        try:
            return getattr(self, handler)(call)  # type: ignore[no-any-return]
        except _Failure as failure:
            return platform_error(failure.status, failure.message)
        except PlatformConflict as conflict:
            return platform_error(400, str(conflict))

    # -- lookups -----------------------------------------------------------------------------------------

    def _visible(self, table: Mapping[str, dict[str, Any]], resource_id: str, kind: str, call: _Call
                 ) -> dict[str, Any]:
        """The live resource, when it exists in the key's environment (lock held by the caller)."""
        resource = table.get(resource_id)
        if resource is None or self.state.environment_of(resource) != call.environment_id:
            raise _Failure(404, f"{kind} {resource_id} not found")
        return resource

    def _page(self, call: _Call, handler: str) -> tuple[int, int]:
        cap = self._config().platform_max_page_size
        size = min(_int(call.query, "pageSize", _DEFAULT_PAGE_SIZE.get(handler, 50)), cap)
        return size, _int(call.query, "pageNumber", 1)

    def _same_environment(self, call: _Call) -> None:
        wanted = call.query.get("environmentId")
        if wanted and wanted != call.environment_id:
            raise _Failure(403, f"Forbidden: the secret key does not belong to environment {wanted}")

    # -- environments, spaces, workbooks, sheets -------------------------------------------------------------

    def list_environments(self, call: _Call) -> Response:
        size, number = self._page(call, "list_environments")
        mine = [env for env in self.state.environments.values() if env["id"] == call.environment_id]
        return json_response(200, _paged(mine, size, number))

    def get_environment(self, call: _Call) -> Response:
        environment_id = call.params["environmentId"]
        if environment_id != call.environment_id:
            raise _Failure(404, f"Environment {environment_id} not found")
        return json_response(200, {"data": self.state.environments[environment_id]})

    def list_spaces(self, call: _Call) -> Response:
        self._same_environment(call)
        size, number = self._page(call, "list_spaces")
        with self.state.lock:
            spaces = [space for space in self.state.spaces.values() if space["environmentId"] == call.environment_id]
            return json_response(200, _paged(spaces, size, number))

    def get_space(self, call: _Call) -> Response:
        with self.state.lock:
            return json_response(200, {"data": self._visible(self.state.spaces, call.params["spaceId"], "Space", call)})

    def list_workbooks(self, call: _Call) -> Response:
        space_id = call.query.get("spaceId")
        with self.state.lock:
            if space_id:
                self._visible(self.state.spaces, space_id, "Space", call)
            views = [self.state.live_workbook(workbook_id) for workbook_id, workbook in self.state.workbooks.items()
                     if workbook["environmentId"] == call.environment_id
                     and (not space_id or workbook["spaceId"] == space_id)]
            return json_response(200, {"data": views})

    def get_workbook(self, call: _Call) -> Response:
        workbook_id = call.params["workbookId"]
        with self.state.lock:
            self._visible(self.state.workbooks, workbook_id, "Workbook", call)
            return json_response(200, {"data": self.state.live_workbook(workbook_id)})

    def list_sheets(self, call: _Call) -> Response:
        workbook_id = call.query.get("workbookId")
        with self.state.lock:
            if workbook_id:
                self._visible(self.state.workbooks, workbook_id, "Workbook", call)
                ids = self.state.sheet_ids(workbook_id)
            else:
                ids = [sheet_id for sheet_id, sheet in self.state.sheets.items()
                       if self.state.environment_of(sheet) == call.environment_id]
            return json_response(200, {"data": [self.state.live_sheet(sheet_id) for sheet_id in ids]})

    def get_sheet(self, call: _Call) -> Response:
        with self.state.lock:
            sheet_id = self._sheet(call)
            return json_response(200, {"data": self.state.live_sheet(sheet_id)})

    def _sheet(self, call: _Call) -> str:
        return str(self._visible(self.state.sheets, call.params["sheetId"], "Sheet", call)["id"])

    def get_counts(self, call: _Call) -> Response:
        with self.state.lock:
            counts = self.state.served_counts(self._sheet(call))
            return json_response(200, {"data": {"counts": counts, "success": True}})

    def list_commits(self, call: _Call) -> Response:
        completed = call.query.get("completed")
        with self.state.lock:
            commits = self.state.commits[self._sheet(call)]
            if completed:
                done = _bool(call.query, "completed")
                commits = [commit for commit in commits if (commit["completedAt"] is not None) == done]
            return json_response(200, {"data": commits})

    def lock_sheet(self, call: _Call) -> Response:
        with self.state.lock:
            self.state.lock_sheet(self._sheet(call))
        return json_response(200, {"data": {"success": True}})

    def unlock_sheet(self, call: _Call) -> Response:
        with self.state.lock:
            self.state.unlock_sheet(self._sheet(call))
        return json_response(200, {"data": {"success": True}})

    # -- records -----------------------------------------------------------------------------------------------

    def get_records(self, call: _Call) -> Response:
        unsupported = [name for name in _UNSUPPORTED_RECORD_PARAMS if call.query.get(name)]
        if unsupported:
            raise _Failure(400, f"The emulator does not support {', '.join(unsupported)} on records")
        size, number = self._page(call, "get_records")
        wanted = call.query.get("filter") or "all"
        if wanted not in ("all", "valid", "error"):
            raise _Failure(400, "filter must be one of valid, error, all")
        messages = _bool(call.query, "includeMessages")
        with self.state.lock:
            sheet_id = self._sheet(call)
            self.state.before_records_page(sheet_id, number)
            records = self.state.records[sheet_id]
            start = (number - 1) * size
            head: dict[str, Any] = {"success": True, "records": None, "commitId": self.state.latest_commit(sheet_id)}
            if _bool(call.query, "includeLength") or _bool(call.query, "includeCounts"):
                head["counts"] = records.counts()
            if wanted == "all" and messages:  # what the relay asks: written from the records' texts
                return _records_response(head, records.texts(start, start + size))
            if wanted == "all":
                page = records.page(start, start + size)
            else:
                keep = [index for index in range(len(records)) if records.valid_at(index) == (wanted == "valid")]
                page = [records.at(index) for index in keep[start: start + size]]
            head["records"] = page if messages else [_without_messages(item) for item in page]
            return json_response(200, {"data": head})

    def update_records(self, call: _Call) -> Response:
        body = _body(call)
        if not isinstance(body, list) or not all(isinstance(item, dict) and isinstance(item.get("id"), str)
                                                  and isinstance(item.get("values"), dict) for item in body):
            raise _Failure(400, "The body must be a list of records, each with an id and values")
        with self.state.lock:
            sheet_id = self._sheet(call)
            try:
                commit = self.state.edit_records(sheet_id, {item["id"]: item["values"] for item in body},
                                                 actor=self.state.account.user_id)
            except KeyError as missing:
                raise _Failure(400, str(missing.args[0])) from None
        return json_response(200, {"data": {"versionId": commit}})  # the SDK's VersionResponse: no commitId

    def insert_records(self, call: _Call) -> Response:
        body = _body(call)
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise _Failure(400, "The body must be a list of records (field key -> cell)")
        with self.state.lock:
            sheet_id = self._sheet(call)
            added = self.state.add_records(sheet_id, body, actor=self.state.account.user_id)
        return json_response(200, {"data": {"success": True, "records": added}})

    # -- jobs ----------------------------------------------------------------------------------------------------

    def list_jobs(self, call: _Call) -> Response:
        self._same_environment(call)
        size, number = self._page(call, "list_jobs")
        direction = call.query.get("sortDirection") or "desc"
        if direction not in ("asc", "desc"):
            raise _Failure(400, "sortDirection must be asc or desc")
        space, workbook = call.query.get("spaceId"), call.query.get("workbookId")
        skip_children = _bool(call.query, "excludeChildJobs")
        with self.state.lock:
            jobs = [job for job in self.state.ordered_jobs(descending=direction == "desc")
                    if job["environmentId"] == call.environment_id
                    and (not workbook or job["source"] == workbook)
                    and (not space or self._space_of(job) == space)
                    and not (skip_children and job.get("parentId"))]
            return json_response(200, _paged(jobs, size, number))

    def _space_of(self, job: Mapping[str, Any]) -> str | None:
        workbook = self.state.workbooks.get(str(job["source"]))
        return str(workbook["spaceId"]) if workbook is not None else None

    def get_job(self, call: _Call) -> Response:
        with self.state.lock:
            return json_response(200, {"data": self._visible(self.state.jobs, call.params["jobId"], "Job", call)})

    def create_job(self, call: _Call) -> Response:
        body = _object_body(call)
        missing = [name for name in ("type", "operation", "source") if not isinstance(body.get(name), str)]
        if missing:
            raise _Failure(400, f"{', '.join(missing)} must be given as strings")
        with self.state.lock:
            if body["type"] == "workbook":
                self._visible(self.state.workbooks, body["source"], "Workbook", call)
            ready = body.get("trigger") != "manual" and body.get("status") in (None, "ready")
            job = self.state.add_job(body["source"], body["operation"], type=body["type"],
                                     status="ready" if ready else str(body.get("status") or "created"),
                                     mode=str(body.get("mode") or "foreground"), environment_id=call.environment_id,
                                     info=body.get("info"), input=body.get("input") or {})
        return json_response(200, {"data": job})

    def ack_job(self, call: _Call) -> Response:
        body = _object_body(call)
        progress = body.get("progress")
        if progress is not None and (isinstance(progress, bool) or not isinstance(progress, int)
                                     or not 0 <= progress <= 100):
            raise _Failure(400, "progress must be a whole number between 0 and 100")
        with self.state.lock:
            job_id = self._job(call)
            job = self.state.acknowledge(job_id, info=_text(body, "info"), progress=progress,
                                         estimated_completion_at=_text(body, "estimatedCompletionAt"))
        return json_response(200, {"data": job})

    def complete_job(self, call: _Call) -> Response:
        return self._finish(call, self.state.complete)

    def fail_job(self, call: _Call) -> Response:
        return self._finish(call, self.state.fail)

    def _finish(self, call: _Call, finish: Callable[..., dict[str, Any]]) -> Response:
        body = _object_body(call)
        outcome = body.get("outcome")
        if outcome is not None and not isinstance(outcome, dict):
            raise _Failure(400, "outcome must be an object")
        with self.state.lock:
            job = finish(self._job(call), outcome, _text(body, "info"))
        return json_response(200, {"data": job})

    def cancel_job(self, call: _Call) -> Response:
        body = _object_body(call)
        with self.state.lock:
            job = self.state.cancel(self._job(call), _text(body, "info"))
        return json_response(200, {"data": job})

    def _job(self, call: _Call) -> str:
        return str(self._visible(self.state.jobs, call.params["jobId"], "Job", call)["id"])

    # -- events --------------------------------------------------------------------------------------------------

    def list_events(self, call: _Call) -> Response:
        self._same_environment(call)
        size, number = self._page(call, "list_events")
        since = _since(call.query.get("since"))
        topic, domain, space = call.query.get("topic"), call.query.get("domain"), call.query.get("spaceId")
        acknowledged = _bool(call.query, "includeAcknowledged")
        with self.state.lock:
            events = [
                event for event in self.state.event_list
                if event["context"].get("environmentId") == call.environment_id
                and (not topic or event["topic"] == topic) and (not domain or event["domain"] == domain)
                and (not space or event["context"].get("spaceId") == space)
                and (acknowledged or event["acknowledgedAt"] is None)
                and (since is None or parse_time(event["createdAt"]) >= since)
            ]
            return json_response(200, {"data": events[(number - 1) * size: number * size]})


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _Failure(400, f"{name} must be a string")
    return value


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise _Failure(400, "since must be an ISO-8601 date and time") from None


def _records_response(head: dict[str, Any], texts: list[str]) -> Response:
    """``{"data": head}`` with the records given as their JSON texts (the same answer as encoding them whole)."""
    before, _, after = json.dumps({"data": head}, ensure_ascii=False, separators=(",", ":")).partition(
        '"records":null')
    body = f'{before}"records":[{",".join(texts)}]{after}'
    try:
        return Response(200, body.encode("utf-8"), JSON_CONTENT_TYPE)
    except UnicodeEncodeError:  # a lone surrogate: as `dump_json` sends it
        return json_response(200, {"data": {**head, "records": [json.loads(text) for text in texts]}})


def _without_messages(item: Record) -> Record:
    """The record as the API lists it without ``includeMessages``: its cells without ``messages``."""
    values = {key: {name: part for name, part in value.items() if name != "messages"}
              for key, value in item["values"].items()}
    return {**item, "values": values}
