"""Access-key exchange, X-Api-Key and Bearer auth, token expiry and revocation, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from flatfile_relay_devkit.emulator import Emulator, jwt

UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}


def api_key(emu: Emulator) -> dict[str, str]:
    return {"X-Api-Key": f"{emu.secret['accessKeyId']}+{emu.secret['secretAccessKey']}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def exchange(emu: Emulator, path: str = "/auth/access-key/exchange", **body: Any) -> requests.Response:
    payload = {
        "accessKeyId": emu.secret["accessKeyId"],
        "secretAccessKey": emu.secret["secretAccessKey"],
        **body,
    }
    return requests.post(emu.url + path, json=payload, timeout=5)


def list_batches(emu: Emulator, headers: dict[str, str]) -> requests.Response:
    return requests.get(
        f"{emu.url}/rest/batches", params={"licenseKey": emu.secret["licenseKey"]}, headers=headers, timeout=5
    )


@pytest.mark.parametrize("path", ["/auth/access-key/exchange", "/auth/access-key/exchange/"])
def test_exchange_returns_201_with_a_jwt_and_the_user(emulator: Emulator, path: str) -> None:
    before = int(time.time())
    response = exchange(emulator, path, expiresIn=3600)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"accessToken", "user"}
    assert set(body["user"]) == {"id", "name", "email", "type"}
    assert body["user"]["id"] == 1
    claims = jwt.unverified_claims(body["accessToken"])
    assert {"username", "sub", "accessKeyId", "iat", "exp"} <= set(claims)
    assert claims["accessKeyId"] == emulator.secret["accessKeyId"]
    assert claims["exp"] - claims["iat"] == 3600
    assert before <= claims["iat"] <= time.time()
    assert jwt.b64url_decode(body["accessToken"].split(".")[0]) == b'{"alg":"HS256","typ":"JWT"}'


def test_exchange_without_expires_in_uses_the_default(emulator: Emulator) -> None:
    claims = jwt.unverified_claims(exchange(emulator).json()["accessToken"])
    assert claims["exp"] - claims["iat"] == 43200


@pytest.mark.parametrize("expires_in", [60, 86400])
def test_exchange_accepts_the_bounds(emulator: Emulator, expires_in: int) -> None:
    assert exchange(emulator, expiresIn=expires_in).status_code == 201


@pytest.mark.parametrize("expires_in", [59, 0, -5, 86401, "3600", 3600.5, True, None])
def test_exchange_rejects_bad_expires_in_with_a_message_list(emulator: Emulator, expires_in: object) -> None:
    response = exchange(emulator, expiresIn=expires_in)
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400
    assert body["error"] == "Bad Request"
    assert isinstance(body["message"], list)
    assert all("expiresIn" in m for m in body["message"])


@pytest.mark.parametrize(
    "change",
    [{"secretAccessKey": "x" * 40}, {"accessKeyId": "FF00" + "0" * 36}],
)
def test_exchange_with_wrong_credentials_is_401(emulator: Emulator, change: dict[str, str]) -> None:
    response = exchange(emulator, **change)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_exchange_with_missing_fields_or_bad_json_is_400(emulator: Emulator) -> None:
    missing = requests.post(emulator.url + "/auth/access-key/exchange", json={"expiresIn": 60}, timeout=5)
    assert missing.status_code == 400
    assert len(missing.json()["message"]) == 2
    bad = requests.post(
        emulator.url + "/auth/access-key/exchange",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.status_code == 400
    assert bad.json()["statusCode"] == 400


def test_rest_accepts_api_key_and_bearer(emulator: Emulator) -> None:
    token = exchange(emulator, expiresIn=600).json()["accessToken"]
    assert list_batches(emulator, api_key(emulator)).status_code == 200
    assert list_batches(emulator, bearer(token)).status_code == 200
    kinds = [record.auth for record in emulator.requests_to("/rest/batches")]
    assert kinds == ["api_key", "bearer"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": "FF00nope+nope"},
        {"X-Api-Key": "no-plus-sign"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_rest_without_valid_credentials_is_401(emulator: Emulator, headers: dict[str, str]) -> None:
    for path in (
        "/rest/batches",
        f"/rest/batch/{emulator.samples['big']}",
        f"/rest/batch/{emulator.samples['big']}/rows",
    ):
        response = requests.get(
            emulator.url + path,
            params={"licenseKey": emulator.secret["licenseKey"]},
            headers=headers,
            timeout=5,
        )
        assert response.status_code == 401, path
        assert response.json() == UNAUTHORIZED


def test_forged_token_is_401(emulator: Emulator) -> None:
    claims = jwt.unverified_claims(exchange(emulator).json()["accessToken"])
    forged = jwt.encode(claims, b"not the emulator's key")
    assert list_batches(emulator, bearer(forged)).status_code == 401


def test_a_bad_bearer_is_not_rescued_by_a_good_api_key(emulator: Emulator) -> None:
    assert list_batches(emulator, {**api_key(emulator), "Authorization": "Bearer x.y.z"}).status_code == 401


def test_revoked_tokens_get_401_and_new_ones_work(emulator: Emulator) -> None:
    old = exchange(emulator).json()["accessToken"]
    issued = emulator.issue_token()
    emulator.revoke_tokens()
    assert list_batches(emulator, bearer(old)).status_code == 401
    assert list_batches(emulator, bearer(issued)).status_code == 401
    fresh = exchange(emulator).json()["accessToken"]
    assert list_batches(emulator, bearer(fresh)).status_code == 200


def test_token_lifetime_cap_shortens_tokens_and_they_expire(
    emulator_factory: Callable[..., Emulator],
) -> None:
    emu = emulator_factory(token_lifetime_cap=1)
    token = exchange(emu, expiresIn=3600).json()["accessToken"]
    claims = jwt.unverified_claims(token)
    assert claims["exp"] - claims["iat"] == 1
    if time.time() < claims["exp"]:
        assert list_batches(emu, bearer(token)).status_code == 200
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.05)
    expired = list_batches(emu, bearer(token))
    assert expired.status_code == 401
    assert expired.json() == UNAUTHORIZED


def test_cap_can_change_at_run_time(emulator: Emulator) -> None:
    emulator.set(token_lifetime_cap=120)
    claims = jwt.unverified_claims(exchange(emulator, expiresIn=3600).json()["accessToken"])
    assert claims["exp"] - claims["iat"] == 120
    emulator.set(token_lifetime_cap=None)
    claims = jwt.unverified_claims(exchange(emulator, expiresIn=3600).json()["accessToken"])
    assert claims["exp"] - claims["iat"] == 3600


def test_health_needs_no_auth(emulator: Emulator) -> None:
    response = requests.get(emulator.url + "/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_request_log_never_holds_credentials(emulator: Emulator) -> None:
    token = exchange(emulator).json()["accessToken"]
    list_batches(emulator, bearer(token))
    list_batches(emulator, api_key(emulator))
    logged = repr(emulator.request_log)
    for secret in (token, emulator.secret["secretAccessKey"], emulator.secret["accessKeyId"]):
        assert secret not in logged
