"""template.yaml, samconfig.toml and events/: what the code and the tools rely on, checked without AWS.

Properties of the template that matter in AWS (partial batch responses, visibility timeouts, dead-letter
queues, resource names from the template, encryption) are cfn-lint rules in cfn-rules/, run by `make validate`;
the test at the end checks that each rule catches what it is for.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = ROOT / ".venv-sam" / "bin" / "cfn-lint"
FUNCTIONS = {
    "PollerFunction": "poller",
    "ExporterFunction": "exporter",
    "WebhookFunction": "webhook",
    "ConsumerFunction": "consumer",
}


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


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(("logical_id", "folder"), sorted(FUNCTIONS.items()))
def test_function_code_layout(template: dict[str, Any], logical_id: str, folder: str) -> None:
    """Each function's Handler names a function its CodeUri's module defines (sam build checks neither)."""
    props = function_props(template, logical_id)
    module, _, attribute = props["Handler"].partition(".")
    app = ROOT / props["CodeUri"] / f"{module}.py"
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
    assert attribute in defined | assigned | imported, f"{app} defines no {attribute}"


def test_the_exporter_knows_the_export_jobs_last_delivery(template: dict[str, Any]) -> None:
    """On the last delivery of a Platform job's export the exporter fails the job: it must count deliveries as the
    queue's redrive policy does."""
    variables = function_props(template, "ExporterFunction")["Environment"]["Variables"]
    redrive = template["Resources"]["ExportJobsQueue"]["Properties"]["RedrivePolicy"]
    assert int(variables["EXPORT_JOBS_MAX_RECEIVE_COUNT"]) == int(redrive["maxReceiveCount"])


# ---------------------------------------------------------------- samconfig.toml and events/


def load_event(name: str) -> Any:
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def test_all_events_parse() -> None:
    names = sorted(path.name for path in (ROOT / "events").glob("*.json"))
    assert {"schedule.json", "sqs_export_job.json", "sqs_notice.json", "webhook.json", "webhook_platform.json",
            "check.json", "status.json", "replay.json", "backfill.json"} <= set(names)
    for name in names:
        load_event(name)


def test_schedule_event() -> None:
    event = load_event("schedule.json")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"


def test_sample_events_agree_on_the_batch() -> None:
    job = json.loads(load_event("sqs_export_job.json")["Records"][0]["body"])
    event = json.loads(load_event("sqs_notice.json")["Records"][0]["body"])  # the consumer queue's export event
    notice = event["detail"]
    webhook = load_event("webhook.json")
    payload = json.loads(webhook["body"])
    assert job["type"] == "flatfile.export.job"
    assert (event["source"], event["detail-type"]) == ("flatfile-relay", "flatfile.batch.exported")
    assert notice["type"] == "flatfile.batch.exported"
    assert job["batchId"] == notice["batchId"] == payload["data"]["meta"]["batch"]["id"]
    assert notice["manifestUri"].endswith(f"/manifests/{job['batchId']}.json")
    assert webhook["requestContext"]["http"]["method"] == "POST"
    assert webhook["queryStringParameters"]["token"]
    assert webhook["isBase64Encoded"] is False


def test_the_platform_webhook_sample_is_a_forwarded_job_ready_with_the_token_header() -> None:
    """events/webhook_platform.json: what the documented listener sends (docs/platform.md)."""
    sample = load_event("webhook_platform.json")
    legacy = load_event("webhook.json")
    event = json.loads(sample["body"])
    assert (event["topic"], event["payload"]["job"]) == ("job:ready", "workbook:submitActionFg")
    assert event["context"]["jobId"].startswith("us_jb_")
    assert sample["headers"]["x-webhook-token"] == legacy["queryStringParameters"]["token"]
    assert "token" not in sample["rawQueryString"]
    assert "queryStringParameters" not in sample
    assert int(sample["headers"]["content-length"]) == len(sample["body"].encode())


# ---------------------------------------------------------------- cfn-lint rules (cfn-rules/)

