"""LocalDeployment: template.yaml's resources created in moto, and each function's resolved environment."""

from __future__ import annotations

import dataclasses
import json

import pytest

from flatfile_relay.settings import Settings
from flatfile_relay_devkit.local.deployment import ACCOUNT, LocalDeployment
from flatfile_relay_devkit.local.moto import REGION
from flatfile_relay_devkit.local.template import TemplateError

FUNCTIONS = ("PollerFunction", "ExporterFunction", "WebhookFunction", "ConsumerFunction")
QUEUES = ("ExportJobsQueue", "ExportJobsDLQ", "NoticesQueue", "NoticesDLQ", "PollerDLQ")


@pytest.fixture
def deployment(module_deployment: LocalDeployment) -> LocalDeployment:
    return module_deployment  # these tests only read


def queue_attributes(deployment: LocalDeployment, name: str) -> dict[str, str]:
    answer = deployment.clients.sqs.get_queue_attributes(QueueUrl=deployment.refs[name], AttributeNames=["All"])
    attributes: dict[str, str] = answer["Attributes"]
    return attributes


def test_every_resource_exists(deployment: LocalDeployment) -> None:
    clients = deployment.clients
    bucket = deployment.refs["ExportBucket"]
    assert bucket == bucket.lower()
    assert bucket in [b["Name"] for b in clients.s3.list_buckets()["Buckets"]]
    assert deployment.arns["ExportBucket"] == f"arn:aws:s3:::{bucket}"
    urls = clients.sqs.list_queues()["QueueUrls"]
    for name in QUEUES:
        assert deployment.refs[name] in urls
        assert deployment.arns[name] == queue_attributes(deployment, name)["QueueArn"]
        assert deployment.arns[name] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{deployment.refs[name].rsplit('/', 1)[1]}"
    table = clients.dynamodb.describe_table(TableName=deployment.refs["LedgerTable"])["Table"]
    assert table["TableArn"] == deployment.arns["LedgerTable"]
    assert table["KeySchema"] == [{"AttributeName": "batchId", "KeyType": "HASH"}]
    secret = clients.secretsmanager.describe_secret(SecretId=deployment.refs["FlatfileSecret"])
    assert secret["ARN"] == deployment.refs["FlatfileSecret"]


def test_the_ledger_table_has_the_pending_index(deployment: LocalDeployment) -> None:
    table = deployment.clients.dynamodb.describe_table(TableName=deployment.refs["LedgerTable"])["Table"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"pending-by-created"}
    assert indexes["pending-by-created"]["KeySchema"] == [
        {"AttributeName": "pendingKey", "KeyType": "HASH"},
        {"AttributeName": "batchCreatedAt", "KeyType": "RANGE"},
    ]
    assert indexes["pending-by-created"]["Projection"]["ProjectionType"] == "ALL"


@pytest.mark.parametrize(("queue", "dlq"), [("ExportJobsQueue", "ExportJobsDLQ"), ("NoticesQueue", "NoticesDLQ")])
def test_queues_redrive_to_their_dead_letter_queue(deployment: LocalDeployment, queue: str, dlq: str) -> None:
    attributes = queue_attributes(deployment, queue)
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == deployment.arns[dlq]
    assert int(policy["maxReceiveCount"]) == 5
    assert "RedrivePolicy" not in queue_attributes(deployment, dlq)


def test_queue_attributes_follow_the_template(deployment: LocalDeployment) -> None:
    assert queue_attributes(deployment, "ExportJobsQueue")["VisibilityTimeout"] == "5400"
    assert queue_attributes(deployment, "NoticesQueue")["VisibilityTimeout"] == "1800"
    assert queue_attributes(deployment, "ExportJobsDLQ")["MessageRetentionPeriod"] == "1209600"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_environment_is_resolved_to_the_local_resources(deployment: LocalDeployment, function: str) -> None:
    env = deployment.environment(function)
    assert all(isinstance(value, str) for value in env.values())
    assert env["LEDGER_TABLE"] == deployment.refs["LedgerTable"]
    assert env["EXPORT_JOBS_QUEUE_URL"] == deployment.refs["ExportJobsQueue"]
    assert env["NOTICES_QUEUE_URL"] == deployment.refs["NoticesQueue"]
    assert env["EXPORT_BUCKET"] == deployment.refs["ExportBucket"]
    if function in ("PollerFunction", "ExporterFunction"):  # only the functions that read the Flatfile secret
        assert env["FLATFILE_SECRET_ID"] == deployment.refs["FlatfileSecret"]
    else:
        assert "FLATFILE_SECRET_ID" not in env
    # parameters at their defaults
    assert env["FLATFILE_BASE_URL"] == "https://api.us.flatfile.io"
    assert (env["EXPORT_PREFIX"], env["LOOKBACK_HOURS"], env["EXPORT_SINCE"]) == ("flatfile/", "168", "")
    assert (env["FLATFILE_PAGE_SIZE"], env["PART_MAX_ROWS"], env["POWERTOOLS_LOG_LEVEL"]) == ("1000", "50000", "INFO")
    assert (env["FLATFILE_ROW_PREFETCH"], env["POWERTOOLS_TRACE_DISABLED"]) == ("8", "false")
    assert "AWS_ENDPOINT_URL" not in env  # declared empty for sam local: left out, so moto's applies


