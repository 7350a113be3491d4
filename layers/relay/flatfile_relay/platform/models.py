"""What the Platform client answers: typed views of the API's objects, each keeping the object as it came (`raw`).

Only the fields the relay decides on are typed (and checked: a missing or mistyped one is a `ContractError`);
`raw` keeps everything else, untouched, for the manifest (`{"job": …, "workbook": …}` as the API returned them).

Example:
    >>> job = Job.parse({"id": "us_jb_1", "type": "workbook", "operation": "submitActionFg",
    ...                  "source": "us_wb_1", "status": "ready", "createdAt": "2024-03-01T10:00:00.000Z"})
    >>> job.name, job.status, job.created_at.isoformat()
    ('workbook:submitActionFg', 'ready', '2024-03-01T10:00:00+00:00')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flatfile_relay.flatfile.errors import ContractError
from flatfile_relay.json_types import json_type
from flatfile_relay.timestamps import parse_timestamp_or_none

__all__ = [
    "ENDED_STATUSES",
    "Change",
    "Commit",
    "Event",
    "EventPage",
    "Job",
    "JobChange",
    "JobPage",
    "RecordPage",
    "Sheet",
    "SheetCounts",
    "Space",
    "Workbook",
]

#: a job in one of these statuses has ended: nobody can acknowledge, complete or fail it any more
ENDED_STATUSES = frozenset({"complete", "failed", "canceled"})


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ContractError(f"Flatfile answered {what} with a JSON {json_type(value)} instead of an object.")
    return value


def _text(item: Mapping[str, Any], key: str, what: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ContractError(f"Flatfile answered {what} without a string `{key}` (got a JSON {json_type(value)}).")
    return value


def _optional_text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def _count(item: Mapping[str, Any], key: str, what: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContractError(f"Flatfile answered {what} without a whole number `{key}` (got a JSON {json_type(value)}).")
    return value


@dataclass(frozen=True)
class Job:
    """A job: `name` is `type:operation` (`workbook:submitActionFg`); `source` the workbook of a workbook job."""

    id: str
    type: str
    operation: str
    source: str
    status: str
    environment_id: str | None
    created_at: datetime | None
    info: str | None
    progress: int | None
    outcome_message: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any, what: str = "GET /jobs/{jobId}") -> Job:
        """The job of an API object; ContractError when a field the relay needs is missing or mistyped."""
        item = _object(value, what)
        progress = item.get("progress")
        outcome = item.get("outcome")
        message = outcome.get("message") if isinstance(outcome, dict) else None
        return cls(
            id=_text(item, "id", what), type=_text(item, "type", what), operation=_text(item, "operation", what),
            source=_text(item, "source", what), status=_text(item, "status", what),
            environment_id=_optional_text(item, "environmentId"),
            created_at=parse_timestamp_or_none(item.get("createdAt")), info=_optional_text(item, "info"),
            progress=progress if isinstance(progress, int) and not isinstance(progress, bool) else None,
            outcome_message=message if isinstance(message, str) else None, raw=item,
        )

    @property
    def name(self) -> str:
        """`type:operation`, the job name listeners filter on (`workbook:submitActionFg`)."""
        return f"{self.type}:{self.operation}"

    @property
    def ended(self) -> bool:
        """True once the job is complete, failed or canceled."""
        return self.status in ENDED_STATUSES


@dataclass(frozen=True)
class JobPage:
    """One page of `GET /jobs`.

    Attributes:
        jobs: the jobs on the page, in the order asked for (`sort_direction`).
        page_number: the 1-based page asked for.
        page_size: the `pageSize` asked for (the server may serve fewer).
        offset: how many jobs come before this page in the list: exact when the answer has `pagination` (a full
            page counts by its own length, the last page by `totalCount`), `(page_number - 1) * page_size` else.
        total_count: `pagination.totalCount`, None when the answer has no `pagination`.
        page_count: `pagination.pageCount`, None when absent.
        last: no page follows (`pageCount` reached, or an empty or, without `pagination`, a short page).
    """

    jobs: list[Job]
    page_number: int
    page_size: int
    offset: int
    total_count: int | None
    page_count: int | None
    last: bool


@dataclass(frozen=True)
class Sheet:
    """A sheet: `fields` are its configuration's fields (`{key, type, label, …}`) in their order."""

    id: str
    workbook_id: str
    name: str
    slug: str
    fields: tuple[dict[str, Any], ...]
    locked: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any, what: str = "GET /sheets/{sheetId}") -> Sheet:
        """The sheet of an API object; ContractError when a field the relay needs is missing or mistyped."""
        item = _object(value, what)
        config = _object(item.get("config"), f"{what} (its `config`)")
        fields = config.get("fields")
        if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("key"), str)
                                                   for f in fields):
            raise ContractError(f"Flatfile answered {what} without a list of fields with string keys.")
        slug = item.get("slug") if isinstance(item.get("slug"), str) else config.get("slug")
        if not isinstance(slug, str) or not slug:
            raise ContractError(f"Flatfile answered {what} without a string `slug`.")
        return cls(
            id=_text(item, "id", what), workbook_id=_text(item, "workbookId", what),
            name=_optional_text(item, "name") or _optional_text(config, "name") or slug, slug=slug,
            fields=tuple(fields), locked=item.get("lockedAt") is not None or item.get("lockedBy") is not None,
            raw=item,
        )


