"""WebhookTokens and TokenGate: tokens from the webhook secret, short ones ignored, rotation, and re-reading a
stale cached secret at most once a minute."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from support.clock import Clock

from flatfile_relay.credentials import MalformedSecretError
from flatfile_relay.webhook_tokens import TokenGate, WebhookTokens, parse_webhook_tokens

A = "tok-current-" + "a" * 20   # 32 characters: the shortest token kept
B = "tok-rotated-" + "b" * 24
OLD = "tok-old-" + "o" * 24


def tokens(*values: str) -> WebhookTokens:
    return WebhookTokens(tuple(values))


def test_the_configured_token_is_accepted() -> None:
    assert tokens(A).accepts(A)


@pytest.mark.parametrize("presented", [None, "", A[:-1], A + "x", A.upper(), " " + A, f"{A},other"])
def test_anything_else_is_refused(presented: str | None) -> None:
    assert not tokens(A).accepts(presented)


def test_no_token_configured_refuses_everything() -> None:
    assert not tokens().accepts("anything")
    assert not tokens().accepts("")


def test_every_token_of_a_rotation_works() -> None:
    parsed = WebhookTokens.from_secret(json.dumps({"webhookToken": f"{OLD}, {B}"}))
    assert parsed.accepts(OLD)
    assert parsed.accepts(B)
    assert not parsed.accepts(f"{OLD}, {B}")
    assert WebhookTokens.from_secret({"webhookToken": [OLD, B]}).tokens == (OLD, B)


def test_a_token_shorter_than_32_characters_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    short = A[:-1]  # 31 characters
    caplog.set_level(logging.WARNING, logger="flatfile_relay")

    parsed = WebhookTokens.from_secret(json.dumps({"webhookToken": f"{short},{B},abc"}))

    assert parsed.tokens == (B,)  # the other token stays valid
    assert not parsed.accepts(short)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["2 token(s) in 'webhookToken' of the webhook secret ignored: shorter than 32 characters; "
                        "put a longer random token there (docs/deploy.md, 'Rotating the webhook token')"]
    assert short not in caplog.text


def test_only_short_tokens_leave_none_configured() -> None:
    assert len(WebhookTokens.from_secret('{"webhookToken": "short-token"}')) == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [("not json", "not valid JSON"), ("[1]", "got a JSON array"), ('{"webhookToken": 5}', "'webhookToken' in the "
     "webhook secret must be a string")],
)
def test_a_malformed_webhook_secret_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(MalformedSecretError, match=problem):
        WebhookTokens.from_secret(text)


def test_the_webhook_secret_needs_no_flatfile_credentials() -> None:
    assert WebhookTokens.from_secret(json.dumps({"webhookToken": A})).tokens == (A,)
    assert A not in repr(WebhookTokens((A,)))


def test_non_ascii_tokens_compare_without_errors() -> None:
    token = "jeton-été-✓-" + "x" * 20
    assert tokens(token).accepts(token)
    assert not tokens(token).accepts(token.replace("é", "e"))
    assert not tokens(token).accepts("\udcff-lone-surrogate")


class SecretStore:
    """Stands in for WebhookTokenSource: a cached value and the value now in the secret."""

    def __init__(self, *values: str) -> None:
        self.cached: WebhookTokens | Exception = tokens(*values)
        self.current: WebhookTokens | Exception = self.cached
        self.reads: list[bool] = []

    def __call__(self, *, force: bool = False) -> WebhookTokens:
        self.reads.append(force)
        if force:
            self.cached = self.current
        if isinstance(self.cached, Exception):
            raise self.cached
        return self.cached


def test_a_missing_token_does_not_read_the_secret() -> None:
    store = SecretStore(A)
    gate = TokenGate(store)
    assert gate.check(None) == "missing"
    assert gate.check("") == "missing"
    assert store.reads == []


def test_a_token_added_to_the_secret_works_before_the_cache_expires() -> None:
    store = SecretStore(OLD)
    store.current = tokens(OLD, B)  # rotated; the cache holds the old one
    gate = TokenGate(store)
    assert gate.check(OLD) == "accepted"
    assert gate.check(B) == "accepted"
    assert store.reads == [False, False, True]


def test_wrong_tokens_force_a_read_at_most_once_per_interval() -> None:
    clock = Clock(1000.0)
    store = SecretStore(A)
    gate = TokenGate(store, refresh_after=60, clock=clock)
    for _ in range(5):
        assert gate.check("guess-0000") == "rejected"
    assert store.reads.count(True) == 1
    clock.now += 61
    assert gate.check("guess-0000") == "rejected"
    assert store.reads.count(True) == 2


def test_a_secret_without_tokens_is_re_read_at_most_once_a_minute() -> None:
    clock = Clock(1000.0)
    store = SecretStore()
    gate = TokenGate(store, refresh_after=60, clock=clock)
    for _ in range(50):
        assert gate.check(A) == "not-configured"
    assert store.reads.count(True) == 1
    store.current = tokens(A)  # the token is added
    clock.now += 59
    assert gate.check(A) == "not-configured"
    clock.now += 2
    assert gate.check(A) == "accepted"
    assert store.reads.count(True) == 2


def test_a_malformed_secret_is_re_read_at_most_once_a_minute() -> None:
    clock = Clock(1000.0)
    store = SecretStore()
    store.cached = store.current = MalformedSecretError("The webhook secret is not valid JSON")
    gate = TokenGate(store, refresh_after=60, clock=clock)
    for _ in range(5):
        with pytest.raises(MalformedSecretError):
            gate.check(A)
    assert store.reads.count(True) == 1
    store.current = tokens(A)  # fixed
    clock.now += 61
    assert gate.check(A) == "accepted"


def test_no_configured_token_is_reported_as_such() -> None:
    gate = TokenGate(SecretStore())
    assert gate.check("anything-1234") == "not-configured"


def test_errors_reading_the_secret_propagate() -> None:
    def broken(*, force: bool = False) -> Any:
        raise MalformedSecretError("The webhook secret is not valid JSON")

    with pytest.raises(MalformedSecretError):
        TokenGate(broken).check(A)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("  ", ()),
        ("one", ("one",)),
        ("one,two", ("one", "two")),
        (" one , two ,, one ", ("one", "two")),
        (["one", " two "], ("one", "two")),
    ],
)
def test_parse_webhook_tokens(value: Any, expected: tuple[str, ...]) -> None:
    assert parse_webhook_tokens(value) == expected


def test_a_bad_webhook_token_names_the_key() -> None:
    with pytest.raises(MalformedSecretError, match="'webhookToken' in the webhook secret") as caught:
        parse_webhook_tokens(["ok", 7])
    assert caught.value.key == "webhookToken"
