"""Answers the emulator never gives, from a scripted server: refusals for other reasons, foreign 404s, redirects,
shapes the relay does not understand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.scripted_server import Answer, ScriptedServer

from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile.errors import BadRequestError, ConfigurationError, ContractError
from flatfile_relay.platform import Job, PlatformAccount, PlatformClient

JOB = {"id": "us_jb_1", "type": "workbook", "operation": "submitActionFg", "source": "us_wb_1",
       "status": "executing", "info": "Exporting to AWS", "createdAt": "2024-03-01T10:00:00.000Z"}


def answer(status: int, body: Any, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer({}) as running:  # one for the module: stopping one takes half a second
        yield running


@pytest.fixture
def scripted(server: ScriptedServer) -> Iterator[dict[str, Any]]:
    server.routes.clear()
    server.requests.clear()
    client = PlatformClient(server.url + "/v1", PlatformAccount("sk_" + "k" * 32, "us_env_1"), max_attempts=2,
                            backoff_base=0.01, backoff_cap=0.01)
    yield {"routes": server.routes, "client": client, "server": server}
    client.close()


def test_a_complete_refused_while_the_job_still_runs_is_a_bad_request(scripted: dict[str, Any]) -> None:
    scripted["routes"].update({
        "POST /v1/jobs/us_jb_1/complete": answer(400, {"errors": [{"message": "outcome.message is too long"}]}),
        "GET /v1/jobs/us_jb_1": answer(200, {"data": JOB}),
    })
    with pytest.raises(BadRequestError, match="while the job is executing") as caught:
        scripted["client"].complete("us_jb_1", "Exported", Deadline.after(10))
    assert caught.value.server_message == "outcome.message is too long"


def test_an_ack_refused_while_the_job_is_still_ready_is_a_bad_request(scripted: dict[str, Any]) -> None:
    ready = {**JOB, "status": "ready", "info": None}
    scripted["routes"].update({
        "POST /v1/jobs/us_jb_1/ack": answer(400, {"errors": [{"message": "nope"}]}),
        "GET /v1/jobs/us_jb_1": answer(200, {"data": ready}),
    })
    with pytest.raises(BadRequestError, match="still ready"):
        scripted["client"].acknowledge(Job.parse(ready), Deadline.after(10), info="Exporting to AWS")


def test_a_404_without_the_platforms_envelope_means_a_wrong_base_url(scripted: dict[str, Any]) -> None:
    scripted["routes"]["GET /v1/jobs/us_jb_1"] = answer(404, {"statusCode": 404, "message": "Cannot GET"})
    with pytest.raises(ConfigurationError, match="FLATFILE_PLATFORM_URL"):
        scripted["client"].get_job("us_jb_1", Deadline.after(10))


def test_a_redirect_is_not_followed(scripted: dict[str, Any]) -> None:
    scripted["routes"]["GET /v1/jobs"] = answer(302, {}, Location="https://elsewhere.example/v1/jobs")
    with pytest.raises(ConfigurationError, match=r"redirect to https://elsewhere\.example.*FLATFILE_PLATFORM_URL"):
        scripted["client"].list_jobs(Deadline.after(10))


@pytest.mark.parametrize(("route", "body", "match"), [
    ("GET /v1/jobs/us_jb_1", {"data": {**JOB, "id": "us_jb_2"}}, "another job"),
    ("GET /v1/jobs/us_jb_1", {"job": JOB}, "without `data`"),
    ("GET /v1/jobs", {"data": [JOB], "pagination": {"totalCount": "1", "pageCount": 1}}, "whole numbers"),
    ("GET /v1/sheets/us_sh_1/records", {"data": {"success": True}}, "without a `records` list"),
    ("GET /v1/sheets/us_sh_1/records", {"data": {"records": [{"values": {}}]}}, "no string `id`"),
    ("GET /v1/sheets/us_sh_1/counts", {"data": {"counts": {"total": 1}}}, "`valid`"),
    ("GET /v1/events", {"data": {"topic": "job:ready"}}, "without a `data` list"),
])
def test_an_answer_the_relay_does_not_understand_is_a_contract_error(scripted: dict[str, Any], route: str,
                                                                     body: Any, match: str) -> None:
    scripted["routes"][route] = answer(200, body)
    client: PlatformClient = scripted["client"]
    calls = {
        "GET /v1/jobs/us_jb_1": lambda: client.get_job("us_jb_1", Deadline.after(10)),
        "GET /v1/jobs": lambda: client.list_jobs(Deadline.after(10)),
        "GET /v1/sheets/us_sh_1/records": lambda: list(client.iter_record_pages("us_sh_1", Deadline.after(10))),
        "GET /v1/sheets/us_sh_1/counts": lambda: client.sheet_counts("us_sh_1", Deadline.after(10)),
        "GET /v1/events": lambda: client.list_events(Deadline.after(10)),
    }
    with pytest.raises(ContractError, match=match):
        calls[route]()


def test_an_unexpected_status_is_a_contract_error(scripted: dict[str, Any]) -> None:
    scripted["routes"]["GET /v1/sheets/us_sh_1"] = answer(418, {"errors": [{"message": "teapot"}]})
    with pytest.raises(ContractError, match=r"unexpected HTTP 418 \(teapot\)"):
        scripted["client"].get_sheet("us_sh_1", Deadline.after(10))


def test_a_job_list_without_pagination_pages_by_its_own_length(scripted: dict[str, Any]) -> None:
    scripted["routes"]["GET /v1/jobs"] = lambda query: answer(200, {"data": [JOB] * (2 if query["pageNumber"] == "1"
                                                                                     else 1)})
    client: PlatformClient = scripted["client"]
    first, second = (client.list_jobs(Deadline.after(10), page_number=n, page_size=2) for n in (1, 2))
    assert (first.offset, first.last, first.total_count) == (0, False, None)
    assert (second.offset, second.last) == (2, True)
    assert scripted["server"].requests[0].startswith("GET /v1/jobs?environmentId=us_env_1&pageSize=2&pageNumber=1")
