"""Credentials.from_secret: parsing, error messages naming the key, and secret-free repr."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from flatfile_relay.credentials import Credentials, MalformedSecretError, NotConfiguredError
from flatfile_relay.flatfile import Account, ConfigurationError
from flatfile_relay.redaction import redact

ACCESS_KEY_ID = "FF00" + "A1b2C3d4E5" * 3 + "zzzzzz"
SECRET_ACCESS_KEY = "Sx9-secret-" + "q" * 29
LICENSE_KEY = "0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11"
VALID = {"accessKeyId": ACCESS_KEY_ID, "secretAccessKey": SECRET_ACCESS_KEY, "licenseKey": LICENSE_KEY}
SECRET_VALUES = (SECRET_ACCESS_KEY,)


def with_(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict(VALID)
    for key, value in changes.items():
        if value is _DELETE:
            data.pop(key, None)
        else:
            data[key] = value
    return data


_DELETE = object()


@pytest.mark.parametrize("form", ["str", "bytes", "bytearray", "mapping"])
def test_parses_every_form(form: str) -> None:
    text = json.dumps({**VALID, "webhookToken": "tok-alpha-123"})
    value: Any = {
        "str": text,
        "bytes": text.encode(),
        "bytearray": bytearray(text.encode()),
        "mapping": json.loads(text),
    }[form]
    credentials = Credentials.from_secret(value)
    assert credentials == Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, LICENSE_KEY)


def test_api_key_header_joins_id_and_secret_with_plus() -> None:
    credentials = Credentials.from_secret(VALID)
    assert credentials.api_key_header == f"{ACCESS_KEY_ID}+{SECRET_ACCESS_KEY}"


@pytest.mark.parametrize("value", [None, "tok-alpha-123", ["ok", 7], 5, {"a": 1}])
def test_a_legacy_webhook_token_in_the_flatfile_secret_is_never_read(value: Any) -> None:
    """Stacks made before the webhook had its own secret left a webhookToken here: ignored like any extra key,
    whatever it holds (a malformed one no longer stops the poller and the exporter)."""
    credentials = Credentials.from_secret(with_(webhookToken=value))
    assert credentials == Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, LICENSE_KEY)
    assert set(credentials.secret_values) == {SECRET_ACCESS_KEY, credentials.api_key_header}


def test_whitespace_around_values_is_ignored() -> None:
    credentials = Credentials.from_secret(with_(licenseKey=f"  {LICENSE_KEY}\n"))
    assert credentials.license_key == LICENSE_KEY


@pytest.mark.parametrize("key", ["accessKeyId", "secretAccessKey", "licenseKey"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        (_DELETE, "has no"),
        (None, "has no"),
        ("", "is empty"),
        ("   ", "is empty"),
        (12345, "must be a string"),
    ],
)
def test_bad_required_key_names_the_key(key: str, value: Any, words: str) -> None:
    with pytest.raises(MalformedSecretError) as caught:
        Credentials.from_secret(with_(**{key: value}))
    assert caught.value.key == key
    assert key in str(caught.value)
    assert words in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (f'{{"accessKeyId": "{ACCESS_KEY_ID}", "secretAccessKey": "{SECRET_ACCESS_KEY}"', "not valid JSON"),
        ("", "not valid JSON"),
        (b"\xff\xfe" + SECRET_ACCESS_KEY.encode(), "not UTF-8"),
        (json.dumps([ACCESS_KEY_ID, SECRET_ACCESS_KEY]), "got a JSON array"),
        (json.dumps(SECRET_ACCESS_KEY), "got a JSON string"),
        ("null", "got a JSON null"),
    ],
    ids=["truncated", "empty", "binary", "array", "string", "null"],
)
def test_unusable_secret(value: Any, words: str) -> None:
    with pytest.raises(MalformedSecretError) as caught:
        Credentials.from_secret(value)
    message = str(caught.value)
    assert words in message
    assert caught.value.key is None
    assert SECRET_ACCESS_KEY not in message
    assert ACCESS_KEY_ID not in message
    # the JSON error (which holds the whole text) is not chained
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_wrong_type_of_value() -> None:
    with pytest.raises(MalformedSecretError):
        Credentials.from_secret(12)  # type: ignore[arg-type]


def test_error_never_shows_a_bad_value() -> None:
    with pytest.raises(MalformedSecretError) as caught:
        Credentials.from_secret(with_(secretAccessKey=["not", "a", SECRET_ACCESS_KEY]))
    assert SECRET_ACCESS_KEY not in str(caught.value)
    assert SECRET_ACCESS_KEY not in repr(caught.value)


def test_repr_and_str_hide_secrets() -> None:
    credentials = Credentials.from_secret(VALID)
    for text in (repr(credentials), str(credentials), f"{credentials}", repr([credentials])):
        for secret in (*SECRET_VALUES, credentials.api_key_header, ACCESS_KEY_ID, LICENSE_KEY):
            assert secret not in text
        assert "FF00…" in text


def test_parsing_registers_secrets_for_redaction() -> None:
    credentials = Credentials.from_secret(VALID)
    text = f"key {credentials.api_key_header} secret {SECRET_ACCESS_KEY} lic {LICENSE_KEY}"
    cleaned = redact(text)
    for secret in (*SECRET_VALUES, credentials.api_key_header):
        assert secret not in cleaned
    assert LICENSE_KEY in cleaned  # not a secret


def test_logging_credentials_is_safe(caplog: pytest.LogCaptureFixture) -> None:
    credentials = Credentials.from_secret(VALID)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.credentials").info("loaded %s / %r", credentials, credentials)
    assert "FF00…" in caplog.text
    for secret in SECRET_VALUES:
        assert secret not in caplog.text


def test_frozen() -> None:
    credentials = Credentials.from_secret(VALID)
    with pytest.raises(AttributeError):
        credentials.license_key = "other"  # type: ignore[misc]


def test_placeholders_left_by_the_stack_mean_not_configured() -> None:
    template_value = {"accessKeyId": "REPLACE_ME", "secretAccessKey": "REPLACE_ME", "licenseKey": "REPLACE_ME",
                      "webhookToken": "generated-token"}
    with pytest.raises(NotConfiguredError) as caught:
        Credentials.from_secret(json.dumps(template_value))
    assert isinstance(caught.value, MalformedSecretError)  # never served from cache, a configuration problem
    assert caught.value.key == "accessKeyId"
    assert str(caught.value).startswith("The Flatfile secret is not configured yet: 'accessKeyId', ")
    assert "generated-token" not in str(caught.value)


def test_one_key_still_holding_its_placeholder_is_named() -> None:
    with pytest.raises(NotConfiguredError, match="'licenseKey' still holds the REPLACE_ME placeholder") as caught:
        Credentials.from_secret(with_(licenseKey="REPLACE_ME"))
    assert caught.value.key == "licenseKey"


def test_a_missing_key_is_reported_before_placeholders() -> None:
    with pytest.raises(MalformedSecretError) as caught:
        Credentials.from_secret({"accessKeyId": "REPLACE_ME", "licenseKey": "REPLACE_ME"})
    assert not isinstance(caught.value, NotConfiguredError)
    assert caught.value.key == "secretAccessKey"


def test_credentials_are_the_clients_account() -> None:
    credentials = Credentials.from_secret(VALID)
    assert isinstance(credentials, Account)  # handed to FlatfileClient as they are
    assert set(credentials.secret_values) == {SECRET_ACCESS_KEY, credentials.api_key_header}
    account = Account(ACCESS_KEY_ID, SECRET_ACCESS_KEY, LICENSE_KEY)
    assert set(account.secret_values) == {SECRET_ACCESS_KEY, account.api_key_header}
    assert SECRET_ACCESS_KEY not in repr(account)
