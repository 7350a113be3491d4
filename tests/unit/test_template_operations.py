"""Operating the stack: alarms, dashboard, alert topic, architecture, and the docs that document them
(docs/operations.md, "Alarms"; docs/deploy.md, the guided deploy; the secrets commands everywhere)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.cloudwatch import NAMESPACE, NAMESPACE_SUB, alarm_metrics, alarms, dashboard_body, dashboard_metrics
from support.docs import block, documents

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
FUNCTIONS = ("PollerFunction", "ExporterFunction", "WebhookFunction", "ConsumerFunction")
DLQS = ("PollerDLQ", "ExportJobsDLQ", "NoticesDLQ", "ConsumerDLQ")
NO_VALUE = {"Ref": "AWS::NoValue"}
#: the resource type a dimension of an AWS namespace must name, and the attribute that gives its value
AWS_DIMENSIONS = {
    "QueueName": ("AWS::SQS::Queue", "!GetAtt {}.QueueName"),
    "FunctionName": ("AWS::Serverless::Function", "!Ref {}"),
}


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name]["Properties"])


def by_metric(template: dict[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    return {name: a["Properties"] for name, a in alarms(template).items() if a["Properties"]["MetricName"] == metric}


# ---------------------------------------------------------------- what is watched


def test_any_message_in_each_dlq_alarms(template: dict[str, Any]) -> None:
    dlqs = {name for name, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue" and "DLQ" in name}
    assert dlqs == set(DLQS)
    watched = {}
    for name, alarm in by_metric(template, "ApproximateNumberOfMessagesVisible").items():
        assert alarm["Namespace"] == "AWS/SQS"
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Maximum", 1, "GreaterThanOrEqualToThreshold"), name
        [dimension] = alarm["Dimensions"]
        watched[dimension["Value"]["Fn::GetAtt"][0]] = name
    assert set(watched) == dlqs


def test_errors_of_each_function_alarm(template: dict[str, Any]) -> None:
    watched = {a["Dimensions"][0]["Value"]["Ref"] for a in by_metric(template, "Errors").values()}
    assert watched == set(FUNCTIONS)
    for alarm in by_metric(template, "Errors").values():
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Statistic"] == "Sum"


def test_the_stale_poller_alarm_exists_only_while_the_schedule_is_enabled(template: dict[str, Any]) -> None:
    [(name, alarm)] = by_metric(template, "PollSucceeded").items()
    assert template["Resources"][name]["Condition"] == "PollingEnabled"
    assert template["Conditions"]["PollingEnabled"] == {"Fn::Equals": [{"Ref": "ScheduleState"}, "ENABLED"]}
    [schedule] = props(template, "PollerFunction")["Events"].values()
    assert schedule["Properties"]["State"] == {"Ref": "ScheduleState"}  # the same parameter turns polls off
    # missing for StalePollerMinutes one-minute periods in a row, missing data counting as breaching
    assert alarm["Namespace"] == NAMESPACE_SUB
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 60, 1)
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "StalePollerMinutes"}
    assert alarm["TreatMissingData"] == "breaching"
    assert template["Parameters"]["StalePollerMinutes"]["MaxValue"] <= 1440  # 1-minute periods span a day at most


def test_backlog_lag_rejections_incomplete_polls_and_placeholders_alarm(template: dict[str, Any]) -> None:
    backlog = by_metric(template, "ApproximateAgeOfOldestMessage")
    assert [a["Dimensions"][0]["Value"] for a in backlog.values()] == [{"Fn::GetAtt": ["ExportJobsQueue", "QueueName"]}]
    assert next(iter(backlog.values()))["Threshold"] == {"Ref": "ExportBacklogSeconds"}
    [lag] = by_metric(template, "ExportLag").values()
    assert (lag["Statistic"], lag["Threshold"]) == ("Maximum", {"Ref": "ExportLagSeconds"})
    [rejected] = by_metric(template, "WebhookRejected").values()
    assert (rejected["Statistic"], rejected["Threshold"]) == ("Sum", {"Ref": "WebhookRejectedThreshold"})
    # polls cut short after the first copy only: a first copy spanning several polls must not alarm
    assert by_metric(template, "PollIncomplete") == {}
    incomplete = by_metric(template, "PollIncompleteAfterBaseline")
    assert sorted(source_of_alarm(alarm) for alarm in incomplete.values()) == ["legacy", "platform"]
    for alarm in incomplete.values():
        assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 3)
    [placeholders] = by_metric(template, "NotConfigured").values()
    assert (placeholders["Statistic"], placeholders["Threshold"]) == ("Sum", 1)
    for name in ("ExportLag", "WebhookRejected", "PollIncompleteAfterBaseline", "NotConfigured"):
        assert {alarm["TreatMissingData"] for alarm in by_metric(template, name).values()} == {"notBreaching"}


def source_of_alarm(alarm: dict[str, Any]) -> str:
    """The `Source` dimension an alarm on a per-source poll metric reads."""
    return next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == "Source")


def test_each_source_has_its_own_poll_failures_alarm(template: dict[str, Any]) -> None:
    """A source that keeps failing (its keys refused, its API down) is named by its own alarm, while the other
    source keeps polling and the invocation-level alarms (PollerErrorsAlarm, PollerDLQAlarm) say only that
    something failed."""
    failures = by_metric(template, "PollFailures")
    assert sorted(source_of_alarm(alarm) for alarm in failures.values()) == ["legacy", "platform"]
    for alarm in failures.values():
        assert alarm["Namespace"] == NAMESPACE_SUB
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 2)  # one failure is retried
        assert alarm["TreatMissingData"] == "notBreaching"  # a source that is off emits nothing


def test_each_stack_has_a_metrics_namespace_of_its_own(template: dict[str, Any]) -> None:
    """Two stacks in one account (staging, production) never mix their metrics: the functions emit into
    FlatfileRelay/<stack name>, the namespace every alarm and dashboard widget on a relay metric reads."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE_SUB
    ours = [w for w in alarm_metrics(template) + dashboard_metrics(template) if not w.namespace.startswith("AWS/")]
    assert len(ours) >= 20
    assert {w.namespace for w in ours} == {NAMESPACE}


