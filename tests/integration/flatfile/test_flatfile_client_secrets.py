"""No secret, token or API key in any exception, repr or log line, in a run full of faults and failures."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from flatfile_relay.deadline import Deadline, DeadlineExceededError
from flatfile_relay.flatfile import FlatfileError
from flatfile_relay_devkit.emulator import Emulator, FaultRule

NEVER = Deadline.never()


def chain(error: BaseException) -> list[BaseException]:
    """The error and every error it was raised from or during."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def test_no_secret_anywhere(emu: Emulator, make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = emu.secret
    wrong_secret = "Q" * 40
    errors: list[BaseException] = []
    tokens: list[str] = []

    def expect_failure(action: Callable[[], object]) -> None:
        try:
            action()
        except (FlatfileError, DeadlineExceededError) as error:
            errors.append(error)
        else:
            pytest.fail("expected a FlatfileError or a DeadlineExceededError")

    token_client = make_client()
    api_key_client = make_client(auth="api_key")
    impatient = make_client(max_attempts=2)
    wrong = make_client({**secret, "secretAccessKey": wrong_secret})
    wrong_api_key = make_client({**secret, "secretAccessKey": wrong_secret}, auth="api_key")
    other_license = make_client({**secret, "licenseKey": str(uuid.uuid4())})

    # faults that recover, on every kind of request
    emu.inject(
        FaultRule(kind="429", path="/rest/batches", count=1, retry_after=0.05),
        FaultRule(kind="503", path="/auth/access-key/exchange", count=1),
        FaultRule(kind="drop", path="/rest/batch/", count=1),
        FaultRule(kind="invalid_json", path="/graphql", count=1),
    )
    list(token_client.iter_batches(NEVER))
    tokens.append(token_client.token_auth.token(NEVER))
    list(token_client.iter_rows(emu.samples["nasty"], NEVER))
    token_client.graphql_get_batch(emu.samples["single"], NEVER)
    list(api_key_client.iter_batches(NEVER))
    emu.revoke_tokens()  # a 401 and a re-exchange
    list(token_client.iter_rows(emu.samples["single"], NEVER))
    tokens.append(token_client.token_auth.token(NEVER))

    # failures of every kind
    emu.inject(FaultRule(kind="503", path="/rest/batches", count=None))
    expect_failure(lambda: list(impatient.iter_batches(NEVER)))
    emu.clear_faults()
    emu.inject(FaultRule(kind="invalid_json", path="/rest/batch/", count=None))
    expect_failure(lambda: impatient.get_batch(emu.samples["single"], NEVER))
    emu.clear_faults()
    emu.inject(FaultRule(kind="429", path="/rest/batches", count=1, retry_after=30))
    expect_failure(lambda: list(token_client.iter_batches(Deadline.after(1))))
    emu.clear_faults()
    expect_failure(lambda: list(wrong.iter_batches(NEVER)))
    expect_failure(lambda: list(wrong_api_key.iter_batches(NEVER)))
    expect_failure(lambda: list(other_license.iter_batches(NEVER)))
    expect_failure(lambda: token_client.get_batch(str(uuid.uuid4()), NEVER))
    expect_failure(lambda: token_client.get_batch("not-a-uuid", NEVER))
    expect_failure(lambda: token_client.graphql("query Bad { nope }", None, NEVER))
    tokens.append(token_client.token_auth.token(NEVER))
    assert len(errors) == 9

    secrets = {
        "secretAccessKey": secret["secretAccessKey"],
        "wrong secretAccessKey": wrong_secret,
        "api key": f"{secret['accessKeyId']}+{secret['secretAccessKey']}",
        "access key id": secret["accessKeyId"],
        "webhook token": secret["webhookToken"],
        **{f"token {n}": token for n, token in enumerate(tokens)},
    }
    texts: dict[str, str] = {"log": caplog.text}
    for record in caplog.records:
        texts[f"log record {record.name}"] = f"{record.getMessage()} {record.__dict__}"
    for n, error in enumerate(errors):
        for link in chain(error):
            texts[f"error {n} {type(link).__name__}"] = f"{link} | {link!r} | {link.args!r}"
        texts[f"traceback {n}"] = "".join(traceback.format_exception(error))
    for n, client in enumerate((token_client, api_key_client, wrong, other_license)):
        texts[f"client {n}"] = f"{client!r} {client.credentials!r} {client.credentials} {client.token_auth!r}"

    assert any("retrying" in record.getMessage() for record in caplog.records)  # the run did log
    leaks = [
        (name, where) for where, text in texts.items() for name, value in secrets.items() if value in text
    ]
    assert leaks == []
    # the license key is not a secret, but the client's log lines carry paths only (urllib3's debug lines
    # show query strings: the library never configures them)
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("flatfile_relay")]
    assert ours
    assert all(secret["licenseKey"] not in line for line in ours)
