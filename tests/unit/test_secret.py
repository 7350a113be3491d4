"""FlatfileSecret.parse: each complete set of keys turns its source on, and mistakes name the keys, never values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flatfile_relay.credentials import Credentials, MalformedSecretError, NotConfiguredError
from flatfile_relay.platform import PlatformAccount
from flatfile_relay.redaction import redact
from flatfile_relay.secret import FlatfileSecret

LEGACY = {"accessKeyId": "FF00" + "A1b2C3d4E5" * 3 + "zzzzzz", "secretAccessKey": "Sx9-secret-" + "q" * 29,
          "licenseKey": "0b0e4b8a-5b3e-4c7e-9d59-8a4d6f0f2a11"}
PLATFORM = {"platformSecretKey": "sk_" + "Pk7" * 10, "platformEnvironmentId": "us_env_a1b2c3d4"}
PLACEHOLDERS = dict.fromkeys((*LEGACY, *PLATFORM), "REPLACE_ME")


def test_a_secret_with_both_sets_turns_both_sources_on() -> None:
    secret = FlatfileSecret.parse(json.dumps({**LEGACY, **PLATFORM, "note": "ignored"}))

    assert secret.sources == ("legacy", "platform")
    legacy, platform = secret.account("legacy"), secret.account("platform")
    assert isinstance(legacy, Credentials)
    assert legacy.license_key == LEGACY["licenseKey"]
    assert platform == PlatformAccount(PLATFORM["platformSecretKey"], PLATFORM["platformEnvironmentId"])
    assert secret.problems == ()


@pytest.mark.parametrize(("data", "sources"), [(LEGACY, ("legacy",)), (PLATFORM, ("platform",))])
def test_one_complete_set_turns_its_source_on_and_the_other_names_its_keys(
    data: dict[str, str], sources: tuple[str, ...]
) -> None:
    secret = FlatfileSecret.parse(data)
    assert secret.sources == sources
    other = "platform" if sources == ("legacy",) else "legacy"
    with pytest.raises(MalformedSecretError, match="has no keys of") as caught:
        secret.account(other)
    assert ("platformSecretKey" if other == "platform" else "accessKeyId") in str(caught.value)


def test_placeholders_of_an_unused_source_are_left_alone() -> None:
    secret = FlatfileSecret.parse({**PLACEHOLDERS, **PLATFORM})
    assert secret.sources == ("platform",)
    assert secret.problems == ()


def test_a_secret_holding_only_placeholders_is_not_configured_yet() -> None:
    with pytest.raises(NotConfiguredError):
        FlatfileSecret.parse(PLACEHOLDERS)


def test_a_secret_without_any_set_names_both_sets() -> None:
    with pytest.raises(MalformedSecretError) as caught:
        FlatfileSecret.parse({"webhookToken": "x" * 40})
    message = str(caught.value)
    for key in ("accessKeyId", "secretAccessKey", "licenseKey", "platformSecretKey", "platformEnvironmentId"):
        assert key in message


def test_a_partial_set_keeps_its_source_off_and_says_why_while_the_other_runs() -> None:
    secret = FlatfileSecret.parse({**LEGACY, "platformSecretKey": PLATFORM["platformSecretKey"]})

    assert secret.sources == ("legacy",)
    with pytest.raises(MalformedSecretError, match="no platformEnvironmentId") as caught:
        secret.account("platform")
    assert caught.value.key == "platformEnvironmentId"
    assert PLATFORM["platformSecretKey"] not in str(caught.value)


def test_a_partial_set_alone_is_the_error() -> None:
    with pytest.raises(MalformedSecretError, match="licenseKey"):
        FlatfileSecret.parse({key: value for key, value in LEGACY.items() if key != "licenseKey"})


@pytest.mark.parametrize("bad", ["sk_with space", "sk_\u00e9", 42])
def test_a_bad_platform_value_is_refused_naming_the_key_not_the_value(bad: Any) -> None:
    with pytest.raises(MalformedSecretError) as caught:
        FlatfileSecret.parse({**PLATFORM, "platformSecretKey": bad})
    assert "platformSecretKey" in str(caught.value)
    assert str(bad) not in str(caught.value)


def test_every_key_value_is_redacted_and_never_shown() -> None:
    secret = FlatfileSecret.parse({**LEGACY, **PLATFORM})
    shown = repr(secret)
    for value in (LEGACY["secretAccessKey"], PLATFORM["platformSecretKey"]):
        assert value in secret.secret_values
        assert value not in shown
        assert value not in redact(f"leaked {value}")
