"""POST /graphql: both operations, Bearer-only auth, errors."""

from __future__ import annotations

from typing import Any

import requests

from flatfile_relay_devkit.emulator import Emulator

GET_BATCH = "query GetBatch($batchId: UUID!) { getBatch(batchId: $batchId) { id status } }"
ROWS = """query Rows($batchId: UUID, $skip: Int, $limit: Int!, $status: String) {
  getFinalDatabaseView(batchId: $batchId, skip: $skip, limit: $limit, status: $status) { rows totalRows }
}"""


def graphql(
    emu: Emulator, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> requests.Response:
    return requests.post(
        emu.url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=5
    )


def bearer(emu: Emulator) -> dict[str, str]:
    response = requests.post(
        emu.url + "/auth/access-key/exchange",
        json={
            "accessKeyId": emu.secret["accessKeyId"],
            "secretAccessKey": emu.secret["secretAccessKey"],
            "expiresIn": 600,
        },
        timeout=5,
    )
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def test_get_batch(emulator: Emulator) -> None:
    batch_id = emulator.samples["in_progress"]
    response = graphql(emulator, GET_BATCH, {"batchId": batch_id}, bearer(emulator))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"data": {"getBatch": {"id": batch_id, "status": None}}}


def test_final_database_view_pages_like_clients_do(emulator: Emulator) -> None:
    headers = bearer(emulator)
    batch_id = emulator.samples["big"]
    rows: list[dict[str, Any]] = []
    skip, total = 0, None
    while total is None or skip < total:
        view = graphql(emulator, ROWS, {"batchId": batch_id, "skip": skip, "limit": 1000}, headers).json()
        page = view["data"]["getFinalDatabaseView"]
        rows += page["rows"]
        total = page["totalRows"]
        skip += 1000
    assert total == 2500
    assert len(rows) == 2500
    assert [row["id"] for row in rows] == [int(row["id"]) for row in emulator.state.rows(batch_id)]
    assert {row["status"] for row in rows} == {"accepted", "review", "dismissed"}


def test_final_database_view_status_filter(emulator: Emulator) -> None:
    view = graphql(
        emulator,
        ROWS,
        {"batchId": emulator.samples["big"], "limit": 1000, "status": "review"},
        bearer(emulator),
    ).json()["data"]["getFinalDatabaseView"]
    assert view["totalRows"] == len(view["rows"]) > 0
    assert all(row["valid"] is False and row["info"][0]["level"] == "error" for row in view["rows"])


def test_api_key_or_no_token_is_a_graphql_unauthorized_error(emulator: Emulator) -> None:
    api_key = {"X-Api-Key": f"{emulator.secret['accessKeyId']}+{emulator.secret['secretAccessKey']}"}
    for headers in ({}, api_key, {"Authorization": "Bearer nope"}):
        response = graphql(emulator, GET_BATCH, {"batchId": emulator.samples["big"]}, headers)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["message"] == "Unauthorized"


def test_revoked_token_is_unauthorized(emulator: Emulator) -> None:
    headers = bearer(emulator)
    emulator.revoke_tokens()
    body = graphql(emulator, GET_BATCH, {"batchId": emulator.samples["big"]}, headers).json()
    assert body["errors"][0]["message"] == "Unauthorized"


def test_unknown_query_is_an_error(emulator: Emulator) -> None:
    body = graphql(emulator, "{ listBatches { id } }", {}, bearer(emulator)).json()
    assert body["data"] is None
    assert "listBatches" in body["errors"][0]["message"]


def test_malformed_requests_are_400(emulator: Emulator) -> None:
    headers = bearer(emulator)
    assert requests.post(emulator.url + "/graphql", data=b"{", headers=headers, timeout=5).status_code == 400
    assert (
        requests.post(
            emulator.url + "/graphql", json={"variables": {}}, headers=headers, timeout=5
        ).status_code
        == 400
    )
