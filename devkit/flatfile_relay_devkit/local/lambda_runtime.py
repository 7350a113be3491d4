"""Invoke the functions' handlers the way Lambda would, and feed SQS queues to them like event source mappings.

No Docker here, so `sam local invoke` is out: handlers are imported from `functions/<dir>/app.py` and
called in this process with the environment template.yaml gives them and a Lambda-like context.

Example:
    >>> runtime = LocalLambda(deployment, root=Path("."))                       # doctest: +SKIP
    >>> runtime.invoke("PollerFunction", json.load(open("events/schedule.json")))  # doctest: +SKIP
    >>> runtime.drain("ExporterFunction")                                       # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools.metrics.provider import cold_start

from flatfile_relay.observability import get_metrics
from flatfile_relay_devkit.local.deployment import ACCOUNT, LocalDeployment
from flatfile_relay_devkit.local.moto import REGION
from flatfile_relay_devkit.local.template import FunctionSpec, SqsSource


@dataclass
class LocalContext:
    """The parts of Lambda's context object that handlers use."""

    function_name: str
    timeout: float
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class DrainReport:
    """What feeding one queue to its function did."""

    function: str
    invocations: int = 0
    delivered: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class LocalLambda:
    """Runs the template's functions in this process against a LocalDeployment."""

    def __init__(self, deployment: LocalDeployment, root: Path, timeout: float | None = None,
                 env_overrides: dict[str, str] | None = None) -> None:
        self.deployment = deployment
        self.root = root
        self.timeout = timeout
        self.env_overrides = dict(env_overrides or {})
        self._modules: dict[str, ModuleType] = {}

    def handler(self, function: str) -> Callable[[Any, Any], Any]:
        """The handler callable of a function, imported once (like a warm execution environment).

        Its first invocation is a cold start, as in a new execution environment: Powertools keeps that flag
        per process, and here one process runs every function. Its Metrics are built afresh with its own
        environment (the stack's namespace): the library keeps one per process, as Lambda has one function per
        execution environment.
        """
        spec = self.deployment.template.function(function)
        module_file, _, attribute = spec.handler.rpartition(".")
        if function not in self._modules:
            path = self.root / spec.code_uri / f"{module_file.replace('.', '/')}.py"
            with self.environment(function):
                get_metrics.cache_clear()
                self._modules[function] = load_module(f"_local_fn_{function}", path)
            cold_start.is_cold_start = True
        handler: Callable[[Any, Any], Any] = getattr(self._modules[function], attribute)
        return handler

    def context(self, function: str) -> LocalContext:
        spec = self.deployment.template.function(function)
        return LocalContext(function_name=function, timeout=self.timeout or spec.timeout)

    @contextmanager
    def environment(self, function: str) -> Iterator[None]:
        """The function's environment variables, set for the duration of a call."""
        variables = self.deployment.environment(function)
        variables["AWS_LAMBDA_FUNCTION_NAME"] = function
        variables.update(self.env_overrides)
        saved = {key: os.environ.get(key) for key in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def invoke(self, function: str, event: Any) -> Any:
        """Call the handler once with `event`; exceptions propagate as a failed invocation would."""
        handler = self.handler(function)
        with self.environment(function):
            return handler(event, self.context(function))

    def drain(self, function: str, max_invocations: int = 1000) -> DrainReport:
        """Deliver the function's SQS queue to it until the queue is empty, like an event source mapping.

        Messages in `batchItemFailures` (or all of a failed invocation) are made visible again at once —
        the visibility timeout is compressed to zero — so retries and the redrive to the DLQ after
        `maxReceiveCount` receives happen within the run.
        """
        spec = self.deployment.template.function(function)
        if not spec.sqs_sources:
            raise ValueError(f"{function} has no SQS event source")
        report = DrainReport(function=function)
        for source in spec.sqs_sources:
            self._drain_source(spec, source, report, max_invocations)
        return report

    def _drain_source(self, spec: FunctionSpec, source: SqsSource, report: DrainReport, limit: int) -> None:
        sqs = self.deployment.clients.sqs
        url = self.deployment.refs[source.queue]
        arn = self.deployment.arns[source.queue]
        while report.invocations < limit:
            received = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(source.batch_size, 10),
                AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=0,
            ).get("Messages", [])
            if not received:
                return
            event = {"Records": [_sqs_record(message, arn) for message in received]}
            report.invocations += 1
            report.delivered += len(received)
            failed_ids: set[str]
            try:
                response = self.invoke(spec.name, event)
            except Exception as error:  # noqa: BLE001 - a failed invocation: every message is retried
                report.errors.append(f"{type(error).__name__}: {error}")
                failed_ids = {m["MessageId"] for m in received}
            else:
                failed_ids = set()
                if source.report_failures:
                    failed_ids, problem = _failed_ids(response, {m["MessageId"] for m in received})
                    if problem:
                        report.errors.append(f"{problem}: the whole batch is retried")
            for message in received:
                if message["MessageId"] in failed_ids:
                    report.failed += 1
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    report.succeeded += 1
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _failed_ids(response: Any, received: set[str]) -> tuple[set[str], str]:
    """The messages a ReportBatchItemFailures response asks to retry, as Lambda reads it, and what was wrong.

    No response, no `batchItemFailures` or an empty list: every message succeeded. An item whose
    `itemIdentifier` is missing, empty or not a message of the batch, or a response of another shape:
    the whole batch failed (the second value then says why).
    """
    if response is None:
        return set(), ""
    if not isinstance(response, dict):
        return set(received), f"invalid batch response {str(response)[:200]!r}"
    failures = response.get("batchItemFailures")
    if failures is None:
        return set(), ""
    if not isinstance(failures, list):
        return set(received), f"invalid batch response {str(response)[:200]!r}"
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in received:
            return set(received), f"batchItemFailures names no message of the batch: {str(item)[:200]!r}"
        failed.add(identifier)
    return failed, ""


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to the function."""
    attributes = {
        key: value for key, value in (message.get("Attributes") or {}).items()
        if key in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
    }
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def load_module(name: str, path: Path) -> ModuleType:
    """Import the Python file at `path` as module `name`, afresh (module-level code runs again).

    Every function's module is called `app`, so each gets a name of its own. The module is registered in
    `sys.modules` under that name, as an import would (dataclasses and pickling look their module up there).
    """
    if not path.is_file():
        raise FileNotFoundError(f"handler module {path} does not exist")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
