"""cfn-lint rules for the properties of template.yaml the relay depends on (run by `make validate`).

cfn-lint (1.x) merges the SAM Globals into each `AWS::Serverless::Function` but does not run the transform,
so the rules read the SAM events (and plain `AWS::Lambda::*` resources where a template has them).

    .venv-sam/bin/cfn-lint --append-rules cfn-rules template.yaml
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

# Environment variables whose value names an AWS resource, by the suffix of their name.
RESOURCE_NAME_SUFFIXES = ("_TABLE", "_QUEUE_URL", "_BUCKET", "_SECRET_ID", "_ARN")
INTRINSICS = ("Ref", "Fn::GetAtt", "Fn::Sub")
SERVERLESS_FUNCTION = ("AWS::Serverless::Function",)
FUNCTIONS = ["AWS::Serverless::Function", "AWS::Lambda::Function"]
PHYSICAL_NAMES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
}


def _target(value: Any) -> str | None:
    """The logical id a `Ref` / `Fn::GetAtt` points at, else None."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (key, inner), = value.items()
    if key == "Ref" and isinstance(inner, str):
        return inner
    if key == "Fn::GetAtt":
        return str(inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0])
    return None


def _sqs_triggers(cfn: Any) -> list[tuple[str, dict[str, Any], str, str]]:
    """(path, event source properties, queue id, function id) of every function trigger reading a queue."""
    resources = cfn.get_resources()
    found = []
    for function, resource in cfn.get_resources([*SERVERLESS_FUNCTION]).items():
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if isinstance(event, dict) and event.get("Type") == "SQS":
                props = event.get("Properties") or {}
                found.append((f"{function}/Events/{event_name}", props, str(_target(props.get("Queue"))), function))
    for name, mapping in cfn.get_resources(["AWS::Lambda::EventSourceMapping"]).items():
        props = mapping.get("Properties") or {}
        queue, function = _target(props.get("EventSourceArn")), _target(props.get("FunctionName"))
        if queue in resources and resources[queue].get("Type") == "AWS::SQS::Queue":
            found.append((name, props, queue, str(function)))
    return found


