"""Contract fixtures: the deployment in moto, the emulator, and the handlers with template.yaml's environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from contract_stack import Stack, restore_library_logger
from support.functions import ROOT


@pytest.fixture(scope="module")
def contract_deployment(moto_server: Any) -> Any:
    """template.yaml's resources in moto, created once per test module."""
    from flatfile_relay.aws import AwsClients
    from flatfile_relay.local.deployment import LocalDeployment
    from flatfile_relay.local.template import Template

    moto_server.reset()
    return LocalDeployment.create(Template.load(ROOT / "template.yaml"), AwsClients())


@pytest.fixture
def deployment(contract_deployment: Any) -> Any:
    """The module's deployment, emptied for this test: no objects, no ledger items, no messages."""
    clients = contract_deployment.clients
    refs = contract_deployment.refs
    table = refs["LedgerTable"]
    items = clients.dynamodb.scan(TableName=table, ProjectionExpression="batchId", ConsistentRead=True)["Items"]
    for item in items:
        clients.dynamodb.delete_item(TableName=table, Key={"batchId": item["batchId"]})
    bucket = refs["ExportBucket"]
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            clients.s3.delete_object(Bucket=bucket, Key=item["Key"])
    for name in contract_deployment.template.of_type("AWS::SQS::Queue"):
        while messages := clients.sqs.receive_message(
            QueueUrl=refs[name], MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
        ).get("Messages"):
            for message in messages:
                clients.sqs.delete_message(QueueUrl=refs[name], ReceiptHandle=message["ReceiptHandle"])
    return contract_deployment


@pytest.fixture
def stack_factory(
    deployment: Any, emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """`stack_factory(env={...}, **emulator_knobs)`: a Stack whose functions see that environment."""
    restore = restore_library_logger()
    made: list[Stack] = []

    def make(env: dict[str, str] | None = None, **knobs: Any) -> Stack:
        emulator = emulator_factory(**knobs)
        variables = deployment.environment("PollerFunction")  # Globals: the same for every function
        variables.pop("AWS_ENDPOINT_URL", None)  # empty in the template (for `sam local`); moto's stays set
        variables["FLATFILE_BASE_URL"] = emulator.url
        variables.update(env or {})
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        stack = Stack(deployment=deployment, emulator=emulator, env=variables)
        stack.put_secret(emulator.secret)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        for module in stack.modules.values():
            module.reset()
    restore()


@pytest.fixture
def stack(stack_factory: Any) -> Stack:
    """The default stack: template defaults, the emulator with its sample imports."""
    made: Stack = stack_factory()
    return made