@dataclass(frozen=True)
class Workbook:
    """A workbook: its sheets in the workbook's order, and its actions (`operations`: their operations)."""

    id: str
    name: str | None
    space_id: str
    environment_id: str
    sheets: tuple[Sheet, ...]
    actions: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any, what: str = "GET /workbooks/{workbookId}") -> Workbook:
        """The workbook of an API object; ContractError when a field the relay needs is missing or mistyped."""
        item = _object(value, what)
        sheets = item.get("sheets") if item.get("sheets") is not None else []
        actions = item.get("actions") if item.get("actions") is not None else []
        if not isinstance(sheets, list) or not isinstance(actions, list):
            raise ContractError(f"Flatfile answered {what} with `sheets` or `actions` that are not lists.")
        return cls(
            id=_text(item, "id", what), name=_optional_text(item, "name"), space_id=_text(item, "spaceId", what),
            environment_id=_text(item, "environmentId", what),
            sheets=tuple(Sheet.parse(sheet, f"{what} (a sheet)") for sheet in sheets),
            actions=tuple(_object(action, f"{what} (an action)") for action in actions), raw=item,
        )

    @property
    def operations(self) -> frozenset[str]:
        """The operations of the workbook's actions (what its buttons create jobs for)."""
        return frozenset(str(action["operation"]) for action in self.actions if isinstance(action.get("operation"),
                                                                                           str))


@dataclass(frozen=True)
class SheetCounts:
    """`GET /sheets/{sheetId}/counts`: records in all, valid, with an error."""

    total: int
    valid: int
    error: int

    @classmethod
    def parse(cls, value: Any, what: str = "GET /sheets/{sheetId}/counts") -> SheetCounts:
        """The counts of an API object (`{"total", "valid", "error"}`)."""
        item = _object(value, what)
        return cls(_count(item, "total", what), _count(item, "valid", what), _count(item, "error", what))


@dataclass(frozen=True)
class RecordPage:
    """One page of `GET /sheets/{sheetId}/records`.

    Attributes:
        records: the records, in the order the server returned them.
        texts: each record's JSON text exactly as the server sent it (same order; numbers keep every digit), or
            None when the answer could not be split that way.
        page_number: the 1-based page.
        page_size: the page size the walk keeps to (what was asked, or what the server serves when it caps it).
        offset: the records before this page (`(page_number - 1) * page_size`).
        commit_id: the sheet's commit the page was read at (`commitId`), if the answer names one.
        total: the sheet's record count (`counts.total`), when the page was asked with it (the first page of a
            walk) and the server gave it.
    """

    records: list[dict[str, Any]]
    texts: list[str] | None
    page_number: int
    page_size: int
    offset: int
    commit_id: str | None = None
    total: int | None = None

    @property
    def last(self) -> bool:
        """True for a short page (fewer records than `page_size`): no page follows."""
        return len(self.records) < self.page_size

    @property
    def next_offset(self) -> int:
        """The records up to the end of this page: where the next page starts."""
        return self.offset + len(self.records)