def test_settings_are_built_from_the_environment(deployment: LocalDeployment) -> None:
    settings = deployment.settings("ExporterFunction")
    assert settings == Settings.from_env(deployment.environment("ExporterFunction"))
    settings.require("secret_id", "ledger_table", "export_jobs_queue_url", "notices_queue_url", "export_bucket")
    assert deployment.settings() == settings


def test_parameters_override_the_defaults(module_deployment: LocalDeployment) -> None:
    deployment = LocalDeployment.create(  # a second stack beside the module's
        module_deployment.template, module_deployment.clients,
        {"FlatfileBaseUrl": "http://127.0.0.1:9", "ExportSince": "2024-01-01", "ExportPrefix": "out/"},
        stack="other-stack",
    )
    settings = deployment.settings("PollerFunction")
    assert settings.flatfile_base_url == "http://127.0.0.1:9"
    assert settings.export_prefix == "out/"
    assert settings.export_since is not None
    assert settings.export_since.year == 2024
    assert deployment.refs["LedgerTable"] == "other-stack-LedgerTable"


@pytest.mark.parametrize(("tracing", "disabled"), [("Active", "false"), ("PassThrough", "false"), ("Disabled", "true")])
def test_the_tracing_parameter_reaches_powertools_through_a_condition(
    module_deployment: LocalDeployment, tracing: str, disabled: str
) -> None:
    deployment = dataclasses.replace(module_deployment, parameters={**module_deployment.parameters, "Tracing": tracing})
    assert deployment.environment("ExporterFunction")["POWERTOOLS_TRACE_DISABLED"] == disabled
    assert deployment.condition("TracingActive") is (tracing == "Active")


def test_refs_and_getatts(deployment: LocalDeployment) -> None:
    assert deployment.ref("AWS::Region") == REGION
    assert deployment.ref("AWS::AccountId") == ACCOUNT
    assert deployment.ref("AWS::StackName") == deployment.stack
    assert deployment.ref("ScheduleExpression") == "rate(5 minutes)"
    assert deployment.ref("PollerFunction") == f"{deployment.stack}-PollerFunction"  # not created locally
    assert deployment.getatt("ExportJobsQueue", "Arn") == deployment.arns["ExportJobsQueue"]
    assert deployment.getatt("ExportJobsQueue", "QueueName") == deployment.refs["ExportJobsQueue"].rsplit("/", 1)[1]
    assert deployment.getatt("NoticesQueue", "QueueUrl") == deployment.refs["NoticesQueue"]
    with pytest.raises(TemplateError, match="NoSuchThing"):
        deployment.ref("NoSuchThing")


def test_empty_removes_objects_items_and_messages_but_keeps_the_resources(deployment: LocalDeployment) -> None:
    clients, refs = deployment.clients, deployment.refs
    for index in range(3):
        clients.s3.put_object(Bucket=refs["ExportBucket"], Key=f"flatfile/x-{index}", Body=b"x")
    for index in range(30):  # more than one BatchWriteItem
        clients.dynamodb.put_item(TableName=refs["LedgerTable"], Item={"batchId": {"S": f"b-{index}"}})
    for name in ("ExportJobsQueue", "NoticesDLQ"):
        for index in range(12):  # more than one receive
            clients.sqs.send_message(QueueUrl=refs[name], MessageBody=str(index))

    assert deployment.empty() is deployment

    assert clients.s3.list_objects_v2(Bucket=refs["ExportBucket"]).get("KeyCount") == 0
    assert clients.dynamodb.scan(TableName=refs["LedgerTable"])["Count"] == 0
    for name in QUEUES:
        assert queue_attributes(deployment, name)["ApproximateNumberOfMessages"] == "0"
    clients.s3.put_object(Bucket=refs["ExportBucket"], Key="still-there", Body=b"")  # the resources remain
