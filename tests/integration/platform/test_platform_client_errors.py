"""What goes wrong, over real HTTP: a wrong key or environment, a wrong base URL, a flaky or garbled server, the
deadline; every message names the problem and the fix, never the key."""

from __future__ import annotations

import logging
import time

import pytest
from conftest import ClientFactory

from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile.errors import (
    ConfigurationError,
    ContractError,
    CredentialsRejectedError,
    ForbiddenError,
    RetriesExhaustedError,
)
from flatfile_relay.flatfile.transport import RequestCounts
from flatfile_relay.platform import PlatformAccount, PlatformClient
from flatfile_relay_devkit.emulator import Emulator, FaultRule


def test_a_wrong_key_is_a_configuration_error_that_never_shows_it(make_client: ClientFactory,
                                                                  deadline: Deadline) -> None:
    wrong = "sk_" + "w" * 32
    client = make_client(secret_key=wrong)
    with pytest.raises(CredentialsRejectedError, match="platformSecretKey") as caught:
        client.list_jobs(deadline)
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.status == 401
    assert wrong not in str(caught.value)
    assert wrong not in repr(client)


def test_a_key_of_another_environment_is_forbidden(emu: Emulator, make_client: ClientFactory,
                                                   deadline: Deadline) -> None:
    client = make_client(environment_id=emu.platform.account.foreign_environment_id)
    with pytest.raises(ForbiddenError, match="platformEnvironmentId"):
        client.list_jobs(deadline)
    with pytest.raises(ConfigurationError, match=r"has no environment .* set platformEnvironmentId"):
        client.get_environment(deadline)


def test_a_base_url_without_v1_is_a_configuration_error(emu: Emulator, make_client: ClientFactory,
                                                        deadline: Deadline) -> None:
    client = make_client(base_url=emu.url)  # the legacy API's root: its 404 is not the Platform's
    with pytest.raises(ConfigurationError, match="FLATFILE_PLATFORM_URL"):
        client.get_job("us_jb_anything", deadline)


def test_plain_http_is_only_for_loopback() -> None:
    account = PlatformAccount("sk_" + "k" * 32, "us_env_12345678")
    with pytest.raises(ConfigurationError, match=r"https://.*FLATFILE_PLATFORM_URL"):
        PlatformClient("http://api.x.flatfile.com/v1", account)
    PlatformClient("https://api.x.flatfile.com/v1", account).close()


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "drop", "invalid_json", "truncated"])
def test_transient_failures_are_retried(emu: Emulator, make_client: ClientFactory, deadline: Deadline,
                                        kind: str) -> None:
    emu.inject(FaultRule(kind=kind, path="/v1/jobs", count=2, retry_after=0.01))
    client = make_client()
    assert client.list_jobs(deadline).total_count == 3
    assert (client.transport.counts.requests, client.transport.counts.retries) == (3, 2)
    assert client.transport.counts.throttles == (2 if kind == "429" else 0)


def test_a_server_that_keeps_failing_exhausts_the_retries(emu: Emulator, make_client: ClientFactory,
                                                          deadline: Deadline) -> None:
    emu.inject(FaultRule(kind="503", path="/v1/workbooks/", count=None))
    with pytest.raises(RetriesExhaustedError, match="FLATFILE_PLATFORM_URL") as caught:
        make_client(max_attempts=3).get_workbook(emu.platform.sample_id("products"), deadline)
    assert (caught.value.attempts, caught.value.last_status) == (3, 503)


def test_a_garbled_answer_is_a_contract_error(emu: Emulator, make_client: ClientFactory, deadline: Deadline) -> None:
    emu.inject(FaultRule(kind="invalid_json", path="/v1/jobs", count=None, body='{"data": {"not": "a list"}}'))
    with pytest.raises(ContractError, match="without a `data` list"):
        make_client().list_jobs(deadline)


def test_latency_counts_against_the_deadline(emu: Emulator, make_client: ClientFactory) -> None:
    emu.set(latency=0.5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        make_client(max_attempts=2).list_jobs(Deadline.after(0.3))
    assert time.monotonic() - started < 2


def test_both_clients_can_share_one_request_count(emu: Emulator, make_client: ClientFactory,
                                                  deadline: Deadline) -> None:
    counts = RequestCounts()
    make_client(counts=counts).list_jobs(deadline)
    make_client(counts=counts).get_environment(deadline)
    assert counts.take().requests == 2


def test_the_key_never_reaches_a_log_line(emu: Emulator, make_client: ClientFactory, deadline: Deadline,
                                          caplog: pytest.LogCaptureFixture) -> None:
    key = emu.platform_secret["platformSecretKey"]
    emu.inject(FaultRule(kind="503", path="/v1/jobs", count=1))
    with caplog.at_level(logging.DEBUG, logger="flatfile_relay"):
        client = make_client()
        client.list_jobs(deadline)
        for name in ("flatfile_relay.flatfile", "flatfile_relay.platform"):
            logging.getLogger(name).warning("sent %s, key %s", client.account.authorization, key)
    assert caplog.records
    assert all(key not in record.getMessage() for record in caplog.records)
