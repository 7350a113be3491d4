"""The GraphQL executor, called directly."""

from __future__ import annotations

import pytest

from flatfile_relay_devkit.emulator import State
from flatfile_relay_devkit.emulator.graphql import execute

GET_BATCH = "query GetBatch($batchId: UUID!) { getBatch(batchId: $batchId) { id status } }"
ROWS = """query Rows($batchId: UUID, $skip: Int, $limit: Int!, $status: String) {
  getFinalDatabaseView(batchId: $batchId, skip: $skip, limit: $limit, status: $status) { rows totalRows }
}"""


@pytest.fixture(scope="module")
def state() -> State:
    return State.with_samples(7, "2021-03-08T00:00:00Z")


def test_get_batch_returns_the_selected_fields(state: State) -> None:
    batch_id = state.sample_id("in_progress")
    assert execute(state, GET_BATCH, {"batchId": batch_id}) == {
        "data": {"getBatch": {"id": batch_id, "status": None}}
    }


def test_get_batch_with_a_literal_argument_alias_and_comment(state: State) -> None:
    batch_id = state.sample_id("big")
    query = f'# comment\n{{ b: getBatch(batchId: "{batch_id}") {{ status countRows }} }}'
    assert execute(state, query) == {"data": {"b": {"status": "submitted", "countRows": 2500}}}


def test_unknown_and_foreign_batches_are_null_with_an_error(state: State) -> None:
    for batch_id in ("00000000-0000-4000-8000-000000000000", state.sample_id("foreign")):
        result = execute(state, GET_BATCH, {"batchId": batch_id})
        assert result["data"] == {"getBatch": None}
        assert result["errors"][0]["path"] == ["getBatch"]


def test_final_view_pages_with_skip_and_limit(state: State) -> None:
    batch_id = state.sample_id("medium")
    first = execute(state, ROWS, {"batchId": batch_id, "skip": 0, "limit": 100})["data"][
        "getFinalDatabaseView"
    ]
    last = execute(state, ROWS, {"batchId": batch_id, "skip": 200, "limit": 100})["data"][
        "getFinalDatabaseView"
    ]
    assert first["totalRows"] == last["totalRows"] == 250
    assert len(first["rows"]) == 100
    assert len(last["rows"]) == 50
    row = first["rows"][0]
    assert set(row) == {"id", "valid", "status", "data", "info"}
    assert isinstance(row["id"], int)
    assert row["data"] == state.rows(batch_id)[0]["mapped"]


@pytest.mark.parametrize("status", ["review", "accepted", "dismissed"])
def test_final_view_filters_by_status(state: State, status: str) -> None:
    batch_id = state.sample_id("nasty")
    view = execute(state, ROWS, {"batchId": batch_id, "limit": 1000, "status": status})["data"]
    rows = view["getFinalDatabaseView"]["rows"]
    assert rows
    assert {row["status"] for row in rows} == {status}
    assert view["getFinalDatabaseView"]["totalRows"] == len(rows)
    if status == "review":
        assert all(row["valid"] is False and row["info"] for row in rows)


def test_final_view_without_status_returns_every_row(state: State) -> None:
    batch_id = state.sample_id("nasty")
    view = execute(state, ROWS, {"batchId": batch_id, "limit": 1000})["data"]["getFinalDatabaseView"]
    assert view["totalRows"] == len(state.rows(batch_id))


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (ROWS, {"batchId": "00000000-0000-4000-8000-000000000000"}, 'Argument "limit"'),
        (ROWS, {"batchId": "not-a-uuid", "limit": 1}, "UUID"),
        (ROWS, {"batchId": "00000000-0000-4000-8000-000000000000", "limit": 1, "status": "x"}, "status"),
        ("{ listBatches { id } }", {}, 'Cannot query field "listBatches"'),
        ("mutation { getBatch(batchId: 1) { id } }", {}, "Mutations are not supported"),
        ('{ getBatch(batchId: "BIG") { nope } }', {}, 'Cannot query field "nope" on type "Batch"'),
    ],
)
def test_errors(state: State, query: str, variables: dict[str, object], message: str) -> None:
    result = execute(state, query.replace("BIG", state.sample_id("big")), variables)
    assert result["data"] is None or "errors" in result
    assert message in result["errors"][0]["message"]