def test_relay_metrics_carry_the_service_dimension_powertools_adds(template: dict[str, Any]) -> None:
    service = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    for watched in alarm_metrics(template) + dashboard_metrics(template):
        if watched.namespace == NAMESPACE:
            assert watched.dimension("service") == service, watched.where


def test_aws_namespace_dimensions_name_the_templates_own_resources(template: dict[str, Any]) -> None:
    checked = 0
    for watched in alarm_metrics(template) + dashboard_metrics(template):
        if watched.namespace == NAMESPACE:
            continue
        assert watched.namespace in ("AWS/SQS", "AWS/Lambda"), watched.where
        for dimension, value in watched.dimensions:
            resource_type, form = AWS_DIMENSIONS[dimension]
            resource = value.split(" ", 1)[1].split(".", 1)[0]
            assert template["Resources"][resource]["Type"] == resource_type, watched.where
            assert value == form.format(resource), watched.where
            checked += 1
    assert checked >= len(DLQS) + len(FUNCTIONS)


# ---------------------------------------------------------------- who hears them


def test_alarms_notify_the_alert_e_mail_topic_and_the_given_topic(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["AlertEmail"]["Default"] == parameters["AlertTopicArn"]["Default"] == ""  # optional
    assert template["Conditions"]["CreateAlertTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}
    topic = template["Resources"]["AlertTopic"]
    assert topic["Condition"] == "CreateAlertTopic"  # created only when an e-mail address is given
    assert topic["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}]
    expected = [
        {"Fn::If": ["CreateAlertTopic", {"Ref": "AlertTopic"}, NO_VALUE]},
        {"Fn::If": ["UseAlertTopicArn", {"Ref": "AlertTopicArn"}, NO_VALUE]},
    ]
    assert len(alarms(template)) >= 12
    for name, alarm in alarms(template).items():
        assert alarm["Properties"]["AlarmActions"] == expected, name
        assert "AlarmName" not in alarm["Properties"], f"{name}: names are generated (several stacks per account)"


def test_every_alarm_says_what_it_means_and_what_to_do(template: dict[str, Any]) -> None:
    for name, alarm in alarms(template).items():
        description = alarm["Properties"]["AlarmDescription"]
        assert 80 <= len(description) <= 1024, name
        assert "|" not in description, f"{name}: the table of docs/operations.md could not hold it"


def docs_table(heading: str, text: str = OPERATIONS) -> dict[str, str]:
    """The first table under a heading: first column (without backticks) -> second column."""
    section = text.split(f"\n{heading}\n", 1)[1]
    rows = {}
    for line in section.split("\n|---", 1)[1].splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_documented_alarm_table_is_the_templates(template: dict[str, Any]) -> None:
    documented = docs_table("### Alarms")
    assert documented == {name: a["Properties"]["AlarmDescription"] for name, a in alarms(template).items()}


# ---------------------------------------------------------------- dashboard


def test_the_dashboard_shows_what_an_operator_looks_at(template: dict[str, Any]) -> None:
    body = dashboard_body(template)
    assert body["widgets"]
    shown = {(w.namespace, w.name, dict(w.dimensions).get("QueueName") or dict(w.dimensions).get("FunctionName")
              or dict(w.dimensions).get("function_name")) for w in dashboard_metrics(template)}
    names = {name for _, name, _ in shown}
    assert {"BatchesExported", "RowsExported", "ExportLag", "PendingBatches"} <= names
    assert {"FlatfileRequests", "FlatfileRetries", "FlatfileThrottles"} <= names
    assert {"PollFailures", "ExportJobsFailed", "WebhookRejected", "WebhookFailed", "NoticesRejected",
            "NotConfigured"} <= names  # failures by kind
    for dlq in DLQS:
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", f"!GetAtt {dlq}.QueueName") in shown
    for function in FUNCTIONS:
        assert ("AWS/Lambda", "Duration", f"!Ref {function}") in shown
        assert (NAMESPACE, "ColdStart", f"!Ref {function}") in shown
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == "eu-west-1"  # ${AWS::Region}
    assert "DashboardName" not in props(template, "Dashboard")  # generated: several stacks per account


# ---------------------------------------------------------------- architecture and first deploy


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_the_architecture_picks_the_functions_and_the_powertools_layer(
    template: dict[str, Any], architecture: str
) -> None:
    parameter = template["Parameters"]["Architecture"]
    assert parameter["Default"] == "x86_64"
    assert architecture in parameter["AllowedValues"]
    function = template["Globals"]["Function"]
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    [powertools] = [layer for layer in function["Layers"] if "Fn::If" in layer]
    public = powertools["Fn::If"][1]["Fn::Sub"].replace("${Architecture}", architecture)
    assert public.endswith(f":017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-{architecture}:27")
    assert architecture in props(template, "RelayLayer")["CompatibleArchitectures"]


def test_the_docs_walk_through_every_guided_deploy_question(template: dict[str, Any]) -> None:
    transcript = block("docs/deploy.md", "## The first deploy", "text").text
    positions = []
    for name, parameter in template["Parameters"].items():
        question = f"Parameter {name} [{parameter.get('Default', '')}]:"
        assert question in transcript, f"docs/deploy.md's guided deploy lacks {question!r}"
        positions.append(transcript.index(question))
    assert positions == sorted(positions), "sam deploy --guided asks in template order"
    for answer in (
        "Confirm changes before deploy [Y/n]:",
        "Allow SAM CLI IAM role creation [Y/n]:",
        "WebhookFunction Function Url has no authentication. Is this okay? [y/N]: y",
        "Save arguments to configuration file [Y/n]:",
        "Deploy this changeset? [y/N]: y",
    ):
        assert answer in transcript


def test_the_docs_write_secrets_from_a_file_never_on_the_command_line() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in documents())
    commands = re.findall(r"aws secretsmanager (?:put-secret-value|create-secret|update-secret)[^\n]*", text)
    assert commands
    for command in commands:
        assert "--secret-string file://" in command, command
    assert "--secret-string '" not in text
    assert '--secret-string "{' not in text


# ---------------------------------------------------------------- hardening: floods, silent alarms, endpoints


def getatt(name: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [name, attribute]}


def test_a_flood_on_the_webhook_url_alarms_and_the_cap_is_asked_for(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["WebhookReservedConcurrency"]
    assert parameter["Default"] == 0  # deploys in every account, new ones (quota 10) included
    for words in ("0 (the default", "caps nothing", "5 to 10", "quota", "WebhookFloodAlarm"):
        assert words in parameter["Description"], words
    label = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"]["WebhookReservedConcurrency"]
    assert "0 = no cap" in label["default"]
    alarm = props(template, "WebhookFloodAlarm")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "AWS/Lambda", "Invocations", "Sum", 300)
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "WebhookFunction"}}]
    assert alarm["Threshold"] == {"Ref": "WebhookFloodThreshold"}
    assert template["Parameters"]["WebhookFloodThreshold"]["Default"] >= 100
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    told = deploy.split("- **WebhookReservedConcurrency**", 1)[1].split("\n- ", 1)[0]  # the guided deploy's notes
    for words in ("caps nothing", "quota", "5", "429"):
        assert words in told, words


