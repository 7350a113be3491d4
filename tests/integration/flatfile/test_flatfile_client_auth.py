"""Tokens against the emulator: expiry and revocation in the middle of an iteration, sharing, GraphQL."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import CredentialsRejectedError, GraphQLError, NotFoundError, TokenAuth
from flatfile_relay_devkit.emulator import Emulator

NEVER = Deadline.never()


def test_token_expiring_during_rows_is_renewed_before_it_expires(emu: Emulator, make_client: Any) -> None:
    emu.set(token_lifetime_cap=2)  # tokens live 2 s whatever the client asks for
    batch_id = emu.samples["big"]
    client = make_client()
    rows: list[dict[str, Any]] = []
    for page in client.iter_row_pages(batch_id, NEVER, page_size=500):
        rows.extend(page.rows)
        time.sleep(0.3)  # a slow consumer: the iteration outlives the token
    assert [row["sequence"] for row in rows] == list(range(2500))
    assert len({row["id"] for row in rows}) == 2500
    assert client.token_auth.exchanges >= 2
    statuses = [record.status for record in emu.requests_to(f"/rest/batch/{batch_id}/rows")]
    assert statuses == [200] * 5  # refreshed ahead of the JWT's exp: no request was refused


def test_revoked_token_during_rows_is_exchanged_again(emu: Emulator, make_client: Any) -> None:
    batch_id = emu.samples["big"]
    client = make_client()
    seen: list[int] = []
    for number, page in enumerate(client.iter_row_pages(batch_id, NEVER, page_size=400)):
        seen.extend(row["sequence"] for row in page.rows)
        if number == 1:
            emu.revoke_tokens()
    assert seen == list(range(2500))
    statuses = [record.status for record in emu.requests_to(f"/rest/batch/{batch_id}/rows")]
    assert statuses.count(401) == 1
    assert len(emu.requests_to("/auth/access-key/exchange")) == 2
    assert client.token_auth.exchanges == 2


def test_token_is_reused_between_calls_and_clients(emu: Emulator, make_client: Any) -> None:
    shared = TokenAuth(Credentials.from_secret(emu.secret), expires_in=600)
    for _ in range(3):
        client = make_client(token_auth=shared)
        client.get_batch(emu.samples["single"], NEVER)
        list(client.iter_rows(emu.samples["single"], NEVER))
        client.graphql_get_batch(emu.samples["single"], NEVER)
    assert len(emu.requests_to("/auth/access-key/exchange")) == 1


def test_exchange_asks_for_the_configured_lifetime(emu: Emulator, make_client: Any) -> None:
    client = make_client(expires_in=120)
    token = client.token_auth.token(NEVER)
    claims = emu.tokens.verify(token)
    assert claims is not None
    assert claims["exp"] - claims["iat"] == 120


# -- GraphQL --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["token", "api_key"])
def test_graphql_get_batch(emu: Emulator, make_client: Any, mode: str) -> None:
    client = make_client(auth=mode)
    assert client.graphql_get_batch(emu.samples["big"], NEVER) == {
        "id": emu.samples["big"],
        "status": "submitted",
    }
    assert client.graphql_get_batch(emu.samples["in_progress"], NEVER)["status"] is None
    with pytest.raises(NotFoundError):
        client.graphql_get_batch(str(uuid.uuid4()), NEVER)
    with pytest.raises(NotFoundError):
        client.graphql_get_batch(emu.samples["foreign"], NEVER)
    assert {record.auth for record in emu.requests_to("/graphql")} == {"bearer"}


def test_graphql_final_database_view(emu: Emulator, make_client: Any) -> None:
    batch_id = emu.samples["big"]
    client = make_client()
    rows = list(client.iter_final_database_view(batch_id, NEVER))
    assert len(rows) == 2500
    assert len({row["id"] for row in rows}) == 2500
    assert len(emu.requests_to("/graphql")) == 3  # limit 1000 while skip < totalRows
    nasty = emu.samples["nasty"]
    expected_review = sum(1 for row in emu.state.rows(nasty) if not row["deleted"] and not row["valid"])
    review = list(client.iter_final_database_view(nasty, NEVER, status="review", limit=2))
    assert len(review) == expected_review
    assert all(row["status"] == "review" for row in review)


def test_graphql_errors(emu: Emulator, make_client: Any) -> None:
    client = make_client()
    with pytest.raises(GraphQLError) as caught:
        client.graphql("query Nope { somethingElse { id } }", None, NEVER)
    assert caught.value.messages
    with pytest.raises(GraphQLError, match="status"):
        list(client.iter_final_database_view(emu.samples["big"], NEVER, status="bogus"))


def test_graphql_unauthorized_is_exchanged_again(emu: Emulator, make_client: Any) -> None:
    client = make_client()
    client.token_auth.token(NEVER)
    emu.revoke_tokens()
    assert client.graphql_get_batch(emu.samples["single"], NEVER)["status"] == "submitted"
    assert len(emu.requests_to("/auth/access-key/exchange")) == 2
    assert len(emu.requests_to("/graphql")) == 2


def test_graphql_with_rejected_credentials(emu: Emulator, make_client: Any) -> None:
    client = make_client({**emu.secret, "secretAccessKey": "Z" * 40}, auth="api_key")
    with pytest.raises(CredentialsRejectedError):
        client.graphql_get_batch(emu.samples["single"], NEVER)
