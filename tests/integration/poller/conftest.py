"""Fixtures for the poller: the emulator and a moto deployment wired together, plus the handler module."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from poller_harness import PAGE, Relay
from support.functions import ROOT, function_with_environment

from flatfile_relay.flatfile import FlatfileClient
from flatfile_relay.ledger import Ledger


@pytest.fixture(scope="module")
def module_deployment(moto_server: Any) -> Any:
    """template.yaml's resources in moto, created once per test module (creating them takes ~0.4 s)."""
    from flatfile_relay.aws import AwsClients
    from flatfile_relay.local.deployment import LocalDeployment
    from flatfile_relay.local.template import Template

    moto_server.reset()
    return LocalDeployment.create(Template.load(ROOT / "template.yaml"), AwsClients())


@pytest.fixture
def deployment(module_deployment: Any) -> Any:
    """The module's deployment, emptied for this test: no ledger items, no queued messages."""
    clients = module_deployment.clients
    table = module_deployment.refs["LedgerTable"]
    pages = clients.dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="batchId")
    keys = [{"batchId": item["batchId"]} for page in pages for item in page["Items"]]
    for start in range(0, len(keys), 25):
        clients.dynamodb.batch_write_item(
            RequestItems={table: [{"DeleteRequest": {"Key": key}} for key in keys[start:start + 25]]}
        )
    for name in module_deployment.template.of_type("AWS::SQS::Queue"):
        url = module_deployment.refs[name]
        while messages := clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
        ).get("Messages"):
            clients.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    return module_deployment


@pytest.fixture
def relay(deployment: Any, emulator: Any) -> Iterator[Relay]:
    """The template's resources in moto, the emulator's credentials in the secret, pages of 20."""
    settings = dataclasses.replace(
        deployment.settings("PollerFunction"), flatfile_base_url=emulator.url, batch_page_size=PAGE
    )
    clients = deployment.clients
    secret = json.dumps(emulator.secret)
    clients.secretsmanager.put_secret_value(SecretId=settings.secret_id, SecretString=secret)
    client = FlatfileClient(emulator.url, emulator.secret, timeout=5, backoff_base=0.01, backoff_cap=0.05)
    yield Relay(
        emu=emulator, deployment=deployment, settings=settings, client=client,
        ledger=Ledger(settings.ledger_table, clients.dynamodb), sqs=clients.sqs,
    )
    client.close()


@pytest.fixture
def poller_app(monkeypatch: pytest.MonkeyPatch, deployment: Any, emulator: Any) -> Iterator[ModuleType]:
    """The handler module with PollerFunction's environment (pointed at moto and the emulator)."""
    yield from function_with_environment(
        monkeypatch, deployment, "poller", "PollerFunction", FLATFILE_BASE_URL=emulator.url
    )
