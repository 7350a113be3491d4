"""Two stacks of the relay in one account and region (staging beside production), deployed into one moto.

Every resource the template names is named after its stack, nothing one stack creates overwrites or shares
the other's, each stack's alarms and dashboard read only that stack's metrics, and an export event on the
shared bus reaches only its own stack's sample consumer. The local deployment names what the template names
as CloudFormation would (docs/deploy.md, "Running staging and production side by side").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.functions import ROOT

from flatfile_relay.aws import AwsClients
from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.template import Template

STACKS = ("flatfile-relay-staging", "flatfile-relay-production")
FUNCTIONS = ("PollerFunction", "ExporterFunction", "WebhookFunction", "ConsumerFunction")
#: named inside something of their stack (a Glue table inside its database)
NESTED = {"AWS::Glue::Table"}


@pytest.fixture(scope="module")
def stacks(moto_server: Any) -> dict[str, LocalDeployment]:
    moto_server.reset()
    template = Template.load(ROOT / "template.yaml")
    return {stack: LocalDeployment.create(template, AwsClients(), stack=stack) for stack in STACKS}


def kind(deployment: LocalDeployment, logical: str) -> str:
    resource = deployment.template.resources.get(logical)
    return str(resource["Type"]) if resource else "schedule"


def client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def test_no_name_is_shared_by_the_two_stacks(stacks: dict[str, LocalDeployment]) -> None:
    staging, production = stacks.values()
    assert set(staging.physical) == set(production.physical)
    assert len(staging.physical) >= 30
    shared = {logical: name for logical, name in staging.physical.items()
              if kind(staging, logical) not in NESTED and production.physical[logical] == name}
    assert shared == {}
    for stack, deployment in stacks.items():
        assert deployment.physical["GlueDatabase"] == stack.replace("-", "_")
        assert deployment.physical["RelayLayer"] == f"{stack}-relay"
        scoped = stack.replace("-", "_")
        unscoped = {logical: name for logical, name in deployment.physical.items()
                    if kind(deployment, logical) not in NESTED and scoped not in name.replace("-", "_")}
        assert unscoped == {}, "every name holds the stack name"


def test_moto_holds_both_stacks_side_by_side(stacks: dict[str, LocalDeployment]) -> None:
    """Nothing of the first stack was overwritten by the second (moto, like AWS, overwrites an alarm, a
    dashboard or a rule of the same name silently, and adds a version to a layer of the same name)."""
    per_stack = {kind: sum(1 for r in stacks[STACKS[0]].template.resources.values() if r["Type"] == kind)
                 for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard")}
    alarms = client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) == 2 * per_stack["AWS::CloudWatch::Alarm"]  # StalePollerAlarm exists: polling is on
    dashboards = client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert len(dashboards) == 2 * per_stack["AWS::CloudWatch::Dashboard"]
    assert {db["Name"] for db in client("glue").get_databases()["DatabaseList"]} == {
        stack.replace("-", "_") for stack in STACKS}
    for deployment in stacks.values():
        tables = client("glue").get_tables(DatabaseName=deployment.physical["GlueDatabase"])["TableList"]
        assert sorted(table["Name"] for table in tables) == ["batches", "rows", "schemas"]
    layers = {layer["LayerName"]: layer["LatestMatchingVersion"]["Version"]
              for layer in client("lambda").list_layers()["Layers"]}
    assert layers == {f"{stack}-relay": 1 for stack in STACKS}
    schedules = {s["Name"] for s in client("scheduler").list_schedules()["Schedules"]}
    assert schedules == {deployment.physical["PollerFunctionPoll"] for deployment in stacks.values()}
    rules = {rule["Name"] for rule in client("events").list_rules()["Rules"]}
    assert rules == {deployment.physical["SampleConsumerRule"] for deployment in stacks.values()}


def own_resources(deployment: LocalDeployment) -> dict[str, set[str]]:
    """What a stack's alarms may name: its namespace, its queues, its functions."""
    queues = {url.rsplit("/", 1)[1] for logical, url in deployment.refs.items()
              if kind(deployment, logical) == "AWS::SQS::Queue"}
    namespaces = {deployment.environment(function)["POWERTOOLS_METRICS_NAMESPACE"] for function in FUNCTIONS}
    return {"namespace": namespaces, "QueueName": queues,
            "FunctionName": {deployment.ref(function) for function in FUNCTIONS}}


