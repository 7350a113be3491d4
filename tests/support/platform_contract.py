"""The calls the relay's Platform client makes, as the emulator's request log names them, and the check that each
has a case in the SDK contract test (tests/integration/platform/test_sdk_contract.py).

A call is (method, route template, the query's parameter names, the JSON body's top-level keys). The contract test
makes every call of `CONTRACT_CALLS` through the official SDK and checks that its request log shows exactly this
set; the client's integration tests check at teardown that every call the client sent is in it. So a new client
call (or a new parameter) without a contract case fails a test.
"""

from __future__ import annotations

from collections.abc import Iterable

from flatfile_relay_devkit.emulator import RequestRecord

Call = tuple[str, str, tuple[str, ...], tuple[str, ...]]

_JOBS_QUERY = ("environmentId", "excludeChildJobs", "pageNumber", "pageSize", "sortDirection")
_EVENTS_QUERY = ("environmentId", "includeAcknowledged", "pageNumber", "pageSize")
_RECORDS_QUERY = ("includeMessages", "pageNumber", "pageSize")

CONTRACT_CALLS: frozenset[Call] = frozenset({
    ("GET", "/v1/environments/{environmentId}", (), ()),
    ("GET", "/v1/jobs", _JOBS_QUERY, ()),
    ("GET", "/v1/jobs/{jobId}", (), ()),
    ("POST", "/v1/jobs/{jobId}/ack", (), ("info", "progress")),
    ("POST", "/v1/jobs/{jobId}/ack", (), ("progress",)),
    ("POST", "/v1/jobs/{jobId}/complete", (), ("outcome",)),
    ("POST", "/v1/jobs/{jobId}/complete", (), ("info", "outcome")),
    ("POST", "/v1/jobs/{jobId}/fail", (), ("outcome",)),
    ("POST", "/v1/jobs/{jobId}/fail", (), ("info", "outcome")),
    ("GET", "/v1/spaces/{spaceId}", (), ()),
    ("GET", "/v1/workbooks/{workbookId}", (), ()),
    ("GET", "/v1/sheets", ("workbookId",), ()),
    ("GET", "/v1/sheets/{sheetId}", (), ()),
    ("GET", "/v1/sheets/{sheetId}/counts", (), ()),
    ("GET", "/v1/sheets/{sheetId}/commits", (), ()),
    ("GET", "/v1/sheets/{sheetId}/commits", ("completed",), ()),
    ("POST", "/v1/sheets/{sheetId}/lock", (), ()),
    ("POST", "/v1/sheets/{sheetId}/unlock", (), ()),
    ("GET", "/v1/sheets/{sheetId}/records", tuple(sorted((*_RECORDS_QUERY, "includeLength"))), ()),
    ("GET", "/v1/sheets/{sheetId}/records", _RECORDS_QUERY, ()),
    ("GET", "/v1/events", _EVENTS_QUERY, ()),
    ("GET", "/v1/events", tuple(sorted((*_EVENTS_QUERY, "topic"))), ()),
    ("GET", "/v1/events", tuple(sorted((*_EVENTS_QUERY, "since"))), ()),
    ("GET", "/v1/events", tuple(sorted((*_EVENTS_QUERY, "since", "topic"))), ()),
})


def platform_calls(records: Iterable[RequestRecord]) -> set[Call]:
    """The Platform calls among logged requests (legacy ones have no route)."""
    return {(record.method, record.route, tuple(sorted(record.query)), record.body_keys)
            for record in records if record.route is not None}


def uncovered(records: Iterable[RequestRecord]) -> set[Call]:
    """The Platform calls among `records` that the SDK contract test does not make."""
    return platform_calls(records) - CONTRACT_CALLS
