"""A secret whose keys cannot travel in an HTTP header: a clear error naming the key, and the value nowhere."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from support.functions import lambda_context
from support.scripted_server import ScriptedServer

from flatfile_relay.credentials import Credentials, MalformedSecretError
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import ContractError, FlatfileClient

#: a secret access key pasted with a line break, or with a typographic apostrophe, in the middle
BROKEN_KEYS = ["PastedHalfOfTheKey0123\nOtherHalf456789ABCDEF", "PastedHalfOfTheKey0123\u2019OtherHalf456789AB"]
FRAGMENTS = ("PastedHalfOfTheKey0123", "OtherHalf456789")


@pytest.mark.parametrize("auth", ["api_key", "token"])
@pytest.mark.parametrize("broken", BROKEN_KEYS, ids=["line-break", "non-ascii"])
def test_a_header_unsafe_secret_access_key_is_named_and_never_shown(
    poller_app: ModuleType, deployment: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], auth: str, broken: str,
) -> None:
    monkeypatch.setenv("FLATFILE_AUTH", auth)
    settings = deployment.settings("PollerFunction")
    deployment.clients.secretsmanager.put_secret_value(
        SecretId=settings.secret_id, SecretString=json.dumps({**emulator.secret, "secretAccessKey": broken})
    )

    with pytest.raises(MalformedSecretError) as caught:
        poller_app.handler({}, lambda_context("PollerFunction"))

    assert caught.value.key == "secretAccessKey"
    assert "secretAccessKey" in str(caught.value)
    output = capsys.readouterr()
    for text in (str(caught.value), repr(caught.value), output.out, output.err):
        for fragment in FRAGMENTS:
            assert fragment not in text
    assert emulator.requests_to("/rest") == []  # nothing was sent with it


@pytest.mark.parametrize("key", ["accessKeyId", "secretAccessKey"])
def test_credentials_refuse_characters_a_header_cannot_carry(emulator: Any, key: str) -> None:
    for bad in ("abc\r\ndef", "abc\tdef", "abc def", "abc\u00e9def", "abc\x00def"):
        with pytest.raises(MalformedSecretError) as caught:
            Credentials.from_secret({**emulator.secret, key: bad})
        assert caught.value.key == key
        assert "abc" not in str(caught.value)
    assert Credentials.from_secret({**emulator.secret, key: "  FF00AbC+/=_-.~9  "})  # printable ASCII is fine


def test_an_exchanged_token_that_cannot_travel_in_a_header_is_a_clear_error_without_the_token(
    emulator: Any,
) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjR9.c2ln\r\nX-Smuggled: TokenTail0123456789"
    body = json.dumps({"accessToken": token, "user": {"id": 1}}).encode()
    exchange = (201, {"Content-Type": "application/json"}, body)
    with ScriptedServer({"POST /auth/access-key/exchange": exchange}) as server:
        client = FlatfileClient(server.url, Credentials.from_secret(emulator.secret), timeout=5.0, max_attempts=1)
        with pytest.raises(ContractError) as caught:
            client.get_batch(emulator.samples["medium"], Deadline.after(10))
        client.close()

    assert "accessToken" in str(caught.value)
    assert [request.split("?")[0] for request in server.requests] == ["POST /auth/access-key/exchange"]
    for text in (str(caught.value), repr(caught.value), str(caught.value.__cause__)):
        assert "TokenTail0123456789" not in text
        assert "X-Smuggled" not in text
