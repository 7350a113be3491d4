"""TokenAuth and ApiKeyAuth: JWT expiry, caching, refresh margin, thread safety, exchange errors."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from support.clock import Clock
from support.flatfile_fakes import FakeFlatfile, make_jwt

from flatfile_relay.credentials import Credentials
from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile import (
    ApiKeyAuth,
    BadRequestError,
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    TokenAuth,
    Transport,
    jwt_claims,
    token_expiry,
)
from flatfile_relay.flatfile.auth import check_expires_in

NEVER = Deadline.never()


def transport_for(fake: FakeFlatfile) -> Transport:
    return Transport(fake.base_url, session=fake.session, backoff_base=0.001, backoff_cap=0.01)


def credentials(fake: FakeFlatfile) -> Credentials:
    return Credentials.from_secret(fake.secret)


# -- JWT decoding and expiry ------------------------------------------------------------------------------


def test_jwt_claims() -> None:
    assert jwt_claims(make_jwt({"exp": 5, "iat": 1})) == {"exp": 5, "iat": 1}
    assert jwt_claims("a.b") is None
    assert jwt_claims("a..c") is None
    assert jwt_claims("not a jwt at all") is None
    assert jwt_claims("eyJ.!!!notbase64!!!.sig") is None
    assert jwt_claims("x." + "W10" + ".y") is None  # a JSON list, not an object


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        # iat + exp: lifetime from the server's clock, one second earlier for whole-second claims
        ({"iat": 50, "exp": 50 + 600}, 1000 + 599),
        ({"iat": 50.5, "exp": 50.5 + 600}, 1000 + 600),
        # the server granted more than asked: what was asked wins
        ({"iat": 50, "exp": 50 + 99_999}, 1000 + 3600 - 1),
        # exp only, in the future here: min(exp, asked)
        ({"exp": 1500}, 1500),
        ({"exp": 99_999}, 1000 + 3600),
        # unusable exp: what was asked for
        ({"exp": 900}, 1000 + 3600),
        ({"exp": "soon"}, 1000 + 3600),
        ({"exp": True}, 1000 + 3600),
        ({"exp": None}, 1000 + 3600),
        ({}, 1000 + 3600),
        ({"iat": 100, "exp": 100}, 1000 + 3600),
    ],
)
def test_token_expiry(claims: dict[str, Any], expected: float) -> None:
    assert token_expiry(make_jwt(claims), requested_at=1000.0, expires_in=3600) == expected


def test_token_expiry_of_a_non_jwt_is_what_was_asked() -> None:
    assert token_expiry("opaque-token", requested_at=1000.0, expires_in=120) == 1120.0


@pytest.mark.parametrize("value", [59, 86_401, 0, -1, True, 3600.0, "3600", None])
def test_expires_in_is_validated(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="FLATFILE_TOKEN_TTL"):
        check_expires_in(value)


@pytest.mark.parametrize("value", [60, 3600, 86_400])
def test_expires_in_bounds_are_accepted(value: int) -> None:
    assert check_expires_in(value) == value


def test_token_auth_validates_arguments(fake: FakeFlatfile) -> None:
    with pytest.raises(ConfigurationError):
        TokenAuth(credentials(fake), expires_in=30)
    with pytest.raises(ValueError, match="refresh_margin"):
        TokenAuth(credentials(fake), refresh_margin=-1)
    with pytest.raises(ValueError, match="transport"):
        TokenAuth(credentials(fake)).token(NEVER)


# -- exchange and caching -------------------------------------------------------------------------------


def test_exchange_request_and_cache(fake: FakeFlatfile) -> None:
    auth = TokenAuth(credentials(fake), transport_for(fake), expires_in=900)
    first = auth.headers(NEVER)
    second = auth.headers(NEVER)
    assert first == second == {"Authorization": f"Bearer {fake.issued[0]}"}
    assert len(fake.issued) == 1
    assert auth.exchanges == 1
    exchange = fake.calls[0]
    assert (exchange.method, exchange.path) == ("POST", "/auth/access-key/exchange")
    assert exchange.body == {
        "accessKeyId": fake.secret["accessKeyId"],
        "secretAccessKey": fake.secret["secretAccessKey"],
        "expiresIn": 900,
    }
    assert auth.expires_at is not None
    assert auth.expires_at > time.time() + 800


def test_accepts_200_and_trailing_spaces(fake: FakeFlatfile) -> None:
    fake.queue("/auth/access-key/exchange", (200, {"accessToken": " opaque-token-1 "}))
    auth = TokenAuth(credentials(fake), transport_for(fake))
    assert auth.token(NEVER) == "opaque-token-1"


def test_refresh_happens_margin_before_expiry(fake: FakeFlatfile) -> None:
    clock = Clock(1000.0)
    for n in range(2):
        token = make_jwt({"iat": 7, "exp": 7 + 3600, "n": n})
        fake.queue("/auth/access-key/exchange", (201, {"accessToken": token}))
    auth = TokenAuth(credentials(fake), transport_for(fake), clock=clock)
    first = auth.token(NEVER)
    # expiry 1000 + 3600 - 1 = 4599, default margin min(300, 10%) = 300 -> refresh from 4299
    clock.now = 4298.9
    assert auth.token(NEVER) == first
    clock.now = 4299.1
    second = auth.token(NEVER)
    assert second != first
    assert auth.exchanges == 2


def test_short_lifetime_uses_ten_percent_margin(fake: FakeFlatfile) -> None:
    clock = Clock(1000.0)
    fake.queue("/auth/access-key/exchange", (201, {"accessToken": make_jwt({"iat": 7.5, "exp": 107.5})}))
    auth = TokenAuth(credentials(fake), transport_for(fake), clock=clock)
    auth.token(NEVER)
    assert auth.expires_at == 1100.0
    clock.now = 1089.9  # margin 10 s
    auth.token(NEVER)
    assert auth.exchanges == 1
    clock.now = 1090.1
    auth.token(NEVER)
    assert auth.exchanges == 2


def test_custom_margin_is_capped_at_half_the_lifetime(fake: FakeFlatfile) -> None:
    clock = Clock(1000.0)
    fake.queue("/auth/access-key/exchange", (201, {"accessToken": make_jwt({"iat": 7.5, "exp": 107.5})}))
    auth = TokenAuth(credentials(fake), transport_for(fake), clock=clock, refresh_margin=600)
    auth.token(NEVER)
    clock.now = 1049.0
    auth.token(NEVER)
    assert auth.exchanges == 1


def test_invalidate(fake: FakeFlatfile) -> None:
    auth = TokenAuth(credentials(fake), transport_for(fake))
    first = auth.headers(NEVER)
    auth.invalidate({"Authorization": "Bearer some-older-token"})  # not the current one: kept
    assert auth.headers(NEVER) == first
    auth.invalidate(first)
    second = auth.headers(NEVER)
    assert second != first
    auth.invalidate()
    assert auth.headers(NEVER) not in (first, second)
    assert auth.exchanges == 3


def test_concurrent_callers_exchange_once(fake: FakeFlatfile) -> None:
    def slow_exchange(call: Any) -> Any:
        time.sleep(0.2)
        return fake.exchange(call)

    fake.route("/auth/access-key/exchange", slow_exchange)
    auth = TokenAuth(credentials(fake), transport_for(fake))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(auth.token(NEVER))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(results) == 8
    assert auth.exchanges == 1
    assert len(fake.issued) == 1


def test_waiting_for_the_lock_respects_the_deadline(fake: FakeFlatfile) -> None:
    started = threading.Event()

    def slow_exchange(call: Any) -> Any:
        started.set()
        time.sleep(0.5)
        return fake.exchange(call)

    fake.route("/auth/access-key/exchange", slow_exchange)
    auth = TokenAuth(credentials(fake), transport_for(fake))
    worker = threading.Thread(target=lambda: auth.token(NEVER))
    worker.start()
    started.wait(2)
    begun = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        auth.token(Deadline.after(0.05))
    assert time.monotonic() - begun < 0.4
    worker.join()


def test_exchange_is_retried_on_5xx(fake: FakeFlatfile) -> None:
    fake.queue("/auth/access-key/exchange", (503, {"message": "Service Unavailable"}), (502, "bad gateway"))
    auth = TokenAuth(credentials(fake), transport_for(fake))
    assert auth.token(NEVER)
    assert len(fake.calls) == 3


# -- exchange failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_access_key(fake: FakeFlatfile, status: int) -> None:
    fake.queue("/auth/access-key/exchange", (status, {"statusCode": status, "message": "Unauthorized"}))
    auth = TokenAuth(credentials(fake), transport_for(fake))
    with pytest.raises(CredentialsRejectedError) as caught:
        auth.token(NEVER)
    message = str(caught.value)
    assert "FF00…" in message
    assert "accessKeyId and secretAccessKey" in message
    assert fake.secret["secretAccessKey"] not in message
    assert fake.secret["accessKeyId"] not in message
    assert caught.value.status == status


def test_bad_request_shows_server_messages(fake: FakeFlatfile) -> None:
    body = {"statusCode": 400, "message": ["expiresIn must not be greater than 86400", "x"], "error": "Bad"}
    fake.queue("/auth/access-key/exchange", (400, body))
    with pytest.raises(BadRequestError) as caught:
        TokenAuth(credentials(fake), transport_for(fake)).token(NEVER)
    assert caught.value.server_message == "expiresIn must not be greater than 86400; x"
    assert "FLATFILE_TOKEN_TTL" in str(caught.value)


def test_missing_exchange_endpoint_points_at_the_base_url(fake: FakeFlatfile) -> None:
    fake.queue("/auth/access-key/exchange", (404, {"statusCode": 404, "message": "Cannot POST"}))
    with pytest.raises(ConfigurationError, match="FLATFILE_BASE_URL"):
        TokenAuth(credentials(fake), transport_for(fake)).token(NEVER)


@pytest.mark.parametrize(
    "result",
    [(201, {"user": {}}), (201, {"accessToken": 5}), (201, {"accessToken": "  "}), (201, ["x"]), (418, {})],
)
def test_unexpected_exchange_answers(fake: FakeFlatfile, result: Any) -> None:
    fake.queue("/auth/access-key/exchange", result)
    with pytest.raises(ContractError):
        TokenAuth(credentials(fake), transport_for(fake)).token(NEVER)


def test_repr_hides_the_token(fake: FakeFlatfile) -> None:
    auth = TokenAuth(credentials(fake), transport_for(fake))
    token = auth.token(NEVER)
    assert token not in repr(auth)
    assert "token='***'" in repr(auth)
    assert fake.secret["secretAccessKey"] not in repr(auth)


def test_api_key_auth(fake: FakeFlatfile) -> None:
    auth = ApiKeyAuth(credentials(fake))
    expected = f"{fake.secret['accessKeyId']}+{fake.secret['secretAccessKey']}"
    assert auth.headers(NEVER) == {"X-Api-Key": expected}
    assert not auth.refreshable
    auth.invalidate()  # nothing to forget
    assert fake.secret["secretAccessKey"] not in repr(auth)