@dataclass(frozen=True)
class Space:
    """A space: `user_info` is its `metadata.userInfo` (what an embed says about the end user), when set."""

    id: str
    environment_id: str | None
    name: str | None
    user_info: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any, what: str = "GET /spaces/{spaceId}") -> Space:
        """The space of an API object."""
        item = _object(value, what)
        metadata = item.get("metadata")
        user_info = metadata.get("userInfo") if isinstance(metadata, dict) else None
        return cls(id=_text(item, "id", what), environment_id=_optional_text(item, "environmentId"),
                   name=_optional_text(item, "name"), user_info=user_info if isinstance(user_info, dict) else None,
                   raw=item)


@dataclass(frozen=True)
class Commit:
    """A commit of a sheet (a set of record changes); `completed_at` is None while hooks still run on it."""

    id: str
    sheet_id: str | None
    created_at: datetime | None
    completed_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any, what: str = "GET /sheets/{sheetId}/commits") -> Commit:
        """The commit of an API object."""
        item = _object(value, what)
        return cls(id=_text(item, "id", what), sheet_id=_optional_text(item, "sheetId"),
                   created_at=parse_timestamp_or_none(item.get("createdAt")),
                   completed_at=parse_timestamp_or_none(item.get("completedAt")), raw=item)


@dataclass(frozen=True)
class Event:
    """An event: `context` holds the ids it is about (`environmentId`, `jobId`, `workbookId`, …)."""

    id: str
    topic: str
    created_at: datetime | None
    context: dict[str, Any]
    payload: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any, what: str = "GET /events") -> Event:
        """The event of an API object."""
        item = _object(value, what)
        context, payload = item.get("context"), item.get("payload")
        return cls(id=_text(item, "id", what), topic=_text(item, "topic", what),
                   created_at=parse_timestamp_or_none(item.get("createdAt")),
                   context=context if isinstance(context, dict) else {},
                   payload=payload if isinstance(payload, dict) else {}, raw=item)


@dataclass(frozen=True)
class EventPage:
    """One page of `GET /events` (oldest first in the emulator; the order is the server's)."""

    events: list[Event]
    page_number: int
    page_size: int

    @property
    def last(self) -> bool:
        """True for a short page: no page follows."""
        return len(self.events) < self.page_size


class Change(StrEnum):
    """What an acknowledge, complete or fail came to (see `JobChange`)."""

    #: the relay acknowledged the job now: ready → executing, with its info
    ACKNOWLEDGED = "acknowledged"
    #: the job was already executing with the relay's own info: an earlier acknowledgement of the relay's (its
    #: answer lost, or the invocation ended before it was recorded); nothing was sent
    RESUMED = "resumed"
    #: the job is executing with another info: another listener acknowledged it; leave it alone (nothing sent)
    TAKEN = "taken"
    #: the job is not ready yet (created, planning, scheduled, waiting): nothing was sent
    NOT_READY = "not_ready"
    #: the job had ended (complete, failed or canceled) before the relay touched it: nothing was sent
    ENDED = "ended"
    #: the relay's complete took effect (now, or on an attempt whose answer was lost: see `JobChange.resent`)
    COMPLETED = "completed"
    #: the relay's fail took effect (idem)
    FAILED = "failed"
    #: someone else ended the job first (another outcome, the other end, or canceled): the relay's was refused
    ENDED_BY_OTHER = "ended_by_other"


@dataclass(frozen=True)
class JobChange:
    """The result of `acknowledge`, `complete` or `fail`.

    Attributes:
        change: what happened (`Change`).
        job: the job as the last answer (or read) showed it.
        resent: True when the request was refused because an earlier attempt of it had already taken effect (its
            answer lost on the way back), which a read of the job confirmed: the change is the relay's own.
    """

    change: Change
    job: Job
    resent: bool = False
