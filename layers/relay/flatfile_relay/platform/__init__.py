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

#: the names that live in the modules built on `requests`, served on first use (PEP 562)
_CLIENT_NAMES = frozenset({"MAX_RECORD_PAGE_SIZE", "PlatformClient", "record_pages"})
#: the models' names, served on first use too (a legacy export needs none of them)
_MODEL_NAMES = frozenset({"ENDED_STATUSES",
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
                          "Workbook"})


def __getattr__(name: str) -> Any:
    """The models, `PlatformClient` and the other names of the HTTP side, imported when first asked for."""
    if name in _MODEL_NAMES:
        from flatfile_relay.platform import models  # deferred: see DEFERRED_IMPORTS

        value = vars(models)[name]
        globals()[name] = value
        return value
    if name not in _CLIENT_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from flatfile_relay.platform import client, records  # deferred: see DEFERRED_IMPORTS

    for module in (client, records):
        if name in vars(module):
            value = vars(module)[name]
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # pragma: no cover - names above


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