#: one change to template.yaml per rule, each breaking what the rule is for
BREAKAGES = {
    "E9101": ("            FunctionResponseTypes: [ReportBatchItemFailures]\n            ScalingConfig",
              "            ScalingConfig"),
    "E9102": ("VisibilityTimeout: 1800 # 6 x the consumer's", "VisibilityTimeout: 600 # 6 x the consumer's"),
    "E9103": ("        deadLetterTargetArn: !GetAtt ConsumerDLQ.Arn\n        maxReceiveCount: 5\n",
              "        deadLetterTargetArn: !GetAtt ConsumerDLQ.Arn\n        maxReceiveCount: 50\n"),
    "E9104": ("ReservedConcurrentExecutions: !If [ReservePollerConcurrency, 1, !Ref AWS::NoValue]",
              "ReservedConcurrentExecutions: !If [ReservePollerConcurrency, 2, !Ref AWS::NoValue]"),
    "E9105": ("LEDGER_TABLE: !Ref LedgerTable", "LEDGER_TABLE: flatfile-relay-ledger"),
    "E9106": ("  PollerDLQ:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Delete\n    UpdateReplacePolicy: Delete\n"
              "    Properties:\n",
              "  PollerDLQ:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Delete\n    UpdateReplacePolicy: Delete\n"
              "    Properties:\n      QueueName: poller-dlq\n"),
    "E9107": ('aws:SecureTransport: "false"\n\n  # Ledger', 'aws:SecureTransport: "true"\n\n  # Ledger'),
    "E9108": ("    Default: rate(5 minutes)\n", "    Default: rate(1 hour)\n"),
    "E9109": ("      LayerName: !Sub ${AWS::StackName}-relay\n", ""),
}


