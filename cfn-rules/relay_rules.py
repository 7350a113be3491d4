"""cfn-lint rules for the properties of template.yaml the relay depends on (run by `make validate`).

cfn-lint (1.x) merges the SAM Globals into each `AWS::Serverless::Function` but does not run the transform,
so the rules read the SAM events (and plain `AWS::Lambda::*` resources where a template has them).

    .venv-sam/bin/cfn-lint --append-rules cfn-rules template.yaml
"""

from __future__ import annotations

import itertools
import re
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


#: Resource types whose name the template may set, and the property that sets it. A set name must contain the
#: stack name; where AWS or SAM would otherwise pick a fixed one (a Glue database and an Athena workgroup must
#: be named, a SAM layer is named after its logical id), it must be set.
NAMED = {
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::Serverless::LayerVersion": ("LayerName",),
    "AWS::Lambda::LayerVersion": ("LayerName",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::Events::Rule": ("Name",),
    "AWS::Events::EventBus": ("Name",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::Glue::Table": (),  # named inside its database
}
MUST_BE_NAMED = ("AWS::Glue::Database", "AWS::Athena::WorkGroup", "AWS::Serverless::LayerVersion",
                 "AWS::Lambda::LayerVersion")
_STACK_NAME = "AWS::StackName"


def _names_the_stack(value: Any, parameters: dict[str, Any]) -> bool:
    """Whether a name is built from the stack name: `!Ref AWS::StackName`, a `!Sub` or `!Join` using it, or a
    `!Ref` to a parameter (the operator chose the name). Every branch of an `!If` must be."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Ref":
            return inner == _STACK_NAME or inner in parameters
        if key == "Fn::Sub":
            text = inner[0] if isinstance(inner, list) else inner
            return isinstance(text, str) and "${" + _STACK_NAME + "}" in text
        if key == "Fn::If" and isinstance(inner, list) and len(inner) == 3:
            return all(_names_the_stack(branch, parameters) for branch in inner[1:])
        if key in ("Fn::Join", "Fn::Split", "Fn::Select"):
            return _STACK_NAME in repr(inner)
    return False


def _minutes(schedule: str) -> float | None:
    """The longest gap between two runs of an EventBridge Scheduler expression, in minutes (None: unknown).

    `rate(N unit)` exactly. `cron(min hour dom month dow year)` with every day (dom and dow `*` or `?`) from
    its minutes and hours over a day; a cron that skips days leaves a gap of at least a day.

    Example:
        >>> _minutes("rate(5 minutes)"), _minutes("rate(1 hour)"), _minutes("cron(0/15 8-17 * * ? *)")
        (5.0, 60.0, 855.0)
    """
    text = schedule.strip()
    rate = re.fullmatch(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", text)
    if rate:
        return float(int(rate.group(1)) * {"m": 1, "h": 60, "d": 1440}[rate.group(2)[0]])
    cron = re.fullmatch(r"cron\(\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*\)", text)
    if not cron:
        return None  # at(...) runs once: nothing to compare
    minute, hour, day, _month, weekday, _year = cron.groups()
    if day not in ("*", "?") or weekday not in ("*", "?"):
        return 1440.0
    minutes = _cron_field(minute, 0, 59)
    hours = _cron_field(hour, 0, 23)
    if not minutes or not hours:
        return None
    runs = sorted(h * 60 + m for h in hours for m in minutes)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    return float(max([*gaps, runs[0] + 1440 - runs[-1]]))


def _cron_field(field: str, low: int, high: int) -> set[int]:
    """The values of one cron field: `*`, `n`, `a-b`, `a/step`, `*/step`, `a-b/step`, lists of these."""
    values: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if base == "*":
            start, end = low, high
        elif re.fullmatch(r"\d+-\d+", base):
            start, end = (int(v) for v in base.split("-"))
        elif base.isdigit():
            start, end = int(base), (high if step_text else int(base))
        else:
            return set()  # L, W, #, names: not read here
        values.update(range(start, end + 1, step))
    return {value for value in values if low <= value <= high}


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


def _one_or_none(value: Any) -> bool:
    """1, or `Fn::If` choosing between 1 and `AWS::NoValue` (reserved only when a parameter asks for it)."""
    if isinstance(value, dict) and "Fn::If" in value:
        choice = value["Fn::If"]
        branches = choice[1:] if isinstance(choice, list) and len(choice) == 3 else []
        ones = [branch for branch in branches if _int(branch) == 1]
        nothing = [branch for branch in branches if isinstance(branch, dict) and branch.get("Ref") == "AWS::NoValue"]
        return len(ones) == 1 and len(nothing) == 1
    return _int(value) == 1


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
    """The poller runs on a schedule: never more than one reserved execution (1, or `!If [cond, 1, !Ref
    AWS::NoValue]`: a new account's concurrency quota of 10 leaves none to reserve, and overlapping polls stay
    correct through the ledger), and a poll that failed after its retries lands in a dead-letter queue (an
    on-failure destination)."""

    id = "E9104"
    shortdesc = "Scheduled functions reserve at most one execution and have an on-failure destination"
    description = (
        "A function a schedule invokes has ReservedConcurrentExecutions 1 (or 1 under a condition, else none) "
        "and an OnFailure destination"
    )
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "lambda", "scheduler"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for function, resource in cfn.get_resources([*SERVERLESS_FUNCTION]).items():
            props = resource.get("Properties") or {}
            events = (props.get("Events") or {}).values()
            if not any(isinstance(e, dict) and e.get("Type") in ("Schedule", "ScheduleV2") for e in events):
                continue
            if not _one_or_none(props.get("ReservedConcurrentExecutions")):
                matches.append(RuleMatch(["Resources", function, "Properties"],
                                         f"{function}: a scheduled function needs ReservedConcurrentExecutions 1 "
                                         "(or !If [condition, 1, !Ref AWS::NoValue])"))
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


class StalePollerAlarmOutlastsTwoSchedulePeriods(CloudFormationLintRule):
    """StalePollerAlarm fires when no poll succeeded for `StalePollerMinutes`: shorter than two schedule periods,
    it is on between two polls that both succeeded (always, with rate(1 hour) and the default 30).

    Checked for the parameters' defaults, for each `parameter_overrides` that samconfig.toml beside the
    template saves (`sam deploy --guided` writes them there), and for values given to cfn-lint with
    `--parameters` (cfn-lint 1.x drops those for SAM templates, so samconfig.toml is the reliable place)."""

    id = "E9108"
    shortdesc = "StalePollerMinutes covers at least two schedule periods"
    description = "StalePollerMinutes >= 2 x the longest gap between two runs of ScheduleExpression"
    source_url = "https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html"
    tags: ClassVar[list[str]] = ["flatfile-relay", "scheduler", "cloudwatch"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        parameters = cfn.template.get("Parameters") or {}
        if "ScheduleExpression" not in parameters or "StalePollerMinutes" not in parameters:
            return []
        defaults = {name: spec.get("Default") for name, spec in parameters.items() if isinstance(spec, dict)}
        given = [("the defaults", {})]
        given += [(f"samconfig.toml [{env}]", values) for env, values in _saved_overrides(cfn.filename)]
        given += [("--parameters", dict(p.parameters)) for p in cfn.context.parameter_sets or []]
        matches = []
        for source, overrides in given:
            values = {**defaults, **overrides}
            period = _minutes(str(values.get("ScheduleExpression")))
            stale = _int(values.get("StalePollerMinutes"))
            if period is None or stale is None or stale >= 2 * period:
                continue
            matches.append(RuleMatch(
                ["Parameters", "StalePollerMinutes"],
                f"{source}: StalePollerMinutes {stale} is shorter than two periods of ScheduleExpression "
                f"{values.get('ScheduleExpression')!r} ({period:g} minutes between polls): StalePollerAlarm would "
                f"be on between two successful polls; set StalePollerMinutes to {2 * period:g} or more "
                f"(at most 1440)",
            ))
        return matches


def _saved_overrides(template: str | None) -> list[tuple[str, dict[str, str]]]:
    """(environment, parameter values) of each `parameter_overrides` in the samconfig.toml beside `template`."""
    import shlex
    import tomllib
    from pathlib import Path

    config = Path(template or "template.yaml").resolve().parent / "samconfig.toml"
    if not config.is_file():
        return []
    found = []
    for env, commands in tomllib.loads(config.read_text(encoding="utf-8")).items():
        for command in commands.values() if isinstance(commands, dict) else ():
            overrides = (command.get("parameters") or {}).get("parameter_overrides") if isinstance(command, dict) \
                else None
            if overrides:
                items = overrides if isinstance(overrides, list) else shlex.split(str(overrides))
                found.append((env, dict(str(item).split("=", 1) for item in items if "=" in str(item))))
    return found


class ExplicitNamesContainTheStackName(CloudFormationLintRule):
    """Two stacks of the relay live in one account and region (staging beside production): every name the
    template gives a resource is built from the stack name, and a ScheduleV2 event either omits its name or
    names it after the stack (SAM's default, `<FunctionId><EventName>`, is the same in every stack)."""

    id = "E9109"
    shortdesc = "Explicit resource names contain the stack name"
    description = "Names of Glue databases, layers, alarms, dashboards, rules, topics, schedules ... use AWS::StackName"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html"
    tags: ClassVar[list[str]] = ["flatfile-relay"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        parameters = cfn.template.get("Parameters") or {}
        matches = []
        for name, resource in cfn.get_resources(list(NAMED)).items():
            path = NAMED[resource["Type"]]
            if not path:
                continue
            value: Any = resource.get("Properties") or {}
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is None and resource["Type"] not in MUST_BE_NAMED:
                continue
            if not _names_the_stack(value, parameters):
                matches.append(RuleMatch(["Resources", name, "Properties", *path],
                                         f"{name}: {'/'.join(path)} must be built from AWS::StackName "
                                         "(two stacks in one account would share it)"))
        for function, resource in cfn.get_resources([*SERVERLESS_FUNCTION]).items():
            for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
                if not isinstance(event, dict) or event.get("Type") not in ("Schedule", "ScheduleV2"):
                    continue
                props = event.get("Properties") or {}
                if props.get("OmitName") is True or ("Name" in props and _names_the_stack(props["Name"], parameters)):
                    continue
                if event.get("Type") == "Schedule" and "Name" not in props:
                    continue  # an EventBridge rule: CloudFormation generates its name
                matches.append(RuleMatch(_path(function, "Properties", "Events", event_name, "Properties"),
                                         f"{function}/{event_name}: set OmitName: true or a Name built from "
                                         "AWS::StackName (SAM names the schedule the same in every stack)"))
        return matches