def _path(where: str, *more: str) -> list[str]:
    return ["Resources", *where.split("/"), *more]


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    secure = ((statement.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")
    return str(secure).lower() == "false"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class SqsTriggerReportsBatchItemFailures(CloudFormationLintRule):
    """A record that failed must fail alone: without ReportBatchItemFailures the handlers' partial batch
    responses are ignored and a whole batch is retried (or acknowledged)."""

    id = "E9101"
    shortdesc = "SQS event sources report batch item failures"
    description = "Every SQS event source has FunctionResponseTypes [ReportBatchItemFailures]"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "sqs", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        return [
            RuleMatch(_path(name, "Properties"),
                      f"{name}: the SQS event source must have FunctionResponseTypes [ReportBatchItemFailures]")
            for name, props, _queue, _function in _sqs_triggers(cfn)
            if "ReportBatchItemFailures" not in (props.get("FunctionResponseTypes") or [])
        ]


class QueueVisibilityCoversSixTimeouts(CloudFormationLintRule):
    """A message must stay hidden while the function (and its retries) may still work on it: AWS asks for a
    visibility timeout of at least six times the function's timeout."""

    id = "E9102"
    shortdesc = "Queue VisibilityTimeout >= 6 x the consuming function's Timeout"
    description = "Each queue feeding a function hides its messages for at least six of its timeouts"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "sqs", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.get_resources()
        matches = []
        for _where, _props, queue, function in _sqs_triggers(cfn):
            visibility = _int((resources[queue].get("Properties") or {}).get("VisibilityTimeout", 30))
            timeout = _int(((resources.get(function) or {}).get("Properties") or {}).get("Timeout", 3))
            if visibility is None or timeout is None or visibility < 6 * timeout:
                matches.append(RuleMatch(
                    ["Resources", queue, "Properties", "VisibilityTimeout"],
                    f"{queue}: VisibilityTimeout {visibility} is less than 6 x {function}'s Timeout {timeout}",
                ))
        return matches


class TriggeringQueueHasDeadLetterQueue(CloudFormationLintRule):
    """A message that keeps failing ends in a dead-letter queue of this stack instead of looping or being lost."""

    id = "E9103"
    shortdesc = "Queues that trigger a function redrive to a dead-letter queue"
    description = "Each queue feeding a function has a RedrivePolicy to an SQS queue of the template"
    source_url = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "sqs"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.get_resources()
        matches = []
        for queue in sorted({queue for _name, _props, queue, _function in _sqs_triggers(cfn)}):
            redrive = (resources[queue].get("Properties") or {}).get("RedrivePolicy") or {}
            dlq = _target(redrive.get("deadLetterTargetArn"))
            if dlq not in resources or resources[dlq].get("Type") != "AWS::SQS::Queue":
                matches.append(RuleMatch(["Resources", queue, "Properties"],
                                         f"{queue}: no RedrivePolicy to a dead-letter queue of this template"))
            elif not 1 <= (_int(redrive.get("maxReceiveCount")) or 0) <= 10:
                matches.append(RuleMatch(["Resources", queue, "Properties", "RedrivePolicy"],
                                         f"{queue}: maxReceiveCount must be between 1 and 10"))
        return matches


class ScheduledFunctionIsASingletonWithFailureDestination(CloudFormationLintRule):
    """The poller runs on a schedule: one poll at a time (reserved concurrency 1), and a poll that failed after
    its retries lands in a dead-letter queue (an on-failure destination)."""

    id = "E9104"
    shortdesc = "Scheduled functions are singletons with an on-failure destination"
    description = "A function a schedule invokes has ReservedConcurrentExecutions 1 and an OnFailure destination"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "lambda", "scheduler"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for function, resource in cfn.get_resources([*SERVERLESS_FUNCTION]).items():
            props = resource.get("Properties") or {}
            events = (props.get("Events") or {}).values()
            if not any(isinstance(e, dict) and e.get("Type") in ("Schedule", "ScheduleV2") for e in events):
                continue
            if _int(props.get("ReservedConcurrentExecutions")) != 1:
                matches.append(RuleMatch(["Resources", function, "Properties"],
                                         f"{function}: a scheduled function needs ReservedConcurrentExecutions 1"))
            destination = ((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure")
            if not destination:
                matches.append(RuleMatch(["Resources", function, "Properties"],
                                         f"{function}: a scheduled function needs an OnFailure destination"))
        return matches


class EnvironmentNamesResourcesByReference(CloudFormationLintRule):
    """Resource names reach the code only through the environment, built from the template's own resources,
    so several stacks can live in one account and region."""

    id = "E9105"
    shortdesc = "Environment variables naming a resource use !Ref / !GetAtt / !Sub"
    description = "Every *_TABLE, *_QUEUE_URL, *_BUCKET, *_SECRET_ID, *_ARN variable refers to a resource"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.get_resources()
        matches = []
        for function, resource in cfn.get_resources(FUNCTIONS).items():
            variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            for key, value in variables.items():
                if not key.endswith(RESOURCE_NAME_SUFFIXES):
                    continue
                path = ["Resources", function, "Properties", "Environment", "Variables", key]
                if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS):
                    matches.append(RuleMatch(path, f"{function}: {key} must be built with !Ref, !GetAtt or !Sub"))
                elif "Fn::Sub" not in value and _target(value) not in resources:
                    matches.append(RuleMatch(path, f"{function}: {key} must refer to a resource of the template"))
        return matches


class NoPhysicalNames(CloudFormationLintRule):
    """Nothing has a hard-coded physical name, so several stacks can live in one account and region."""

    id = "E9106"
    shortdesc = "No hard-coded physical resource names"
    description = "Buckets, queues, tables, secrets and functions get generated names"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html"
    tags: ClassVar[list[str]] = ["flatfile-relay"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        return [
            RuleMatch(["Resources", name, "Properties", PHYSICAL_NAMES[resource["Type"]]],
                      f"{name}: no hard-coded {PHYSICAL_NAMES[resource['Type']]} (let CloudFormation name it)")
            for name, resource in cfn.get_resources(list(PHYSICAL_NAMES)).items()
            if PHYSICAL_NAMES[resource["Type"]] in (resource.get("Properties") or {})
        ]


class QueuesAndBucketsAreEncryptedAndPrivate(CloudFormationLintRule):
    """Exports and messages stay encrypted at rest; buckets block every kind of public access and plain HTTP."""

    id = "E9107"
    shortdesc = "Queues are encrypted; buckets are encrypted, block public access and refuse plain HTTP"
    description = ("SqsManagedSseEnabled or a KMS key on every queue; encryption, a full public access block and "
                   "a TLS-only bucket policy on every bucket")
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "security"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        tls_only = set()
        for policy in cfn.get_resources(["AWS::S3::BucketPolicy"]).values():
            props = policy.get("Properties") or {}
            statements = (props.get("PolicyDocument") or {}).get("Statement") or []
            if any(isinstance(st, dict) and st.get("Effect") == "Deny" and _denies_plain_http(st) for st in statements):
                tls_only.add(_target(props.get("Bucket")))
        matches = []
        for name, queue in cfn.get_resources(["AWS::SQS::Queue"]).items():
            props = queue.get("Properties") or {}
            if props.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in props:
                matches.append(RuleMatch(["Resources", name, "Properties"], f"{name}: the queue is not encrypted"))
        for name, bucket in cfn.get_resources(["AWS::S3::Bucket"]).items():
            props = bucket.get("Properties") or {}
            block = props.get("PublicAccessBlockConfiguration") or {}
            flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
            if not all(block.get(flag) is True for flag in flags):
                matches.append(RuleMatch(["Resources", name, "Properties"],
                                         f"{name}: PublicAccessBlockConfiguration must set all four flags true"))
            if not props.get("BucketEncryption"):
                matches.append(RuleMatch(["Resources", name, "Properties"], f"{name}: no BucketEncryption"))
            if name not in tls_only:
                matches.append(RuleMatch(["Resources", name],
                                         f"{name}: no bucket policy denies requests without aws:SecureTransport"))
        return matches
