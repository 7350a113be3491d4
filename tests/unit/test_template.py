"""The deployment contract in template.yaml, samconfig.toml and events/, checked without AWS or SAM CLI."""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from flatfile_relay_devkit.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "PollerFunction": "poller",
    "ExporterFunction": "exporter",
    "WebhookFunction": "webhook",
    "ConsumerFunction": "consumer",
}
SQS_TRIGGERS = {"ExporterFunction": "ExportJobsQueue", "ConsumerFunction": "NoticesQueue"}
INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::ImportValue", "Fn::Join", "Fn::If", "Fn::Select"}
# Variables whose value names an AWS resource: they must come from the template, never a literal.
RESOURCE_VARS = {
    "FLATFILE_SECRET_ID": "FlatfileSecret",
    "LEDGER_TABLE": "LedgerTable",
    "EXPORT_JOBS_QUEUE_URL": "ExportJobsQueue",
    "NOTICES_QUEUE_URL": "NoticesQueue",
    "EXPORT_BUCKET": "ExportBucket",
}
SETTING_VARS = {
    "FLATFILE_BASE_URL": "FlatfileBaseUrl",
    "EXPORT_PREFIX": "ExportPrefix",
    "LOOKBACK_HOURS": "LookbackHours",
    "EXPORT_SINCE": "ExportSince",
    "FLATFILE_PAGE_SIZE": "PageSize",
    "PART_MAX_ROWS": "PartMaxRows",
    "POWERTOOLS_LOG_LEVEL": "LogLevel",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded = load_yaml(ROOT / "template.yaml")
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


def function_props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with Globals.Function merged in (environment variables merged by name)."""
    globals_ = dict(template.get("Globals", {}).get("Function", {}))
    own = dict(template["Resources"][logical_id]["Properties"])
    merged = {**globals_, **own}
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    merged["Environment"] = {"Variables": variables}
    return merged


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in INTRINSICS


def referenced_ids(value: Any) -> set[str]:
    """Logical ids / parameters an intrinsic points at (Ref, GetAtt and ${Name} / ${Name.Attr} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for part in str(text).split("${")[1:]:
                    name = part.split("}", 1)[0].split(".", 1)[0]
                    if not name.startswith("AWS::") and not name.startswith("!"):
                        found.add(name)
                if isinstance(inner, list):
                    found |= referenced_ids(inner[1])
            else:
                found |= referenced_ids(inner)
    elif isinstance(value, list):
        for item in value:
            found |= referenced_ids(item)
    return found


def events_of(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return dict(template["Resources"][logical_id]["Properties"].get("Events", {}))


# ---------------------------------------------------------------- template basics


def test_template_is_a_sam_template(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template.get("Description")


def test_parameters_and_defaults(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["ScheduleExpression"]["Default"] == "rate(5 minutes)"
    assert params["FlatfileBaseUrl"]["Default"] == "https://api.us.flatfile.io"
    assert str(params["LookbackHours"]["Default"]) == "168"
    assert params["ExportSince"]["Default"] == ""
    assert str(params["PageSize"]["Default"]) == "1000"
    assert str(params["PartMaxRows"]["Default"]) == "50000"
    assert params["ExportPrefix"]["Default"] == "flatfile/"
    assert params["LogLevel"]["Default"] == "INFO"
    assert "PowertoolsLayerArn" in params


@pytest.mark.parametrize(("logical_id", "folder"), sorted(FUNCTIONS.items()))
def test_function_code_layout(template: dict[str, Any], logical_id: str, folder: str) -> None:
    props = function_props(template, logical_id)
    assert template["Resources"][logical_id]["Type"] == "AWS::Serverless::Function"
    assert props["Handler"] == "app.handler"
    assert props["Runtime"] == "python3.13"
    assert props["CodeUri"].rstrip("/") == f"functions/{folder}"
    app = ROOT / "functions" / folder / "app.py"
    assert app.is_file(), f"{app} is missing"
    tree = ast.parse(app.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert "handler" in defined | assigned | imported, f"{app} defines no handler"


def test_only_the_four_functions(resources: dict[str, Any]) -> None:
    functions = {key for key, value in resources.items() if value["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTIONS)


# ---------------------------------------------------------------- triggers


def test_poller_is_a_scheduled_singleton(template: dict[str, Any]) -> None:
    events = events_of(template, "PollerFunction")
    schedules = [event for event in events.values() if event["Type"] in ("Schedule", "ScheduleV2")]
    assert len(schedules) == 1
    assert schedules[0]["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    props = template["Resources"]["PollerFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 1
    invoke = props["EventInvokeConfig"]
    assert 0 <= invoke["MaximumRetryAttempts"] <= 2
    assert 60 <= invoke["MaximumEventAgeInSeconds"] <= 21600
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["PollerDLQ", "Arn"]}


@pytest.mark.parametrize(("logical_id", "queue"), sorted(SQS_TRIGGERS.items()))
def test_sqs_triggers(template: dict[str, Any], logical_id: str, queue: str) -> None:
    sqs = [
        event["Properties"] for event in events_of(template, logical_id).values() if event["Type"] == "SQS"
    ]
    assert len(sqs) == 1
    assert sqs[0]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}


def test_every_sqs_event_reports_batch_item_failures(template: dict[str, Any]) -> None:
    seen = 0
    for logical_id in FUNCTIONS:
        for event in events_of(template, logical_id).values():
            if event["Type"] == "SQS":
                seen += 1
                assert "ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", [])
    assert seen == len(SQS_TRIGGERS)


def test_exporter_batch_size_is_one(template: dict[str, Any]) -> None:
    (event,) = events_of(template, "ExporterFunction").values()
    assert event["Properties"]["BatchSize"] == 1


def test_webhook_has_a_function_url(template: dict[str, Any]) -> None:
    props = template["Resources"]["WebhookFunction"]["Properties"]
    assert props["FunctionUrlConfig"]["AuthType"] == "NONE"


# ---------------------------------------------------------------- queues


@pytest.mark.parametrize(("logical_id", "queue"), sorted(SQS_TRIGGERS.items()))
def test_visibility_timeout_covers_six_function_timeouts(
    template: dict[str, Any], logical_id: str, queue: str
) -> None:
    timeout = int(function_props(template, logical_id)["Timeout"])
    visibility = int(template["Resources"][queue]["Properties"]["VisibilityTimeout"])
    assert visibility >= 6 * timeout


@pytest.mark.parametrize("queue", sorted(set(SQS_TRIGGERS.values())))
def test_triggering_queues_redrive_to_a_dlq(resources: dict[str, Any], queue: str) -> None:
    redrive = resources[queue]["Properties"]["RedrivePolicy"]
    dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert resources[dlq]["Type"] == "AWS::SQS::Queue"
    assert 1 <= int(redrive["maxReceiveCount"]) <= 10
    assert int(resources[dlq]["Properties"]["MessageRetentionPeriod"]) == 14 * 24 * 3600


def test_queues_are_encrypted(resources: dict[str, Any]) -> None:
    queues = [value for value in resources.values() if value["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 5
    for queue in queues:
        assert queue["Properties"].get("SqsManagedSseEnabled") is True


# ---------------------------------------------------------------- layers


def test_relay_layer_is_built_with_python313(resources: dict[str, Any]) -> None:
    layer = resources["RelayLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/relay"
    assert "python3.13" in layer["Properties"]["CompatibleRuntimes"]
    assert (ROOT / "layers" / "relay" / "requirements.txt").is_file()


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_functions_use_the_relay_and_powertools_layers(template: dict[str, Any], logical_id: str) -> None:
    layers = function_props(template, logical_id)["Layers"]
    assert {"Ref": "RelayLayer"} in layers
    assert any("PowertoolsLayerArn" in referenced_ids(layer) for layer in layers)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_environment_contract(template: dict[str, Any], logical_id: str) -> None:
    variables = function_props(template, logical_id)["Environment"]["Variables"]
    for name, resource in RESOURCE_VARS.items():
        assert is_intrinsic(variables.get(name)), f"{logical_id}: {name} must be built with !Ref/!GetAtt/!Sub"
        assert resource in referenced_ids(variables[name]), f"{logical_id}: {name} must point at {resource}"
    for name, parameter in SETTING_VARS.items():
        assert variables.get(name) == {"Ref": parameter}, f"{logical_id}: {name} must come from {parameter}"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "flatfile-relay"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"]


def test_every_reference_resolves(template: dict[str, Any]) -> None:
    known = set(template["Resources"]) | set(template.get("Parameters", {})) | {"RelayLayer"}
    used = referenced_ids(template.get("Globals", {})) | referenced_ids(template["Resources"])
    used |= referenced_ids(template.get("Outputs", {}))
    # SAM adds <Function>Url for FunctionUrlConfig.
    generated = {f"{name}Url" for name in FUNCTIONS}
    assert used - known - generated == set()


def test_no_literal_physical_names(resources: dict[str, Any]) -> None:
    name_properties = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::SecretsManager::Secret": "Name",
        "AWS::Serverless::Function": "FunctionName",
    }
    for logical_id, resource in resources.items():
        prop = name_properties.get(resource["Type"])
        if prop:
            assert prop not in resource.get("Properties", {}), f"{logical_id} has a hard-coded {prop}"


# ---------------------------------------------------------------- storage and secret


def test_bucket_is_private_and_tls_only(resources: dict[str, Any]) -> None:
    bucket = resources["ExportBucket"]["Properties"]
    block = bucket["PublicAccessBlockConfiguration"]
    for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        assert block[key] is True
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    policies = [value for value in resources.values() if value["Type"] == "AWS::S3::BucketPolicy"]
    assert any(
        statement["Effect"] == "Deny"
        and statement["Condition"]["Bool"]["aws:SecureTransport"] in ("false", False)
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_ledger_table(resources: dict[str, Any]) -> None:
    table = resources["LedgerTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["KeySchema"] == [{"AttributeName": "batchId", "KeyType": "HASH"}]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "pending-by-created"
    assert index["KeySchema"] == [
        {"AttributeName": "pendingKey", "KeyType": "HASH"},
        {"AttributeName": "batchCreatedAt", "KeyType": "RANGE"},
    ]
    types = {item["AttributeName"]: item["AttributeType"] for item in props["AttributeDefinitions"]}
    assert types == {"batchId": "S", "pendingKey": "S", "batchCreatedAt": "S"}


def test_secret_holds_the_credential_keys(resources: dict[str, Any]) -> None:
    props = resources["FlatfileSecret"]["Properties"]
    generated = props["GenerateSecretString"]
    placeholder = json.loads(generated["SecretStringTemplate"])
    assert {"accessKeyId", "secretAccessKey", "licenseKey"} <= set(placeholder)
    assert generated["GenerateStringKey"] == "webhookToken"
    assert generated.get("ExcludePunctuation") is True  # the token travels in a URL


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for name in (
        "ExportBucketName",
        "ExportJobsQueueUrl",
        "ExportJobsDLQUrl",
        "NoticesQueueUrl",
        "NoticesDLQUrl",
        "PollerDLQUrl",
        "LedgerTableName",
        "FlatfileSecretArn",
        "WebhookUrl",
    ):
        assert name in outputs
    assert outputs["WebhookUrl"]["Value"] == {"Fn::GetAtt": ["WebhookFunctionUrl", "FunctionUrl"]}


# ---------------------------------------------------------------- samconfig.toml and events/


def test_samconfig() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    default = config["default"]
    assert default["global"]["parameters"]["stack_name"] == "flatfile-relay"
    deploy = default["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    assert "region" not in deploy
    assert default["build"]["parameters"] == {"cached": True, "parallel": True}
    assert default["validate"]["parameters"]["lint"] is True


def load_event(name: str) -> Any:
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def test_all_events_parse() -> None:
    names = sorted(path.name for path in (ROOT / "events").glob("*.json"))
    assert {"schedule.json", "sqs_export_job.json", "sqs_notice.json", "webhook.json", "check.json", "status.json",
            "replay.json", "backfill.json"} <= set(names)
    for name in names:
        load_event(name)


def test_schedule_event() -> None:
    event = load_event("schedule.json")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"


def test_sample_events_agree_on_the_batch() -> None:
    job = json.loads(load_event("sqs_export_job.json")["Records"][0]["body"])
    notice = json.loads(load_event("sqs_notice.json")["Records"][0]["body"])
    webhook = load_event("webhook.json")
    payload = json.loads(webhook["body"])
    assert job["type"] == "flatfile.export.job"
    assert notice["type"] == "flatfile.batch.exported"
    assert job["batchId"] == notice["batchId"] == payload["data"]["meta"]["batch"]["id"]
    assert notice["manifestUri"].endswith(f"/batches/{job['batchId']}/manifest.json")
    assert webhook["requestContext"]["http"]["method"] == "POST"
    assert webhook["queryStringParameters"]["token"]
    assert webhook["isBase64Encoded"] is False
