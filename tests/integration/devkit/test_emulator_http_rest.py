"""REST list, batch and rows endpoints: envelope, paging knobs, order, filters, errors, determinism."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

import pytest
import requests
from support.shapes import ROW_KEYS

from flatfile_relay_devkit.emulator import SAMPLE_LABELS, Emulator

EXTRAS = {"__endUser__", "__has_endUser__", "__schema__", "__embed__"}
PAGINATION = {
    "totalCount",
    "limit",
    "offset",
    "onPage",
    "pageCount",
    "currentPage",
    "nextOffset",
    "previousOffset",
}
VISIBLE = len(SAMPLE_LABELS) - 1  # the foreign license's import is never listed
ANCHOR = "2021-03-08T00:00:00.000Z"


def get(emu: Emulator, path: str, **params: Any) -> requests.Response:
    headers = {"X-Api-Key": f"{emu.secret['accessKeyId']}+{emu.secret['secretAccessKey']}"}
    return requests.get(emu.url + path, params=params, headers=headers, timeout=10)


def batches(emu: Emulator, **params: Any) -> requests.Response:
    return get(emu, "/rest/batches", licenseKey=emu.secret["licenseKey"], **params)


def test_list_envelope_and_default_take(emulator: Emulator) -> None:
    emulator.set(default_take=5)
    response = batches(emulator)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"pagination", "data"}
    assert set(body["pagination"]) == PAGINATION
    assert body["pagination"] == {
        "totalCount": VISIBLE,
        "limit": 5,
        "offset": 0,
        "onPage": 5,
        "pageCount": 3,
        "currentPage": 1,
        "nextOffset": 5,
        "previousOffset": None,
    }
    assert all(EXTRAS.isdisjoint(item) for item in body["data"])


def test_paging_walks_every_batch_once_and_ends_with_null_next_offset(emulator: Emulator) -> None:
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = batches(emulator, skip=offset, take=4).json()
        seen += [item["id"] for item in page["data"]]
        offset = page["pagination"]["nextOffset"]
        pages += 1
    assert pages == 4
    assert len(seen) == len(set(seen)) == VISIBLE
    assert emulator.samples["foreign"] not in seen
    last = batches(emulator, skip=12, take=4).json()["pagination"]
    assert last["onPage"] == 1
    assert last["previousOffset"] == 8
    assert last["currentPage"] == 4


def test_take_is_silently_capped(emulator: Emulator) -> None:
    emulator.set(max_take=3)
    page = batches(emulator, take=1000).json()
    assert page["pagination"]["limit"] == 3
    assert len(page["data"]) == 3
    rows = get(emulator, f"/rest/batch/{emulator.samples['big']}/rows", take=5000).json()
    assert rows["pagination"]["limit"] == 3
    assert len(rows["data"]) == 3


def test_rows_capped_at_the_default_max_take_of_1000(emulator: Emulator) -> None:
    rows = get(emulator, f"/rest/batch/{emulator.samples['big']}/rows", take=5000).json()
    assert rows["pagination"]["totalCount"] == 2500
    assert len(rows["data"]) == 1000
    assert rows["pagination"]["nextOffset"] == 1000


@pytest.mark.parametrize(
    "params",
    [{"take": "x"}, {"take": 0}, {"skip": -1}, {"skip": "1.5"}],
)
def test_bad_paging_parameters_are_400(emulator: Emulator, params: dict[str, Any]) -> None:
    response = batches(emulator, **params)
    assert response.status_code == 400
    assert isinstance(response.json()["message"], list)


def test_license_key_missing_is_400_and_foreign_is_403(emulator: Emulator) -> None:
    missing = get(emulator, "/rest/batches")
    assert missing.status_code == 400
    assert missing.json()["error"] == "Bad Request"
    foreign = emulator.state.account.foreign_license_key
    for key in (foreign, "00000000-0000-4000-8000-000000000000", "junk"):
        response = get(emulator, "/rest/batches", licenseKey=key)
        assert response.status_code == 403
        assert response.json()["statusCode"] == 403


def test_orders(emulator: Emulator) -> None:
    def created(order: str) -> list[tuple[str, str]]:
        emulator.set(order=order)
        return [(item["createdAt"], item["id"]) for item in batches(emulator, take=100).json()["data"]]

    newest, oldest = created("newest"), created("oldest")
    assert newest == sorted(newest, reverse=True)
    assert oldest == sorted(oldest)
    assert set(newest) == set(oldest)
    shuffles = [created("random") for _ in range(4)]
    assert all(set(shuffle) == set(newest) for shuffle in shuffles)
    assert len({tuple(shuffle) for shuffle in shuffles}) > 1


def test_random_order_is_reproducible_for_a_seed(emulator_factory: Callable[..., Emulator]) -> None:
    one, other = (
        emulator_factory(order="random", anchor=ANCHOR),
        emulator_factory(order="random", anchor=ANCHOR),
    )
    assert [batches(one).json() for _ in range(3)] == [batches(other).json() for _ in range(3)]


def test_new_batches_appear_first_with_newest_order(emulator: Emulator) -> None:
    added = emulator.state.add_batch("submitted", [{"sku": "X"}])
    assert batches(emulator, take=1).json()["data"][0]["id"] == added["id"]
    assert batches(emulator).json()["pagination"]["totalCount"] == VISIBLE + 1


def test_filters(emulator: Emulator) -> None:
    workspace2 = emulator.state.sample("workspace2")
    by_workspace = batches(emulator, workspaceId=workspace2["workspaceId"]).json()["data"]
    assert [item["id"] for item in by_workspace] == [workspace2["id"]]
    single = emulator.state.sample("single")
    by_user = batches(emulator, endUserId=single["endUserId"]).json()["data"]
    assert [item["id"] for item in by_user] == [single["id"]]
    searched = batches(emulator, search="NÄSTY").json()["data"]
    assert [item["id"] for item in searched] == [emulator.samples["nasty"]]
    assert batches(emulator, search="no-such-file").json()["pagination"]["totalCount"] == 0


def test_single_batch_has_every_documented_field_and_the_extras(emulator: Emulator) -> None:
    body = get(emulator, f"/rest/batch/{emulator.samples['nasty']}").json()
    documented = [
        "id",
        "licenseId",
        "teamId",
        "environmentId",
        "workspaceId",
        "schemaId",
        "embedId",
        "endUserId",
        "filename",
        "source",
        "memo",
        "validatedIn",
        "originalFile",
        "manual",
        "managed",
        "countRows",
        "countRowsInvalid",
        "countRowsAccepted",
        "countColumns",
        "countColumnsMatched",
        "headersRaw",
        "headersMatched",
        "status",
        "type",
        "targetSchema",
        "parsingConfig",
        "importedFromUrl",
        "headerHash",
        "failureReason",
        "matchedAt",
        "submittedAt",
        "failedAt",
        "handledAt",
        "legacySettingsId",
        "legacyWebhookUrl",
        "devMode",
        "deleted",
        "createdAt",
        "updatedAt",
    ]
    assert set(documented) | EXTRAS == set(body)
    assert body["__has_endUser__"] is True
    assert body["__endUser__"]["id"] == body["endUserId"]
    assert body["headersRaw"][0] == {"index": 0, "letter": "A", "value": "SKU"}
    assert body["headersMatched"][0] == {"index": 0, "letter": "A", "matched_key": "sku"}
    assert "\n" in body["memo"]


def test_failed_batch_has_a_failure_reason(emulator: Emulator) -> None:
    body = get(emulator, f"/rest/batch/{emulator.samples['failed']}").json()
    assert body["status"] == "failed"
    assert body["failureReason"]
    assert body["failedAt"]


@pytest.mark.parametrize("suffix", ["", "/rows"])
def test_unknown_foreign_and_malformed_batch_ids(emulator: Emulator, suffix: str) -> None:
    for batch_id in ("00000000-0000-4000-8000-000000000000", emulator.samples["foreign"]):
        response = get(emulator, f"/rest/batch/{batch_id}{suffix}")
        assert response.status_code == 404
        assert response.json() == {"statusCode": 404, "message": "Batch not found", "error": "Not Found"}
    malformed = get(emulator, f"/rest/batch/not-a-uuid{suffix}")
    assert malformed.status_code == 400
    assert malformed.json()["statusCode"] == 400


def test_rows_in_sequence_order_with_the_row_shape(emulator: Emulator) -> None:
    batch_id = emulator.samples["medium"]
    first = get(emulator, f"/rest/batch/{batch_id}/rows", take=100).json()
    second = get(emulator, f"/rest/batch/{batch_id}/rows", skip=100, take=200).json()
    rows = first["data"] + second["data"]
    assert [row["sequence"] for row in rows] == list(range(250))
    assert second["pagination"]["nextOffset"] is None
    assert second["pagination"]["onPage"] == 150
    assert set(rows[0]) == ROW_KEYS
    assert all(row["batchId"] == batch_id and row["id"].isdigit() for row in rows)


def test_rows_valid_and_deleted_filters(emulator: Emulator) -> None:
    path = f"/rest/batch/{emulator.samples['nasty']}/rows"
    everything = get(emulator, path, take=1000).json()["data"]

    def ids(**params: str) -> list[str]:
        return [row["id"] for row in get(emulator, path, take=1000, **params).json()["data"]]

    assert ids(valid="false") == [r["id"] for r in everything if not r["valid"]] != []
    assert ids(valid="true") == [r["id"] for r in everything if r["valid"]]
    assert ids(deleted="true") == [r["id"] for r in everything if r["deleted"]] != []
    assert ids(valid="false", deleted="false") == [
        r["id"] for r in everything if not r["valid"] and not r["deleted"]
    ]
    assert get(emulator, path, valid="maybe").status_code == 400


def test_empty_batch_rows(emulator: Emulator) -> None:
    body = get(emulator, f"/rest/batch/{emulator.samples['empty']}/rows").json()
    assert body["data"] == []
    assert body["pagination"]["totalCount"] == 0
    assert body["pagination"]["nextOffset"] is None


def test_in_progress_batch_can_be_submitted_later(emulator: Emulator) -> None:
    batch_id = emulator.samples["in_progress"]
    assert get(emulator, f"/rest/batch/{batch_id}").json()["status"] is None
    emulator.state.set_status(batch_id, "submitted")
    body = get(emulator, f"/rest/batch/{batch_id}").json()
    assert body["status"] == "submitted"
    assert body["submittedAt"] is not None


def test_nasty_values_round_trip_over_http(emulator: Emulator) -> None:
    batch_id = emulator.samples["nasty"]
    response = get(emulator, f"/rest/batch/{batch_id}/rows", take=1000)
    assert response.json()["data"] == emulator.state.rows(batch_id)
    assert "🧪𝄞".encode() in response.content  # sent as UTF-8, not as \\u escapes
    assert max(len(str(row["mapped"].get("notes"))) for row in response.json()["data"]) >= 50_000


def test_unknown_routes_and_methods_are_nest_404(emulator: Emulator) -> None:
    response = get(emulator, "/rest/nothing")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Cannot GET /rest/nothing", "error": "Not Found"}
    posted = requests.post(emulator.url + "/rest/batches", json={}, timeout=5)
    assert posted.status_code == 404
    assert posted.json()["message"] == "Cannot POST /rest/batches"


def test_trailing_slash_is_accepted(emulator: Emulator) -> None:
    assert get(emulator, "/rest/batches/", licenseKey=emulator.secret["licenseKey"]).status_code == 200


def test_keep_alive_serves_several_requests_on_one_connection(emulator: Emulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/health")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read() == b'{"status":"ok"}'
            assert response.getheader("Content-Length") == "15"
        assert connection.sock is not None
    finally:
        connection.close()


def test_latency_knob_delays_answers(emulator: Emulator) -> None:
    emulator.set(latency=0.3)
    response = requests.get(emulator.url + "/health", timeout=5)
    assert response.elapsed.total_seconds() >= 0.3
    emulator.set(latency=0)


def test_set_refuses_unknown_or_fixed_knobs(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="seed"):
        emulator.set(seed=8)
    with pytest.raises(ValueError, match="order"):
        emulator.set(order="sideways")


def test_same_seed_serves_identical_data(emulator_factory: Callable[..., Emulator]) -> None:
    one, other = emulator_factory(seed=11, anchor=ANCHOR), emulator_factory(seed=11, anchor=ANCHOR)
    assert one.secret == other.secret
    assert batches(one, take=100).json() == batches(other, take=100).json()
    for label in ("nasty", "big"):
        path = f"/rest/batch/{one.samples[label]}/rows"
        assert get(one, path, take=1000).content == get(other, path, take=1000).content


def test_request_log_records_method_path_query_status_and_auth(emulator: Emulator) -> None:
    emulator.clear_request_log()
    batches(emulator, take=2)
    requests.get(emulator.url + "/health", timeout=5)
    first, second = emulator.request_log
    assert (first.method, first.path, first.status, first.auth) == ("GET", "/rest/batches", 200, "api_key")
    assert first.query == {"licenseKey": emulator.secret["licenseKey"], "take": "2"}
    assert (second.path, second.auth, second.fault) == ("/health", None, None)
    assert emulator.errors == []


def test_the_list_envelope_matches_the_documented_example(emulator: Emulator) -> None:
    """flatfile-api.md's example: 137 batches in pages of 50."""
    state = emulator.state
    for _ in range(137 - len(state.batches)):
        state.add_batch("submitted")
    first = batches(emulator, skip=0, take=50).json()
    assert first["pagination"] == {"totalCount": 137, "limit": 50, "offset": 0, "onPage": 50, "pageCount": 3,
                                   "currentPage": 1, "nextOffset": 50, "previousOffset": None}
    last = batches(emulator, skip=100, take=50).json()
    assert last["pagination"] == {"totalCount": 137, "limit": 50, "offset": 100, "onPage": 37, "pageCount": 3,
                                  "currentPage": 3, "nextOffset": None, "previousOffset": 50}
    assert len(last["data"]) == 37
    ids = [b["id"] for page in range(0, 137, 50) for b in batches(emulator, skip=page, take=50).json()["data"]]
    assert sorted(ids) == sorted(state.batches)


def test_batch_ids_match_whatever_their_letter_case(emulator: Emulator) -> None:
    single = emulator.samples["single"]
    assert get(emulator, f"/rest/batch/{single.upper()}").json()["id"] == single
    rows = get(emulator, f"/rest/batch/{single}/rows").json()
    assert get(emulator, f"/rest/batch/{single.upper()}/rows").json() == rows