def check_metric(own: dict[str, set[str]], namespace: str, dimensions: dict[str, str], where: str) -> None:
    if namespace.startswith("AWS/"):
        for name, value in dimensions.items():
            assert value in own[name], f"{where}: {name}={value} is not this stack's"
    else:
        assert namespace in own["namespace"], f"{where}: namespace {namespace} is not this stack's"


def test_each_stacks_alarms_and_dashboard_read_only_its_own_metrics(stacks: dict[str, LocalDeployment]) -> None:
    namespaces = [own_resources(deployment)["namespace"] for deployment in stacks.values()]
    assert all(len(names) == 1 for names in namespaces)
    assert namespaces[0] != namespaces[1]
    cloudwatch = client("cloudwatch")
    for stack, deployment in stacks.items():
        own = own_resources(deployment)
        alarm_names = [name for logical, name in deployment.physical.items()
                       if kind(deployment, logical) == "AWS::CloudWatch::Alarm"]
        alarms = cloudwatch.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
        assert len(alarms) == len(alarm_names) >= 14
        custom = 0
        for alarm in alarms:
            dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            check_metric(own, alarm["Namespace"], dimensions, f"{stack} {alarm['AlarmName']}")
            custom += not alarm["Namespace"].startswith("AWS/")
        assert custom >= 5
        body = json.loads(cloudwatch.get_dashboard(DashboardName=deployment.physical["Dashboard"])["DashboardBody"])
        lines = [line for widget in body["widgets"] for line in widget["properties"].get("metrics", [])]
        assert len(lines) >= 30
        for line in lines:
            namespace, _metric, *pairs = [item for item in line if not isinstance(item, dict)]
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            check_metric(own, namespace, {k: v for k, v in dimensions.items() if k in own}, f"{stack} dashboard")


def test_an_export_event_reaches_only_its_own_stacks_sample_consumer(stacks: dict[str, LocalDeployment]) -> None:
    """Both stacks publish to the account's default bus with the same source and detail-type; each sample
    rule matches its own bucket's manifests only."""
    events, sqs = client("events"), client("sqs")
    for stack, deployment in stacks.items():
        bucket, prefix = deployment.refs["ExportBucket"], deployment.parameters["ExportPrefix"]
        notice = {"batchId": stack, "manifestUri": f"s3://{bucket}/{prefix}manifests/{stack}.json"}
        answer = events.put_events(Entries=[{"Source": "flatfile-relay", "DetailType": "flatfile.batch.exported",
                                             "Detail": json.dumps(notice), "EventBusName": "default"}])
        assert answer["FailedEntryCount"] == 0
    for stack, deployment in stacks.items():
        received = sqs.receive_message(QueueUrl=deployment.refs["ConsumerQueue"], MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1)["Messages"]
        assert [json.loads(message["Body"])["detail"]["batchId"] for message in received] == [stack]


def test_two_stacks_export_side_by_side_without_seeing_each_other(moto_server: Any, emulator_factory: Any) -> None:
    """Each stack polls its own Flatfile account and exports into its own bucket; each sample consumer gets
    only its own stack's export events, and each stack's functions emit into its own namespace."""
    from flatfile_relay_devkit.local.runner import LocalRun

    moto_server.reset()
    runs = {stack: LocalRun(ROOT, emulator_factory(seed=seed), moto_server, stack=stack)
            for seed, stack in enumerate(STACKS, start=11)}
    for run in runs.values():
        run.cycle()
    for stack, run in runs.items():
        result = run.collect()
        assert len(result.exported) == result.submitted_in_emulator > 0
        assert all(notice["manifestUri"].startswith(f"s3://{run.settings.export_bucket}/") for notice in result.notices)
        consumed = [drain for drain in result.drains if drain.function == "ConsumerFunction"]
        assert sum(drain.delivered for drain in consumed) == len(result.exported), stack  # none of the other's
        assert sum(drain.failed for drain in consumed) == 0
        assert result.dead_letters == dict.fromkeys(result.dead_letters, 0)
        namespace = run.deployment.environment("ExporterFunction")["POWERTOOLS_METRICS_NAMESPACE"]
        assert namespace == f"FlatfileRelay/{stack}"