def cfn_lint_lines(template: Path, *options: str) -> list[str]:
    """cfn-lint's findings (with cfn-rules/) for `template`, one `file:line:col:line:col:rule:message` each."""
    if not CFN_LINT.exists():
        pytest.skip("cfn-lint comes with the SAM CLI in .venv-sam: run `make validate` once")
    answer = subprocess.run(
        [str(CFN_LINT), str(template), "--format", "parseable", "--append-rules", str(ROOT / "cfn-rules"), *options],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert answer.returncode in (0, 2, 4, 6), answer.stderr  # 2/4/6: errors/warnings found, not a crash
    return [line for line in answer.stdout.splitlines() if line.count(":") >= 6]


def cfn_lint(template: Path, *options: str) -> set[str]:
    """The rule ids cfn-lint (with cfn-rules/) reports for `template`."""
    return {line.split(":")[5] for line in cfn_lint_lines(template, *options)}


@pytest.mark.slow
def test_each_cfn_lint_rule_catches_what_it_is_for(tmp_path: Path) -> None:
    assert {rule for rule in cfn_lint(ROOT / "template.yaml") if rule.startswith("E91")} == set()
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for old, new in BREAKAGES.values():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    broken = tmp_path / "template.yaml"
    broken.write_text(text, encoding="utf-8")
    assert {rule for rule in cfn_lint(broken) if rule.startswith("E91")} == set(BREAKAGES)


@pytest.mark.slow
def test_a_stale_poller_alarm_shorter_than_two_schedule_periods_is_refused_in_the_saved_deploy_values(
    tmp_path: Path,
) -> None:
    """`sam deploy --guided` saves the answers in samconfig.toml; `make validate` then checks them (E9108)."""
    (tmp_path / "template.yaml").write_text((ROOT / "template.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    anchor = 's3_prefix = "flatfile-relay"\n'
    assert config.count(anchor) == 1

    def lint(overrides: str) -> list[str]:
        saved = config.replace(anchor, f"{anchor}parameter_overrides = {json.dumps(overrides)}\n")
        (tmp_path / "samconfig.toml").write_text(saved, encoding="utf-8")
        return [line for line in cfn_lint_lines(tmp_path / "template.yaml") if ":E9108:" in line]

    [refused] = lint('ScheduleExpression="rate(1 hour)" ExportSince=2024-01-01')
    assert "samconfig.toml [default]: StalePollerMinutes 30 is shorter than two periods of ScheduleExpression " \
           "'rate(1 hour)' (60 minutes between polls)" in refused
    assert "set StalePollerMinutes to 120 or more" in refused
    assert lint('ScheduleExpression="rate(1 hour)" StalePollerMinutes=120') == []
    assert lint('ScheduleExpression="cron(0/10 * * * ? *)" StalePollerMinutes=20') == []
    assert len(lint('ScheduleExpression="cron(0/10 * ? * MON-FRI *)" StalePollerMinutes=60')) == 1  # weekends


@pytest.mark.parametrize(
    ("url", "allowed"),
    [("https://api.us.flatfile.io", True), ("https://api.eu.flatfile.io/v1", True),
     ("http://127.0.0.1:8765", True), ("http://localhost:8765", True), ("http://[::1]:8765", True),
     ("http://api.us.flatfile.io", False), ("http://10.0.0.5:8765", False), ("http://localhost.example", False),
     ("http://host.docker.internal:8765", False), ("ftp://api.example", False)],
)
def test_flatfile_base_url_parameter_takes_https_or_a_loopback_host(
    template: dict[str, Any], url: str, allowed: bool
) -> None:
    pattern = template["Parameters"]["FlatfileBaseUrl"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, url)) is allowed


def test_every_checkov_skip_states_its_reason(template: dict[str, Any]) -> None:
    """`make scan` runs checkov with zero failures; what it skips is per resource, each with the reason."""
    skips = {
        (name, skip.get("id")): skip.get("comment", "")
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert skips
    assert [key for key, reason in skips.items() if len(reason.split()) < 8] == []


def test_the_webhook_timeout_leaves_room_for_one_aws_call(template: dict[str, Any]) -> None:
    """The webhook starts no AWS call that could outlast it: its timeout must hold at least one whole call."""
    from flatfile_relay.aws import PROMPT, longest_call

    app = (ROOT / "functions" / "webhook" / "app.py").read_text(encoding="utf-8")
    reserve = float(re.search(r"^DEADLINE_RESERVE = ([\d.]+)", app, re.MULTILINE)[1])  # type: ignore[index]
    timeout = function_props(template, "WebhookFunction")["Timeout"]
    assert timeout >= reserve + longest_call(PROMPT) + 5, "the webhook would refuse every call: raise its Timeout"


def test_only_the_functions_that_read_the_flatfile_secret_know_it(template: dict[str, Any]) -> None:
    """The webhook (public URL) and the consumer never read the Flatfile credentials: not even its name."""
    knowing = {name for name in FUNCTIONS
               if "FLATFILE_SECRET_ID" in function_props(template, name)["Environment"]["Variables"]}
    assert knowing == {"PollerFunction", "ExporterFunction"}
    reading = {name for name in FUNCTIONS
               if "FlatfileSecret" in json.dumps(template["Resources"][name]["Properties"].get("Policies", []))}
    assert reading == knowing


def test_bucket_access_logs_athena_results_expiry_and_their_key(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["AccessLogBucketName"]
    assert parameter["Default"] == ""
    bucket = template["Resources"]["ExportBucket"]["Properties"]
    condition, logging_, off = bucket["LoggingConfiguration"]["Fn::If"]
    assert (condition, off) == ("LogBucketAccess", {"Ref": "AWS::NoValue"})
    assert logging_["DestinationBucketName"] == {"Ref": "AccessLogBucketName"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    results = rules["ExpireAthenaResults"]
    assert (results["Prefix"], results["Status"]) == ("athena-results/", "Enabled")
    assert 1 <= results["ExpirationInDays"] <= 90
    workgroup = template["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["ResultConfiguration"]["OutputLocation"]["Fn::Sub"].endswith("/athena-results/")
    condition, with_key, without = workgroup["ResultConfiguration"]["EncryptionConfiguration"]["Fn::If"]
    assert condition == "UseBucketKmsKey"
    assert with_key == {"EncryptionOption": "SSE_KMS", "KmsKey": {"Ref": "BucketKmsKeyArn"}}
    assert without == {"EncryptionOption": "SSE_S3"}
