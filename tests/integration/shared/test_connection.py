"""FlatfileConnection with a real Powertools SecretsProvider (moto) and the emulator over HTTP.

A secret that is malformed, or whose credentials Flatfile rejects, is never served from Powertools' cache:
fixing the secret takes effect at the next call, without waiting for the cache (300 s) to expire.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from support.relay import Relay

import flatfile_relay
from flatfile_relay.connection import FlatfileConnection
from flatfile_relay.credentials import Credentials, MalformedSecretError
from flatfile_relay.deadline import Deadline
from flatfile_relay.flatfile import CredentialsRejectedError, FlatfileClient
from flatfile_relay.platform import PlatformClient
from flatfile_relay.settings import SettingsError
from flatfile_relay_devkit.emulator import Emulator

WRONG_KEY = "W" * 40


@dataclass
class ConnectedRelay(Relay):
    """The relay harness plus a FlatfileConnection on a new SecretsProvider (an empty cache) over the warm
    boto3 client, whose reads of Secrets Manager are counted."""

    provider: Any = None
    connection: Any = None
    reads: int = 0

    @classmethod
    def connect(cls, deployment: Any, emulator: Emulator) -> ConnectedRelay:
        relay = cls.create(deployment, emulator, max_attempts=2, request_timeout=5.0)
        relay.provider = SecretsProvider(boto3_client=relay.clients.secretsmanager)
        relay.connection = FlatfileConnection(relay.settings, secrets=relay.provider)
        return relay

    def count(self, **_: Any) -> None:
        self.reads += 1

    def good_secret(self) -> dict[str, str]:
        return dict(self.emu.secret)

    def rejected_secret(self) -> dict[str, str]:
        return {**self.emu.secret, "secretAccessKey": WRONG_KEY}

    def exchanges(self) -> list[int]:
        return [record.status for record in self.emu.requests_to("/auth/access-key/exchange")]


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def relay(module_deployment: Any, module_emulator: Emulator) -> Iterator[ConnectedRelay]:
    """One deployment and one emulator for the module; a new connection (and secret cache) per test."""
    module_emulator.clear_request_log()
    module_emulator.revoke_tokens()
    relay = ConnectedRelay.connect(module_deployment, module_emulator)
    events = relay.clients.secretsmanager.meta.events
    event = "before-call.secrets-manager.GetSecretValue"
    events.register(event, relay.count, unique_id="count-secret-reads")
    yield relay
    events.unregister(event, unique_id="count-secret-reads")
    relay.close()


def read_batch(relay: ConnectedRelay) -> Callable[[FlatfileClient], dict[str, Any]]:
    def work(client: FlatfileClient) -> dict[str, Any]:
        return client.get_batch(relay.emu.samples["single"], Deadline.after(10))

    return work


# -- the secret ------------------------------------------------------------------------------------


def test_credentials_come_from_the_secret_and_are_cached(relay: ConnectedRelay) -> None:
    relay.put_secret(relay.good_secret())
    credentials = relay.connection.credentials()
    assert credentials == Credentials.from_secret(relay.good_secret())
    assert relay.connection.credentials() == credentials
    assert relay.reads == 1  # Powertools' cache answered the second time
    relay.put_secret({**relay.good_secret(), "licenseKey": "rotated-license"})
    assert relay.connection.credentials() == credentials  # still cached ...
    assert relay.connection.credentials(force=True).license_key == "rotated-license"  # ... unless forced
    assert relay.reads == 2


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        ({"accessKeyId": "FF00ABC", "licenseKey": "lic-1"}, "secretAccessKey"),
        ({"accessKeyId": "FF00ABC", "secretAccessKey": "  ", "licenseKey": "lic-1"}, "secretAccessKey"),
        ({"accessKeyId": 12, "secretAccessKey": "s3cret-value", "licenseKey": "lic-1"}, "accessKeyId"),
        ({"accessKeyId": "FF00ABC", "secretAccessKey": "s3cret-value"}, "licenseKey"),
        ('{"accessKeyId": "FF00ABC", "secretAccessKey": "s3cret-value",', None),
    ],
)
def test_a_malformed_secret_names_the_key_and_is_read_again_once_fixed(
    relay: ConnectedRelay, secret: Any, key: str | None
) -> None:
    relay.put_secret(secret)
    with pytest.raises(MalformedSecretError) as caught:
        relay.connection.credentials()
    assert caught.value.key == key
    if key is not None:
        assert repr(key) in str(caught.value)
    else:
        assert "not valid JSON" in str(caught.value)
    assert "s3cret-value" not in str(caught.value)
    # still malformed: read again (not from the cache), same error
    with pytest.raises(MalformedSecretError):
        relay.connection.credentials()
    assert relay.reads == 2
    # fixed: the very next call reads it, although Powertools cached the malformed value a moment ago
    relay.put_secret(relay.good_secret())
    assert relay.connection.credentials() == Credentials.from_secret(relay.good_secret())
    assert relay.reads == 3
    # and once it is good, the cache is trusted again
    relay.connection.credentials()
    assert relay.reads == 3


def test_run_with_a_malformed_secret_never_starts_the_work(relay: ConnectedRelay) -> None:
    relay.put_secret({"accessKeyId": "FF00ABC"})
    calls: list[FlatfileClient] = []
    with pytest.raises(MalformedSecretError, match="secretAccessKey"):
        relay.connection.run(calls.append)
    assert calls == []
    assert relay.emu.request_log == []


def test_the_connection_needs_a_secret_id(relay: ConnectedRelay) -> None:
    with pytest.raises(SettingsError, match="FLATFILE_SECRET_ID"):
        FlatfileConnection(dataclasses.replace(relay.settings, secret_id=""))


def test_the_default_provider_is_built_on_first_use(relay: ConnectedRelay) -> None:
    relay.put_secret(relay.good_secret())
    connection = FlatfileConnection(relay.settings)
    assert connection.credentials().access_key_id == relay.good_secret()["accessKeyId"]


# -- the client ------------------------------------------------------------------------------------


def test_the_client_says_it_is_the_relay(relay: Relay) -> None:
    relay.put_secret(relay.good_secret())
    assert relay.connection.client().transport.user_agent.startswith(f"flatfile-relay/{flatfile_relay.__version__} ")


def test_the_client_is_reused_while_the_credentials_do_not_change(
    relay: ConnectedRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "0")  # no cache: every call reads the secret
    relay.put_secret(relay.good_secret())
    first = relay.connection.client()
    assert relay.connection.client() is first  # read again, unchanged: the same client
    assert relay.connection.run(read_batch(relay))["id"] == relay.emu.samples["single"]
    assert relay.connection.run(read_batch(relay))["id"] == relay.emu.samples["single"]
    assert relay.reads == 4
    assert relay.exchanges() == [201]  # one token for every call: the warm client kept it
    assert first.credentials.access_key_id == relay.good_secret()["accessKeyId"]

    relay.put_secret({**relay.good_secret(), "licenseKey": "rotated-license"})
    second = relay.connection.client()
    assert second is not first
    assert second.credentials.license_key == "rotated-license"
    assert relay.connection.client() is second


# -- credentials rejected by Flatfile ------------------------------------------------------------------


def test_rejected_credentials_are_read_again_and_the_work_retried_when_fixed_meanwhile(relay: ConnectedRelay) -> None:
    relay.put_secret(relay.rejected_secret())
    clients: list[FlatfileClient] = []

    def work(client: FlatfileClient) -> dict[str, Any]:
        clients.append(client)
        if len(clients) == 1:
            relay.put_secret(relay.good_secret())  # an operator fixes the secret while the poll runs
        return read_batch(relay)(client)

    batch = relay.connection.run(work)
    assert batch["id"] == relay.emu.samples["single"]
    assert len(clients) == 2
    assert clients[0] is not clients[1]
    assert clients[1].credentials.secret_access_key == relay.good_secret()["secretAccessKey"]
    assert relay.reads == 2  # the first read, then one forced re-read (the cache still held the bad key)
    assert relay.exchanges() == [401, 201]
    # from now on the good client is reused and the cache trusted
    assert relay.connection.client() is clients[1]
    assert relay.reads == 2


def test_rejected_credentials_not_fixed_raise_after_one_re_read(relay: ConnectedRelay) -> None:
    relay.put_secret(relay.rejected_secret())
    calls: list[FlatfileClient] = []

    def work(client: FlatfileClient) -> dict[str, Any]:
        calls.append(client)
        return read_batch(relay)(client)

    with pytest.raises(CredentialsRejectedError) as caught:
        relay.connection.run(work)
    assert WRONG_KEY not in str(caught.value)
    assert len(calls) == 1  # the same credentials again: not worth a second try
    assert relay.reads == 2  # the first read and one forced re-read, no more

    # still not fixed at the next invocation: read afresh (not from the cache), rejected again
    with pytest.raises(CredentialsRejectedError):
        relay.connection.run(work)
    assert relay.reads == 4

    # fixed between invocations: the next one reads it at once, despite the cache
    relay.put_secret(relay.good_secret())
    assert relay.connection.run(work)["id"] == relay.emu.samples["single"]
    assert relay.reads == 5
    assert calls[-1] is not calls[0]


def test_rejected_again_after_a_change_raises(relay: ConnectedRelay) -> None:
    relay.put_secret(relay.rejected_secret())
    calls: list[FlatfileClient] = []

    def work(client: FlatfileClient) -> dict[str, Any]:
        calls.append(client)
        if len(calls) == 1:  # "fixed" with another wrong key
            relay.put_secret({**relay.rejected_secret(), "secretAccessKey": "V" * 40})
        return read_batch(relay)(client)

    with pytest.raises(CredentialsRejectedError):
        relay.connection.run(work)
    assert len(calls) == 2
    assert relay.exchanges() == [401, 401]
    # the next invocation does not trust the cache either
    relay.put_secret(relay.good_secret())
    assert relay.connection.run(read_batch(relay))["id"] == relay.emu.samples["single"]


def test_a_secret_made_malformed_while_rejected_reports_the_bad_key(relay: ConnectedRelay) -> None:
    relay.put_secret(relay.rejected_secret())

    def work(client: FlatfileClient) -> dict[str, Any]:
        relay.put_secret({"accessKeyId": "FF00ABC", "licenseKey": "lic-1"})
        return read_batch(relay)(client)

    with pytest.raises(MalformedSecretError) as caught:
        relay.connection.run(work)
    assert caught.value.key == "secretAccessKey"
    relay.put_secret(relay.good_secret())
    assert relay.connection.credentials().secret_access_key == relay.good_secret()["secretAccessKey"]


# -- both sources ----------------------------------------------------------------------------------


def test_a_secret_with_both_sets_gives_a_client_of_each_source(relay: ConnectedRelay) -> None:
    relay.put_secret({**relay.good_secret(), **relay.emu.platform_secret})

    assert relay.connection.sources() == ("legacy", "platform")
    batch = relay.connection.run(read_batch(relay))
    page = relay.connection.run(lambda client: client.list_jobs(Deadline.after(10)), source="platform")

    assert batch["id"] == relay.emu.samples["single"]
    assert isinstance(relay.connection.client("platform"), PlatformClient)
    assert page.total_count == len(page.jobs) > 0
    assert relay.reads == 1  # one secret, read once for both clients


def test_a_platform_only_secret_names_the_legacy_keys_when_the_legacy_source_is_asked_for(
    relay: ConnectedRelay,
) -> None:
    relay.put_secret(relay.emu.platform_secret)

    assert relay.connection.sources() == ("platform",)
    with pytest.raises(MalformedSecretError, match="accessKeyId, secretAccessKey, licenseKey"):
        relay.connection.run(read_batch(relay))


def test_a_refused_platform_key_is_read_again_and_the_work_retried_when_fixed_meanwhile(
    relay: ConnectedRelay,
) -> None:
    good = relay.emu.platform_secret
    relay.put_secret({**good, "platformSecretKey": "sk_" + "W" * 30})
    relay.connection.client("platform")  # the wrong key, cached by Powertools
    relay.put_secret(good)  # fixed meanwhile

    page = relay.connection.run(lambda client: client.list_jobs(Deadline.after(10)), source="platform")

    assert page.total_count > 0
    assert relay.reads == 2  # the refusal made the connection read the secret again


def test_a_refused_platform_key_not_fixed_raises_without_touching_the_legacy_client(relay: ConnectedRelay) -> None:
    relay.put_secret({**relay.good_secret(), **relay.emu.platform_secret, "platformSecretKey": "sk_" + "W" * 30})

    with pytest.raises(CredentialsRejectedError):
        relay.connection.run(lambda client: client.list_jobs(Deadline.after(10)), source="platform")
    assert relay.connection.run(read_batch(relay))["id"] == relay.emu.samples["single"]
