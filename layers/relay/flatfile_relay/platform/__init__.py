"""A client of the Flatfile Platform (API v1): jobs and their listener's side, workbooks, sheets, records, events.

Beside the legacy client (`flatfile_relay.flatfile`), on the same `Transport` (deadline, retries, request counts,
redaction) and with the same errors (`flatfile_relay.flatfile.errors`). Its account comes at once; its models,
`PlatformClient` and `record_pages` when first asked for, so a function that only needs the account or the
models (the webhook) never imports `requests`, and one that only needs the account (a legacy export) never
builds the models.

Example:
    from flatfile_relay.deadline import Deadline
    from flatfile_relay.platform import Change, PlatformAccount, PlatformClient

    account = PlatformAccount(secret_key, environment_id)
    with PlatformClient("https://api.x.flatfile.com/v1", account, user_agent="my-tool/1.0") as client:
        page = client.list_jobs(Deadline.from_lambda_context(context))
        ready = [job for job in page.jobs if job.status == "ready" and job.name == "workbook:submitActionFg"]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flatfile_relay.platform.account import DEFAULT_BASE_URL, PlatformAccount

if TYPE_CHECKING:
    from flatfile_relay.platform.client import MAX_RECORD_PAGE_SIZE, PlatformClient
    from flatfile_relay.platform.models import (
        ENDED_STATUSES,
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
    from flatfile_relay.platform.records import record_pages

#: the names served on first use (PEP 562), by the module that holds them: the client and the record walk are
#: built on `requests`, and a legacy export needs none of the models
_LAZY = {
    **dict.fromkeys(("MAX_RECORD_PAGE_SIZE", "PlatformClient"), "client"),
    "record_pages": "records",
    **dict.fromkeys(("ENDED_STATUSES", "Change", "Commit", "Event", "EventPage", "Job", "JobChange", "JobPage",
                     "RecordPage", "Sheet", "SheetCounts", "Space", "Workbook"), "models"),
}


def __getattr__(name: str) -> Any:
    """The models, `PlatformClient` and the other names of the HTTP side, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)  # deferred: see DEFERRED_IMPORTS
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_BASE_URL",
    "ENDED_STATUSES",
    "MAX_RECORD_PAGE_SIZE",
    "Change",
    "Commit",
    "Event",
    "EventPage",
    "Job",
    "JobChange",
    "JobPage",
    "PlatformAccount",
    "PlatformClient",
    "RecordPage",
    "Sheet",
    "SheetCounts",
    "Space",
    "Workbook",
    "record_pages",
]
