"""authenticate() and TokenGate: tokens from the secret, rotation, and re-reading a stale cached secret."""

from __future__ import annotations

from typing import Any

import pytest
from support.clock import Clock

from flatfile_relay.credentials import Credentials, MalformedSecretError
from flatfile_relay.webhook import TokenGate, authenticate


def credentials(*tokens: str) -> Credentials:
    return Credentials("FF00AAAA", "secret-access-key", "license", tuple(tokens))


def test_the_configured_token_is_accepted() -> None:
    assert authenticate("tok-current-1234", credentials("tok-current-1234"))


@pytest.mark.parametrize("presented", [None, "", "tok-current-123", "tok-current-12345", "TOK-CURRENT-1234",
                                       " tok-current-1234", "tok-current-1234,other"])
def test_anything_else_is_refused(presented: str | None) -> None:
    assert not authenticate(presented, credentials("tok-current-1234"))


def test_no_token_configured_refuses_everything() -> None:
    assert not authenticate("anything", credentials())
    assert not authenticate("", credentials())


def test_every_token_of_a_rotation_works() -> None:
    parsed = Credentials.from_secret(
        '{"accessKeyId": "FF00AAAA", "secretAccessKey": "s3cr3t-key", "licenseKey": "lic-1",'
        ' "webhookToken": "old-token-aaaa, new-token-bbbb"}'
    )
    assert authenticate("old-token-aaaa", parsed)
    assert authenticate("new-token-bbbb", parsed)
    assert not authenticate("old-token-aaaa, new-token-bbbb", parsed)


def test_non_ascii_tokens_compare_without_errors() -> None:
    assert authenticate("jeton-été-✓", credentials("jeton-été-✓"))
    assert not authenticate("jeton-ete-✓", credentials("jeton-été-✓"))
    assert not authenticate("\udcff-lone-surrogate", credentials("jeton-été-✓"))


class SecretStore:
    """Stands in for FlatfileConnection.credentials: a cached value and the value now in the secret."""

    def __init__(self, *tokens: str) -> None:
        self.cached = credentials(*tokens)
        self.current = self.cached
        self.reads: list[bool] = []

    def __call__(self, *, force: bool = False) -> Credentials:
        self.reads.append(force)
        if force:
            self.cached = self.current
        return self.cached


def test_a_missing_token_does_not_read_the_secret() -> None:
    store = SecretStore("tok-a-1234")
    gate = TokenGate(store)
    assert gate.check(None) == "missing"
    assert gate.check("") == "missing"
    assert store.reads == []


def test_a_token_added_to_the_secret_works_before_the_cache_expires() -> None:
    store = SecretStore("old-token-aaaa")
    store.current = credentials("old-token-aaaa", "new-token-bbbb")  # rotated; the cache holds the old one
    gate = TokenGate(store)
    assert gate.check("old-token-aaaa") == "accepted"
    assert gate.check("new-token-bbbb") == "accepted"
    assert store.reads == [False, False, True]


def test_wrong_tokens_force_a_read_at_most_once_per_interval() -> None:
    clock = Clock(1000.0)
    store = SecretStore("tok-a-1234")
    gate = TokenGate(store, refresh_after=60, clock=clock)
    for _ in range(5):
        assert gate.check("guess-0000") == "rejected"
    assert store.reads.count(True) == 1
    clock.now += 61
    assert gate.check("guess-0000") == "rejected"
    assert store.reads.count(True) == 2


def test_no_configured_token_is_reported_as_such() -> None:
    gate = TokenGate(SecretStore())
    assert gate.check("anything-1234") == "not-configured"


def test_errors_reading_the_secret_propagate() -> None:
    def broken(*, force: bool = False) -> Any:
        raise MalformedSecretError("The Flatfile secret has no 'licenseKey': add it.", key="licenseKey")

    with pytest.raises(MalformedSecretError):
        TokenGate(broken).check("tok-a-1234")


# -- is_configuration_error: a human must fix it, or retry later ----------------------------------------


def client_error(code: str, operation: str = "GetSecretValue") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "..."}}, operation)


def wrapped(outer: Exception, inner: Exception) -> Exception:
    """`outer` raised while handling `inner` (implicit chaining, as Powertools' GetParameterError is)."""
    outer.__context__ = inner
    return outer


def test_configuration_problems_need_a_human() -> None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from flatfile_relay.jobs import JobSendError
    from flatfile_relay.settings import SettingsError
    from flatfile_relay.webhook import is_configuration_error

    assert is_configuration_error(SettingsError("missing configuration: EXPORT_BUCKET"))
    assert is_configuration_error(MalformedSecretError("no 'licenseKey'", key="licenseKey"))
    assert is_configuration_error(client_error("NoSuchBucket", "PutObject"))
    missing = client_error("ResourceNotFoundException")
    assert is_configuration_error(wrapped(GetParameterError("not found"), missing))
    assert is_configuration_error(wrapped(GetParameterError("denied"), client_error("AccessDeniedException")))
    send_error = JobSendError("could not send", queue_url="q", sent=[], failed=[])
    send_error.__cause__ = client_error("AWS.SimpleQueueService.NonExistentQueue", "SendMessageBatch")
    assert is_configuration_error(send_error)


def test_transient_problems_are_not_configuration_problems() -> None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import EndpointConnectionError

    from flatfile_relay.webhook import is_configuration_error

    assert not is_configuration_error(client_error("ThrottlingException"))
    assert not is_configuration_error(client_error("InternalServerError", "PutObject"))
    assert not is_configuration_error(EndpointConnectionError(endpoint_url="https://sqs.example"))
    assert not is_configuration_error(wrapped(GetParameterError("throttled"), client_error("ThrottlingException")))
    assert not is_configuration_error(RuntimeError("something else"))