def test_a_stack_whose_alarms_notify_no_one_says_so(template: dict[str, Any]) -> None:
    assert template["Conditions"]["AlarmsNotifyNoOne"] == {"Fn::And": [
        {"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}, {"Fn::Equals": [{"Ref": "AlertTopicArn"}, ""]}]}
    output = template["Outputs"]["AlarmNotifications"]
    assert "Condition" not in output  # always there: it names the topics, or says no one hears the alarms
    condition, nobody, _ = output["Value"]["Fn::If"]
    assert (condition, nobody.split(":")[0]) == ("AlarmsNotifyNoOne", "alarms notify no one")
    poller = template["Resources"]["PollerFunction"]["Properties"]["Environment"]["Variables"]
    assert "ALERT_TOPICS" in poller  # what `check` reads
    for name in ("AlertEmail", "AlertTopicArn"):
        assert "notify no one" in template["Parameters"][name]["Description"], name


def test_the_alert_topic_takes_tls_only_and_the_account_s_alarms(template: dict[str, Any]) -> None:
    policy = template["Resources"]["AlertTopicPolicy"]
    assert policy["Condition"] == "CreateAlertTopic"
    assert policy["Properties"]["Topics"] == [{"Ref": "AlertTopic"}]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    deny = statements["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    cloudwatch = statements["CloudWatchPublishesTheAlarms"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_sample_rule_target_retries_and_keeps_what_it_cannot_deliver(template: dict[str, Any]) -> None:
    [target] = props(template, "SampleConsumerRule")["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": getatt("ConsumerDLQ")}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    policy = props(template, "ConsumerQueuePolicy")
    assert policy["Queues"] == [{"Ref": "ConsumerQueue"}, {"Ref": "ConsumerDLQ"}]
    allow = policy["PolicyDocument"]["Statement"][0]
    assert allow["Resource"] == [getatt("ConsumerQueue"), getatt("ConsumerDLQ")]
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": getatt("SampleConsumerRule")}}
    # a queue takes one policy: each queue is in exactly one, and every one denies plain HTTP
    policies = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    listed = [queue["Ref"] for p in policies for queue in p["Queues"]]
    queues = [name for name, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"]
    assert sorted(listed) == sorted(queues)
    for p in policies:
        assert any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in p["PolicyDocument"]["Statement"])
