"""The Platform API of the emulator, request by request (no sockets): auth, scoping, paging, records, jobs, events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flatfile_relay_devkit.emulator.config import EmulatorConfig
from flatfile_relay_devkit.emulator.platform import ROUTES, PlatformApi, PlatformState, route_template
from flatfile_relay_devkit.emulator.responses import Request

ANCHOR = "2024-03-08T00:00:00.000Z"


class Client:
    def __init__(self, **knobs: Any) -> None:
        self.state = PlatformState.with_samples(7, ANCHOR)
        self.api = PlatformApi(self.state, lambda: EmulatorConfig(**knobs))
        self.key = self.state.account.secret_key

    def __call__(self, method: str, path: str, body: Any = None, key: str | None = None,
                 **query: Any) -> tuple[int, Any]:
        headers = {"authorization": f"Bearer {self.key if key is None else key}"}
        raw = b"" if body is None else json.dumps(body).encode()
        params = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in query.items()}
        response = self.api.handle(Request(method, "/v1" + path, params, headers, raw))
        return response.status, json.loads(response.body)

    def id(self, label: str) -> str:
        return self.state.sample_id(label)


@pytest.fixture
def call() -> Client:
    return Client()


def test_every_route_names_its_template() -> None:
    for method, template, _ in ROUTES:
        path = template.replace("{", "x_").replace("}", "")
        assert route_template(method, path) == template
    assert route_template("GET", "/v1/nope") is None
    assert route_template("DELETE", "/v1/jobs/us_jb_1") is None


@pytest.mark.parametrize("key", ["", "sk_wrong", "Bearer"])
def test_a_wrong_or_missing_key_is_401_in_the_platform_envelope(call: Client, key: str) -> None:
    unauthorized = {"errors": [{"message": "Unauthorized: the secret key is not valid"}]}
    assert call("GET", "/jobs", key=key) == (401, unauthorized)


def test_another_environments_resources_are_unknown_and_naming_it_is_forbidden(call: Client) -> None:
    status, body = call("GET", f"/workbooks/{call.id('foreign_workbook')}")
    assert (status, body["errors"][0]["message"]) == (404, f"Workbook {call.id('foreign_workbook')} not found")
    assert call("GET", f"/jobs/{call.id('foreign_job')}")[0] == 404
    foreign = call.state.account.foreign_environment_id
    assert call("GET", "/jobs", environmentId=foreign)[0] == 403
    assert call("GET", "/events", environmentId=foreign)[0] == 403
    status, body = call("GET", f"/workbooks/{call.id('foreign_workbook')}", key=call.state.account.foreign_secret_key)
    assert status == 200
    assert call("GET", "/nothing/here") == (404, {"errors": [{"message": "Cannot GET /v1/nothing/here"}]})


def test_environments_and_spaces(call: Client) -> None:
    mine = call.state.account.environment_id
    status, body = call("GET", "/environments")
    assert status == 200
    assert [env["id"] for env in body["data"]] == [mine]
    assert body["pagination"] == {"currentPage": 1, "pageCount": 1, "totalCount": 1}
    assert call("GET", f"/environments/{mine}")[1]["data"]["isProd"] is True
    status, body = call("GET", "/spaces", environmentId=mine, pageSize=2)
    assert (len(body["data"]), body["pagination"]["totalCount"]) == (2, 3)
    space = call("GET", f"/spaces/{call.id('nordic')}")[1]["data"]
    assert space["metadata"]["userInfo"]["companyName"] == "Nordic Tools AS"


def test_a_workbook_lists_its_sheets_in_order_with_fields_and_actions(call: Client) -> None:
    workbook = call("GET", f"/workbooks/{call.id('customers_orders')}")[1]["data"]
    assert [sheet["config"]["slug"] for sheet in workbook["sheets"]] == ["customers", "orders"]
    assert workbook["sheets"][1]["config"]["fields"][2] == {"key": "amount", "type": "number", "label": "Amount"}
    assert [action["operation"] for action in workbook["actions"]] == ["submitActionFg", "downloadCsv"]
    listed = call("GET", "/sheets", workbookId=call.id("customers_orders"))[1]["data"]
    assert [sheet["id"] for sheet in listed] == [sheet["id"] for sheet in workbook["sheets"]]
    assert call("GET", "/workbooks", spaceId=call.id("acme"))[1]["data"][0]["id"] == call.id("customers_orders")
    counts = call("GET", f"/sheets/{call.id('products_sheet')}/counts")[1]
    assert counts == {"data": {"counts": {"total": 25, "valid": 19, "error": 6}, "success": True}}


def test_record_pages_are_1_based_and_capped_by_the_knob() -> None:
    call = Client(platform_max_page_size=10)
    sheet = call.id("products_sheet")
    first = call("GET", f"/sheets/{sheet}/records", pageSize=100)[1]["data"]
    third = call("GET", f"/sheets/{sheet}/records", pageSize=100, pageNumber=3)[1]["data"]
    assert (len(first["records"]), len(third["records"])) == (10, 5)
    assert third["records"][-1]["id"] == call.state.records_of(sheet)[-1]["id"]
    assert first["success"] is True
    assert first["commitId"] == call.state.latest_commit(sheet)
    assert "counts" not in first
    assert call("GET", f"/sheets/{sheet}/records", pageNumber=0)[0] == 400


def test_messages_come_only_with_include_messages_and_counts_with_include_length(call: Client) -> None:
    sheet = call.id("products_sheet")
    bare = call("GET", f"/sheets/{sheet}/records")[1]["data"]
    full = call("GET", f"/sheets/{sheet}/records", includeMessages=True, includeLength=True)[1]["data"]
    assert all("messages" not in cell for record in bare["records"] for cell in record["values"].values())
    assert all("messages" in cell for record in full["records"] for cell in record["values"].values())
    assert full["counts"] == {"total": 25, "valid": 19, "error": 6}
    valid = call("GET", f"/sheets/{sheet}/records", filter="error")[1]["data"]["records"]
    assert len(valid) == 6
    assert all(not record["valid"] for record in valid)


@pytest.mark.parametrize("param", ["commitId", "sortField", "q", "ids"])
def test_unsupported_record_parameters_are_refused_not_ignored(call: Client, param: str) -> None:
    status, body = call("GET", f"/sheets/{call.id('orders')}/records", **{param: "x"})
    assert (status, body["errors"][0]["message"]) == (400, f"The emulator does not support {param} on records")


def test_put_records_edits_cells_as_the_key_and_returns_the_commit(call: Client) -> None:
    sheet = call.id("customers")
    record = call.state.records_of(sheet, 0, 1)[0]["id"]
    status, body = call("PUT", f"/sheets/{sheet}/records", [{"id": record, "values": {"name": {"value": "Ed"}}}])
    assert status == 200
    assert body["data"]["versionId"] == call.state.latest_commit(sheet)
    assert call.state.records_of(sheet, 0, 1)[0]["values"]["name"]["value"] == "Ed"
    assert call("PUT", f"/sheets/{sheet}/records", [{"id": "us_rc_nope", "values": {}}])[0] == 400
    assert call("PUT", f"/sheets/{sheet}/records", {"id": record})[0] == 400
    status, body = call("POST", f"/sheets/{sheet}/records", [{"name": {"value": "Added"}}])
    assert (status, body["data"]["records"][0]["values"]["name"]["value"]) == (200, "Added")


def test_lock_and_unlock(call: Client) -> None:
    sheet = call.id("orders")
    assert call("POST", f"/sheets/{sheet}/lock") == (200, {"data": {"success": True}})
    assert call("GET", f"/sheets/{sheet}")[1]["data"]["lockedBy"] == call.state.account.user_id
    assert call("POST", f"/sheets/{sheet}/unlock") == (200, {"data": {"success": True}})
    status, body = call("POST", f"/sheets/{sheet}/unlock")
    assert (status, body["errors"][0]["message"]) == (400, f"Sheet {sheet} is not locked")
    assert len(call("GET", f"/sheets/{sheet}/commits")[1]["data"]) == 1


def test_jobs_page_by_created_at_in_both_directions(call: Client) -> None:
    newest = call.state.submit(call.id("products"))["id"]
    env = call.state.account.environment_id
    body = call("GET", "/jobs", environmentId=env, pageSize=3, pageNumber=1)[1]
    assert body["pagination"] == {"currentPage": 1, "pageCount": 2, "totalCount": 4}
    assert body["data"][0]["id"] == newest  # desc by default
    ascending = call("GET", "/jobs", environmentId=env, sortDirection="asc", pageSize=3, pageNumber=2)[1]
    assert [job["id"] for job in ascending["data"]] == [newest]
    only = call("GET", "/jobs", workbookId=call.id("products"))[1]["data"]
    assert {job["source"] for job in only} == {call.id("products")}
    assert call("GET", "/jobs", sortDirection="sideways")[0] == 400


def test_the_listener_side_of_a_job_over_the_api(call: Client) -> None:
    status, created = call("POST", "/jobs", {"type": "workbook", "operation": "submitActionFg",
                                             "source": call.id("products")})
    job = created["data"]["id"]
    assert (status, created["data"]["status"]) == (200, "ready")
    assert call("POST", f"/jobs/{job}/ack", {"progress": 101})[0] == 400
    assert call("POST", f"/jobs/{job}/ack", {"info": "Exporting", "progress": 10})[1]["data"]["status"] == "executing"
    assert call("POST", f"/jobs/{job}/ack")[1]["data"]["progress"] == 10  # an empty body is fine
    done = call("POST", f"/jobs/{job}/complete", {"outcome": {"message": "Exported"}})[1]["data"]
    assert (done["status"], done["outcome"]) == ("complete", {"message": "Exported"})
    status, body = call("POST", f"/jobs/{job}/complete", {"outcome": {"message": "Exported"}})
    assert (status, body) == (400, {"errors": [{"message": f"Job {job} is already complete"}]})
    assert call("POST", f"/jobs/{job}/fail", {"outcome": "no"})[0] == 400
    assert call("POST", "/jobs", {"type": "workbook"})[0] == 400


def test_events_filter_by_topic_and_since_inclusive(call: Client) -> None:
    job = call.state.submit(call.id("products"))["id"]
    ready = call("GET", "/events", topic="job:ready")[1]["data"]
    assert ready[-1]["context"]["jobId"] == job
    since = ready[-1]["createdAt"]
    later = call("GET", "/events", topic="job:ready", since=since)[1]["data"]
    assert [event["id"] for event in later] == [ready[-1]["id"]]
    assert call("GET", "/events", since="yesterday")[0] == 400
    page = call("GET", "/events", pageSize=2, pageNumber=2)[1]["data"]
    assert len(page) == 2
