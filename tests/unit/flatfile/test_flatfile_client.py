"""FlatfileClient against a scripted HTTP layer: paging rules, error mapping, 401 handling, GraphQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from support.flatfile_fakes import Call, FakeFlatfile, Result

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import (
    Account,
    BadRequestError,
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    FlatfileClient,
    ForbiddenError,
    GraphQLError,
    LicenseForbiddenError,
    NotFoundError,
    TokenAuth,
)

NEVER = Deadline.never()
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
UNAUTHORIZED = (401, {"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"})


def client_for(fake: FakeFlatfile, **options: Any) -> FlatfileClient:
    options.setdefault("backoff_base", 0.001)
    return FlatfileClient(fake.base_url, Credentials.from_secret(fake.secret), session=fake.session, **options)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch(n: int, created: datetime | None = None, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": f"00000000-0000-4000-8000-{n:012d}", "status": "submitted"}
    if created is not None:
        item["createdAt"] = iso(created)
    item.update(fields)
    return item


def envelope(data: list[Any], total: int) -> dict[str, Any]:
    return {"pagination": {"totalCount": total, "offset": 0, "onPage": len(data)}, "data": data}


class ListServer:
    """Serves a list in pages of at most `cap`, like the real API, from a list that tests can change."""

    def __init__(self, items: list[dict[str, Any]], cap: int = 1000) -> None:
        self.items = items
        self.cap = cap

    def __call__(self, call: Call) -> Result:
        skip, take = int(call.query.get("skip", 0)), min(int(call.query.get("take", 50)), self.cap)
        return 200, envelope(self.items[skip : skip + take], len(self.items))


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


# -- construction ---------------------------------------------------------------------------------------


def test_takes_the_account_as_plain_values(fake: FakeFlatfile) -> None:
    secret = fake.secret
    account = Account(secret["accessKeyId"], secret["secretAccessKey"], secret["licenseKey"])
    fake.route("/rest/batches", ListServer([batch(1, T0)]))
    with FlatfileClient(fake.base_url, account, session=fake.session) as client:
        assert client.credentials is account
        assert len(list(client.iter_batches(NEVER))) == 1
    assert fake.calls[-1].query["licenseKey"] == secret["licenseKey"]


def test_bad_auth_mode(fake: FakeFlatfile) -> None:
    with pytest.raises(ConfigurationError, match="FLATFILE_AUTH"):
        FlatfileClient(fake.base_url, Credentials.from_secret(fake.secret), auth="basic")


def test_repr_hides_secrets(fake: FakeFlatfile) -> None:
    client = client_for(fake)
    text = repr(client)
    assert "FF00…" in text
    for value in fake.secret.values():
        assert value not in text


def test_shared_token_auth_outlives_clients(fake: FakeFlatfile) -> None:
    fake.route("/rest/batches", ListServer([batch(1, T0)]))
    shared = TokenAuth(Credentials.from_secret(fake.secret))
    for _ in range(3):
        with client_for(fake, token_auth=shared) as client:
            assert len(list(client.iter_batches(NEVER))) == 1
    assert shared.exchanges == 1


def test_shared_token_auth_must_hold_the_same_key(fake: FakeFlatfile) -> None:
    other = Credentials.from_secret({**fake.secret, "secretAccessKey": "another-secret-value"})
    with pytest.raises(ValueError, match="another access key"):
        client_for(fake, token_auth=TokenAuth(other))


# -- batches --------------------------------------------------------------------------------------------


def test_batches_query_and_auth(fake: FakeFlatfile) -> None:
    fake.route("/rest/batches", ListServer([batch(1, T0)]))
    client = client_for(fake)
    assert ids(list(client.iter_batches(NEVER, workspaceId="w-1", search=None, deleted=False))) == ids(
        [batch(1)]
    )
    call = fake.calls[-1]
    assert call.query == {
        "licenseKey": fake.secret["licenseKey"],
        "skip": "0",
        "take": "100",
        "workspaceId": "w-1",
        "deleted": "false",
    }
    assert call.headers["Authorization"] == f"Bearer {fake.issued[0]}"
    assert "X-Api-Key" not in call.headers


def test_api_key_mode(fake: FakeFlatfile) -> None:
    fake.route("/rest/batches", ListServer([batch(1, T0)]))
    list(client_for(fake, auth="api_key").iter_batches(NEVER))
    assert fake.paths() == ["GET /rest/batches"]
    key = f"{fake.secret['accessKeyId']}+{fake.secret['secretAccessKey']}"
    assert fake.calls[0].headers["X-Api-Key"] == key
    assert "Authorization" not in fake.calls[0].headers


def test_pages_advance_by_what_came_back(fake: FakeFlatfile) -> None:
    items = [batch(n, T0 - timedelta(minutes=n)) for n in range(23)]
    fake.route("/rest/batches", ListServer(items, cap=5))
    pages = list(client_for(fake).iter_batch_pages(NEVER, page_size=10))
    assert [page.offset for page in pages] == [0, 5, 10, 15, 20]
    assert [page.raw_count for page in pages] == [5, 5, 5, 5, 3]
    assert [item for page in pages for item in page.items] == items
    assert all(page.total_count == 23 for page in pages)
    assert all(page.newest_first_so_far for page in pages)
    assert pages[1].newest_created_at == T0 - timedelta(minutes=5)


def test_rereads_total_count_and_stops_on_an_empty_page(fake: FakeFlatfile) -> None:
    fake.queue(
        "/rest/batches",
        (200, envelope([batch(1), batch(2)], 3)),
        (200, envelope([batch(3), batch(4)], 6)),  # grew
        (200, envelope([], 6)),  # but the page is empty: stop
    )
    pages = list(client_for(fake).iter_batch_pages(NEVER, page_size=2))
    assert [page.offset for page in pages] == [0, 2, 4]
    assert [page.total_count for page in pages] == [3, 6, 6]


def test_dedups_shifted_batches(fake: FakeFlatfile) -> None:
    items = [batch(n, T0 - timedelta(minutes=n)) for n in range(1, 7)]
    server = ListServer(items)

    def shifting(call: Call) -> Result:
        if call.query["skip"] == "3":  # two new imports arrived at the top before the 2nd page
            server.items = [
                batch(100, T0 + timedelta(minutes=2)),
                batch(101, T0 + timedelta(minutes=1)),
                *items,
            ]
        return server(call)

    fake.route("/rest/batches", shifting)
    pages = list(client_for(fake).iter_batch_pages(NEVER, page_size=3))
    seen = [item["id"] for page in pages for item in page.items]
    assert len(seen) == len(set(seen))
    assert set(ids(items)) <= set(seen)
    assert pages[1].raw_count == 3
    assert len(pages[1].items) == 1  # only batch 4 is new: batches 2 and 3 shifted down into this page


def test_early_stop_only_when_newest_first(fake: FakeFlatfile) -> None:
    items = [batch(n, T0 - timedelta(days=n)) for n in range(10)]
    fake.route("/rest/batches", ListServer(items))
    since = T0 - timedelta(days=3, hours=12)
    found = list(client_for(fake).iter_batches(NEVER, page_size=2, created_since=since))
    assert ids(found) == ids(items[:4])
    assert len(fake.calls) == 1 + 3  # exchange + pages [0,1] [2,3] [4,5]: the 3rd page is all older


def test_naive_created_since_is_utc(fake: FakeFlatfile) -> None:
    items = [batch(n, T0 - timedelta(days=n)) for n in range(4)]
    fake.route("/rest/batches", ListServer(items))
    naive = (T0 - timedelta(days=1, hours=1)).replace(tzinfo=None)
    assert ids(list(client_for(fake).iter_batches(NEVER, created_since=naive))) == ids(items[:2])


def test_no_early_stop_when_the_order_is_not_newest_first(fake: FakeFlatfile) -> None:
    # oldest first: every page after the first is "newer", never stop early
    items = [batch(n, T0 + timedelta(days=n)) for n in range(6)]
    fake.route("/rest/batches", ListServer(items))
    found = list(client_for(fake).iter_batches(NEVER, page_size=2, created_since=T0 + timedelta(days=4)))
    assert ids(found) == ids(items[4:])
    assert len([call for call in fake.calls if call.path == "/rest/batches"]) == 3


def test_one_out_of_order_batch_disables_early_stop_for_good(fake: FakeFlatfile) -> None:
    order = [0, 1, 3, 2, 8, 9, 10, 11]  # days ago; 3 then 2 is not newest-first
    items = [batch(n, T0 - timedelta(days=n)) for n in order]
    fake.route("/rest/batches", ListServer(items))
    pages = list(client_for(fake).iter_batch_pages(NEVER, page_size=2))
    assert [page.newest_first_so_far for page in pages] == [True, False, False, False]
    found = list(client_for(fake).iter_batches(NEVER, page_size=2, created_since=T0 - timedelta(days=5)))
    assert ids(found) == ids(items[:4])
    assert len([call for call in fake.calls if call.path == "/rest/batches"]) == 8  # all 4 pages, twice


def test_missing_created_at_disables_early_stop_and_is_yielded(fake: FakeFlatfile) -> None:
    items = [
        batch(0, T0),
        batch(1, None),
        batch(2, T0 - timedelta(days=9)),
        batch(3, T0 - timedelta(days=10)),
    ]
    fake.route("/rest/batches", ListServer(items))
    found = list(client_for(fake).iter_batches(NEVER, page_size=1, created_since=T0 - timedelta(days=1)))
    assert ids(found) == ids(items[:2])
    assert len([call for call in fake.calls if call.path == "/rest/batches"]) == 4


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "envelope"],
        {"data": {"id": "x"}, "pagination": {"totalCount": 1}},
        {"data": [], "pagination": {}},
        {"data": [], "pagination": {"totalCount": "3"}},
        {"data": [], "pagination": {"totalCount": True}},
        {"data": [{"name": "no id"}], "pagination": {"totalCount": 1}},
        {"data": [{"id": 5}], "pagination": {"totalCount": 1}},
        {"data": ["x"], "pagination": {"totalCount": 1}},
    ],
)
def test_batch_envelope_is_checked(fake: FakeFlatfile, body: Any) -> None:
    fake.queue("/rest/batches", (200, body))
    with pytest.raises(ContractError):
        list(client_for(fake).iter_batches(NEVER))


def test_total_count_at_the_top_level_is_accepted(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batches", (200, {"data": [batch(1)], "totalCount": 1}))
    assert len(list(client_for(fake).iter_batches(NEVER))) == 1


def test_reserved_filters_and_page_size(fake: FakeFlatfile) -> None:
    client = client_for(fake)
    with pytest.raises(ValueError, match="licenseKey"):
        list(client.iter_batches(NEVER, licenseKey="other"))
    with pytest.raises(ValueError, match="page_size"):
        list(client.iter_batches(NEVER, page_size=0))


def test_license_forbidden(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batches", (403, {"statusCode": 403, "message": "Forbidden resource"}))
    with pytest.raises(LicenseForbiddenError) as caught:
        list(client_for(fake).iter_batches(NEVER))
    assert "licenseKey in the secret" in str(caught.value)
    assert fake.secret["licenseKey"] not in str(caught.value)


def test_bad_request_carries_the_server_message(fake: FakeFlatfile) -> None:
    body = {"statusCode": 400, "message": ["licenseKey should not be empty", "licenseKey must be a UUID"]}
    fake.queue("/rest/batches", (400, body))
    with pytest.raises(BadRequestError) as caught:
        list(client_for(fake).iter_batches(NEVER))
    assert caught.value.server_message == "licenseKey should not be empty; licenseKey must be a UUID"
    assert "licenseKey should not be empty" in str(caught.value)


def test_missing_list_endpoint_points_at_the_base_url(fake: FakeFlatfile) -> None:
    with pytest.raises(ConfigurationError, match="FLATFILE_BASE_URL"):
        list(client_for(fake).iter_batches(NEVER))


def test_unexpected_status(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batches", (418, {"message": "teapot"}))
    with pytest.raises(ContractError, match="unexpected HTTP 418"):
        list(client_for(fake).iter_batches(NEVER))


# -- one batch ------------------------------------------------------------------------------------------


def test_get_batch(fake: FakeFlatfile) -> None:
    item = batch(1, T0, __endUser__={"id": "u"})
    fake.route(f"/rest/batch/{item['id']}", lambda call: (200, item))
    assert client_for(fake).get_batch(item["id"], NEVER) == item


def test_get_batch_errors(fake: FakeFlatfile) -> None:
    client = client_for(fake)
    with pytest.raises(NotFoundError, match="no batch nope"):
        client.get_batch("nope", NEVER)
    fake.route("/rest/batch/a%2Fb", lambda call: (200, ["not", "a", "batch"]))
    with pytest.raises(ContractError):
        client.get_batch("a/b", NEVER)  # the id is one escaped path segment
    fake.route("/rest/batch/other", lambda call: (403, {"message": "Forbidden resource"}))
    with pytest.raises(ForbiddenError) as caught:
        client.get_batch("other", NEVER)
    assert not isinstance(caught.value, LicenseForbiddenError)
    with pytest.raises(ValueError, match="batch_id"):
        client.get_batch(" ", NEVER)


# -- 401 handling ---------------------------------------------------------------------------------------


def test_401_reexchanges_once_and_retries(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batches", UNAUTHORIZED)
    fake.route("/rest/batches", ListServer([batch(1, T0)]))
    client = client_for(fake)
    assert len(list(client.iter_batches(NEVER))) == 1
    assert fake.paths() == [
        "POST /auth/access-key/exchange",
        "GET /rest/batches",
        "POST /auth/access-key/exchange",
        "GET /rest/batches",
    ]
    assert fake.calls[1].headers["Authorization"] == f"Bearer {fake.issued[0]}"
    assert fake.calls[3].headers["Authorization"] == f"Bearer {fake.issued[1]}"


def test_second_401_is_credentials_rejected(fake: FakeFlatfile) -> None:
    fake.route("/rest/batches", lambda call: UNAUTHORIZED)
    with pytest.raises(CredentialsRejectedError) as caught:
        list(client_for(fake).iter_batches(NEVER))
    assert len(fake.issued) == 2
    assert "freshly exchanged token" in str(caught.value)
    for token in fake.issued:
        assert token not in str(caught.value)


def test_401_with_api_key_is_final(fake: FakeFlatfile) -> None:
    fake.route("/rest/batches", lambda call: UNAUTHORIZED)
    with pytest.raises(CredentialsRejectedError, match="accessKeyId and secretAccessKey"):
        list(client_for(fake, auth="api_key").iter_batches(NEVER))
    assert fake.paths() == ["GET /rest/batches"]


def test_retries_after_a_401_use_the_new_token(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batches", UNAUTHORIZED, (503, {}), (503, {}))
    fake.route("/rest/batches", ListServer([batch(1, T0)]))
    list(client_for(fake).iter_batches(NEVER))
    sent = [call.headers.get("Authorization") for call in fake.calls if call.path == "/rest/batches"]
    assert sent == [f"Bearer {fake.issued[0]}"] + [f"Bearer {fake.issued[1]}"] * 3


# -- rows -----------------------------------------------------------------------------------------------


def rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": str(1000 + n), "sequence": n, "mapped": {"sku": f"S-{n}"}} for n in range(start, count)]


def test_row_pages(fake: FakeFlatfile) -> None:
    path = "/rest/batch/b-1/rows"
    fake.route(path, ListServer(rows(7), cap=3))
    pages = list(client_for(fake).iter_row_pages("b-1", NEVER, page_size=5, valid=True))
    assert [(page.skip, page.next_skip, page.total_count, len(page.rows)) for page in pages] == [
        (0, 3, 7, 3),
        (3, 6, 7, 3),
        (6, 7, 7, 1),
    ]
    assert pages[-1].last
    assert next(call.query for call in fake.calls if call.path == path) == {
        "skip": "0",
        "take": "5",
        "valid": "true",
    }


def test_rows_from_a_checkpoint(fake: FakeFlatfile) -> None:
    fake.route("/rest/batch/b-1/rows", ListServer(rows(10)))
    pages = list(client_for(fake).iter_row_pages("b-1", NEVER, skip=8, page_size=100))
    assert [row["sequence"] for row in pages[0].rows] == [8, 9]
    assert pages[0].skip == 8


def test_iter_rows_and_empty_batch(fake: FakeFlatfile) -> None:
    fake.route("/rest/batch/b-1/rows", ListServer(rows(2500)))
    fake.route("/rest/batch/b-2/rows", ListServer([]))
    client = client_for(fake)
    assert [row["sequence"] for row in client.iter_rows("b-1", NEVER)] == list(range(2500))
    assert list(client.iter_rows("b-2", NEVER)) == []


def test_rows_out_of_order(fake: FakeFlatfile) -> None:
    shuffled = rows(6)
    shuffled[2], shuffled[4] = shuffled[4], shuffled[2]
    fake.route("/rest/batch/b-1/rows", ListServer(shuffled))
    with pytest.raises(ContractError, match="out of `sequence` order"):
        list(client_for(fake).iter_rows("b-1", NEVER, page_size=2))
    found = [
        row["sequence"]
        for page in client_for(fake).iter_row_pages("b-1", NEVER, check_order=False)
        for row in page.rows
    ]
    assert found == [0, 1, 4, 3, 2, 5]


@pytest.mark.parametrize(
    ("sequences", "words"),
    [
        ([0, 1, 1, 2], "row 2 of batch b-1 with sequence 1 again (after 1)"),  # a row twice: written twice
        ([0, "1", 2], "row 1 of batch b-1 without an integer `sequence`"),  # cannot be placed
        ([0, True, 2], "without an integer `sequence`"),
        ([0, None, 2], "without an integer `sequence`"),
    ],
)
def test_the_row_order_is_strict(fake: FakeFlatfile, sequences: list[Any], words: str) -> None:
    listed = [{"id": str(n), "sequence": sequence} for n, sequence in enumerate(sequences)]
    fake.route("/rest/batch/b-1/rows", ListServer(listed))
    with pytest.raises(ContractError) as caught:
        list(client_for(fake).iter_rows("b-1", NEVER, page_size=2))
    assert words in str(caught.value)


def test_a_resumed_walk_continues_the_order_of_the_rows_before_it(fake: FakeFlatfile) -> None:
    fake.route("/rest/batch/b-1/rows", ListServer(rows(10)))
    pages = client_for(fake).iter_row_pages("b-1", NEVER, skip=5, page_size=100, after_sequence=4)
    assert [row["sequence"] for page in pages for row in page.rows] == [5, 6, 7, 8, 9]
    with pytest.raises(ContractError, match="row 5 of batch b-1 with sequence 5 again"):
        list(client_for(fake).iter_row_pages("b-1", NEVER, skip=5, page_size=100, after_sequence=5))


def test_rows_shape_is_checked(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batch/b-1/rows", (200, envelope(["row"], 1)))
    with pytest.raises(ContractError, match="not an object"):
        list(client_for(fake).iter_rows("b-1", NEVER))
    fake.queue("/rest/batch/b-1/rows", (200, {"data": []}))
    with pytest.raises(ContractError, match="totalCount"):
        list(client_for(fake).iter_rows("b-1", NEVER))


def test_rows_of_unknown_batch(fake: FakeFlatfile) -> None:
    fake.queue("/rest/batch/b-9/rows", (404, {"statusCode": 404, "message": "Batch not found"}))
    with pytest.raises(NotFoundError):
        list(client_for(fake).iter_rows("b-9", NEVER))


def test_rows_arguments(fake: FakeFlatfile) -> None:
    client = client_for(fake)
    with pytest.raises(ValueError, match="skip"):
        list(client.iter_row_pages("b", NEVER, skip=-1))
    with pytest.raises(ValueError, match="page_size"):
        list(client.iter_row_pages("b", NEVER, page_size=0))
    with pytest.raises(ValueError, match="take"):
        list(client.iter_row_pages("b", NEVER, take=5))


# -- GraphQL --------------------------------------------------------------------------------------------


def graphql_server(fake: FakeFlatfile, answer: Any) -> None:
    def handle(call: Call) -> Result:
        if not fake.valid_bearer(call):
            return 200, {"data": None, "errors": [{"message": "Unauthorized", "extensions": {"code": "X"}}]}
        return 200, answer(call) if callable(answer) else answer

    fake.route("/graphql", handle)


def test_graphql_sends_a_bearer_even_in_api_key_mode(fake: FakeFlatfile) -> None:
    graphql_server(fake, {"data": {"getBatch": {"id": "b-1", "status": "submitted"}}})
    client = client_for(fake, auth="api_key")
    assert client.graphql_get_batch("b-1", NEVER) == {"id": "b-1", "status": "submitted"}
    call = fake.calls[-1]
    assert call.headers["Authorization"] == f"Bearer {fake.issued[0]}"
    assert call.body["variables"] == {"batchId": "b-1"}
    assert "getBatch(batchId: $batchId)" in call.body["query"]


def test_graphql_errors(fake: FakeFlatfile) -> None:
    graphql_server(fake, {"data": None, "errors": [{"message": 'Cannot query field "x"'}, "odd"]})
    with pytest.raises(GraphQLError) as caught:
        client_for(fake).graphql("query Odd { x }", None, NEVER)
    assert caught.value.messages == ['Cannot query field "x"', "odd"]
    assert "Odd" in str(caught.value)


def test_graphql_400_with_errors_is_a_graphql_error(fake: FakeFlatfile) -> None:
    fake.route("/graphql", lambda call: (400, {"errors": [{"message": "Must provide query string."}]}))
    with pytest.raises(GraphQLError, match="Must provide query string"):
        client_for(fake).graphql("", None, NEVER)


def test_graphql_without_data(fake: FakeFlatfile) -> None:
    graphql_server(fake, {"data": None})
    with pytest.raises(ContractError, match="data"):
        client_for(fake).graphql("query { x }", {}, NEVER)


@pytest.mark.parametrize(
    "unauthorized",
    [
        UNAUTHORIZED,
        (200, {"data": None, "errors": [{"message": "Unauthorized"}]}),
        (200, {"data": None, "errors": [{"message": "nope", "extensions": {"code": "UNAUTHENTICATED"}}]}),
    ],
)
def test_graphql_unauthorized_reexchanges_once(fake: FakeFlatfile, unauthorized: Result) -> None:
    fake.queue("/graphql", unauthorized)
    graphql_server(fake, {"data": {"getBatch": None}})
    with pytest.raises(NotFoundError):
        client_for(fake).graphql_get_batch("b-1", NEVER)
    assert len(fake.issued) == 2


def test_graphql_unauthorized_twice(fake: FakeFlatfile) -> None:
    fake.route("/graphql", lambda call: (200, {"data": None, "errors": [{"message": "Unauthorized"}]}))
    with pytest.raises(CredentialsRejectedError):
        client_for(fake).graphql_get_batch("b-1", NEVER)


def test_final_database_view_pages(fake: FakeFlatfile) -> None:
    all_rows = [
        {"id": n, "valid": True, "status": "accepted", "data": {"sku": n}, "info": []} for n in range(7)
    ]

    def view(call: Call) -> Any:
        skip, limit = call.body["variables"]["skip"], call.body["variables"]["limit"]
        page = all_rows[skip : skip + min(limit, 2)]  # the server caps at 2
        rows_value: Any = json.dumps(page) if skip == 2 else page  # once as a JSON string
        return {"data": {"getFinalDatabaseView": {"rows": rows_value, "totalRows": str(len(all_rows))}}}

    graphql_server(fake, view)
    found = list(client_for(fake).iter_final_database_view("b-1", NEVER, status="accepted", limit=3))
    assert found == all_rows
    variables = [call.body["variables"] for call in fake.calls if call.path == "/graphql"]
    assert [v["skip"] for v in variables] == [0, 2, 4, 6]
    assert all(v["status"] == "accepted" and v["limit"] == 3 for v in variables)


@pytest.mark.parametrize(
    "view",
    [
        {"rows": "not json", "totalRows": 1},
        {"rows": {"a": 1}, "totalRows": 1},
        {"rows": [], "totalRows": None},
        {"rows": ["x"], "totalRows": 1},
        "view",
    ],
)
def test_final_database_view_shape(fake: FakeFlatfile, view: Any) -> None:
    graphql_server(fake, {"data": {"getFinalDatabaseView": view}})
    with pytest.raises(ContractError):
        list(client_for(fake).iter_final_database_view("b-1", NEVER))


def test_final_database_view_of_unknown_batch(fake: FakeFlatfile) -> None:
    graphql_server(fake, {"data": {"getFinalDatabaseView": None}})
    with pytest.raises(NotFoundError):
        list(client_for(fake).iter_final_database_view("b-1", NEVER))


# -- health ---------------------------------------------------------------------------------------------


def test_health(fake: FakeFlatfile) -> None:
    client = client_for(fake)
    fake.queue("/health", (200, "OK"), (503, {}), requests.ConnectionError("refused"))
    assert client.health(NEVER) is True
    assert client.health(NEVER) is False
    assert client.health(NEVER) is False
    assert fake.paths() == ["GET /health"] * 3
    assert all("Authorization" not in call.headers for call in fake.calls)


# -- rows with an expected total (the export job's `countRows`) ---------------------------------------------


def skips_asked(fake: FakeFlatfile, path: str) -> list[int]:
    return [int(call.query["skip"]) for call in fake.calls if call.path == path]


@pytest.mark.parametrize(("expected", "extra"), [(25, []), (5, []), (0, []), (45, [30, 40])])
def test_an_expected_total_asks_for_the_first_round_at_once_and_a_wrong_one_loses_no_row(
    fake: FakeFlatfile, expected: int, extra: list[int]
) -> None:
    path = "/rest/batch/b-1/rows"
    fake.route(path, ListServer(rows(25)))
    client = client_for(fake, row_prefetch=8)
    pages = list(client.iter_row_pages("b-1", NEVER, page_size=10, expected_total=expected))
    assert [row["sequence"] for page in pages for row in page.rows] == list(range(25))
    asked = skips_asked(fake, path)
    assert len(asked) == len(set(asked))  # none twice
    assert {0, 10, 20} <= set(asked) <= {0, 10, 20, *extra}  # past the end only when told so (guesses dropped)


def test_an_expected_total_with_a_server_that_keeps_smaller_pages_drops_its_guesses(fake: FakeFlatfile) -> None:
    path = "/rest/batch/b-1/rows"
    fake.route(path, ListServer(rows(25), cap=4))
    pages = list(client_for(fake, row_prefetch=8).iter_row_pages("b-1", NEVER, page_size=10, expected_total=25))
    assert [row["sequence"] for page in pages for row in page.rows] == list(range(25))
    assert [page.skip for page in pages] == [0, 4, 8, 12, 16, 20, 24]
