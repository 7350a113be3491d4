"""local/template.py: CloudFormation short tags, Ref/GetAtt/Sub resolution and each function's setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flatfile_relay_devkit.local.template import SqsSource, Template, TemplateError, resolve

ROOT = Path(__file__).resolve().parents[3]

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Prefix: {Type: String, Default: out/}
  Hours: {Type: Number, Default: 168}
  Empty: {Type: String, Default: ""}
Globals:
  Function:
    Handler: app.handler
    Timeout: 30
    CodeUri: functions/default/
    Environment:
      Variables:
        SHARED: from-globals
        OVERRIDDEN: from-globals
        BUCKET: !Ref Bucket
Resources:
  Bucket: {Type: AWS::S3::Bucket}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDLQ.Arn
        maxReceiveCount: 3
  JobsDLQ: {Type: AWS::SQS::Queue}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: main.run
      Timeout: 900
      Environment:
        Variables:
          OVERRIDDEN: from-function
          QUEUE: !Ref Jobs
          QUEUE_ARN: !GetAtt Jobs.Arn
          QUEUE_ARN_LIST: !GetAtt [Jobs, Arn]
          WHERE: !Sub s3://${Bucket}/${Prefix}batches/
          DLQ: !Sub "${JobsDLQ.Arn}"
          LITERAL: !Sub "${!NotAVariable}-${AWS::Region}"
          LOCAL: !Sub
            - "${Name}:${Hours}"
            - Name: !Ref Bucket
      Events:
        FromJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
        FromDLQ:
          Type: SQS
          Properties:
            Queue: !Ref JobsDLQ
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Tick:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(5 minutes)}
  Hook:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/hook/
      FunctionUrlConfig: {AuthType: NONE}
      Environment:
        Variables:
          SHARED: !Ref Empty
"""


@pytest.fixture
def template(tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return Template.load(path)


def lookups() -> tuple[Any, Any]:
    def ref(name: str) -> str:
        return {"Bucket": "my-bucket", "Jobs": "https://sqs/jobs", "Prefix": "out/", "Hours": "168",
                "AWS::Region": "eu-west-1", "Empty": ""}[name]

    def getatt(name: str, attribute: str) -> str:
        return f"arn:{name}:{attribute}"

    return ref, getatt


def test_short_tags_become_long_form(template: Template) -> None:
    env = template.resources["Worker"]["Properties"]["Environment"]["Variables"]
    assert env["QUEUE"] == {"Ref": "Jobs"}
    assert env["QUEUE_ARN"] == {"Fn::GetAtt": ["Jobs", "Arn"]}
    assert env["QUEUE_ARN_LIST"] == {"Fn::GetAtt": ["Jobs", "Arn"]}
    assert env["WHERE"] == {"Fn::Sub": "s3://${Bucket}/${Prefix}batches/"}
    assert env["LOCAL"] == {"Fn::Sub": ["${Name}:${Hours}", {"Name": {"Ref": "Bucket"}}]}


def test_load_refuses_a_file_without_resources(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("Parameters: {}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="no Resources"):
        Template.load(path)


def test_parameter_defaults_and_of_type(template: Template) -> None:
    assert template.parameter_defaults() == {"Prefix": "out/", "Hours": "168", "Empty": ""}
    assert set(template.of_type("AWS::SQS::Queue")) == {"Jobs", "JobsDLQ"}
    assert set(template.of_type("AWS::Serverless::Function")) == {"Worker", "Ticker", "Hook"}
    assert template.of_type("AWS::DynamoDB::Table") == {}


def test_resolve_ref_getatt_and_sub(template: Template) -> None:
    ref, getatt = lookups()
    env = resolve(template.function("Worker").environment, ref, getatt)
    assert env == {
        "SHARED": "from-globals",
        "OVERRIDDEN": "from-function",
        "BUCKET": "my-bucket",
        "QUEUE": "https://sqs/jobs",
        "QUEUE_ARN": "arn:Jobs:Arn",
        "QUEUE_ARN_LIST": "arn:Jobs:Arn",
        "WHERE": "s3://my-bucket/out/batches/",
        "DLQ": "arn:JobsDLQ:Arn",
        "LITERAL": "${NotAVariable}-eu-west-1",
        "LOCAL": "my-bucket:168",
    }


def test_resolve_walks_lists_and_nested_maps_and_keeps_plain_values() -> None:
    ref, getatt = lookups()
    value = {"A": [{"Ref": "Bucket"}, 5, None, {"B": {"Fn::GetAtt": "Jobs.Arn"}}], "C": "text"}
    assert resolve(value, ref, getatt) == {"A": ["my-bucket", 5, None, {"B": "arn:Jobs:Arn"}], "C": "text"}


def test_resolve_refuses_intrinsics_it_does_not_interpret() -> None:
    ref, getatt = lookups()
    with pytest.raises(TemplateError, match="Fn::If"):
        resolve({"Fn::If": ["Cond", "a", "b"]}, ref, getatt)
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resolve({"X": {"Fn::ImportValue": "other-stack-export"}}, ref, getatt)


def test_resolve_joins_splits_selects_and_drops_no_value() -> None:
    ref, getatt = lookups()
    name = {"Fn::Join": ["_", {"Fn::Split": ["-", "flatfile-relay-staging"]}]}
    assert resolve(name, ref, getatt) == "flatfile_relay_staging"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, ref, getatt) == "b"
    no_value = {"Ref": "AWS::NoValue"}
    actions = {"Actions": [{"Fn::If": ["On", "arn:topic", no_value]}, "arn:other"], "Gone": no_value}
    assert resolve(actions, ref, getatt, lambda condition: False) == {"Actions": ["arn:other"]}
    assert resolve(actions, ref, getatt, lambda condition: True) == {"Actions": ["arn:topic", "arn:other"]}
    assert resolve(no_value, ref, getatt) is None


def test_functions_merge_globals_and_read_event_sources(template: Template) -> None:
    functions = {spec.name: spec for spec in template.functions()}
    assert set(functions) == {"Worker", "Ticker", "Hook"}

    worker = functions["Worker"]
    assert (worker.code_uri, worker.handler, worker.timeout) == ("functions/worker/", "main.run", 900)
    assert worker.environment["SHARED"] == "from-globals"
    assert worker.environment["OVERRIDDEN"] == "from-function"
    assert worker.environment["BUCKET"] == {"Ref": "Bucket"}
    assert worker.sqs_sources == (
        SqsSource(queue="Jobs", batch_size=1, report_failures=True),
        SqsSource(queue="JobsDLQ", batch_size=10, report_failures=False),
    )
    assert not worker.has_schedule
    assert not worker.has_url

    ticker = functions["Ticker"]
    assert (ticker.code_uri, ticker.handler, ticker.timeout) == ("functions/default/", "app.handler", 30)
    assert ticker.has_schedule
    assert not ticker.sqs_sources
    assert ticker.environment == {"SHARED": "from-globals", "OVERRIDDEN": "from-globals",
                                  "BUCKET": {"Ref": "Bucket"}}

    hook = functions["Hook"]
    assert hook.has_url
    assert hook.environment["SHARED"] == {"Ref": "Empty"}  # the function's own value wins


def test_function_lookup_by_name(template: Template) -> None:
    assert template.function("Hook").code_uri == "functions/hook/"
    with pytest.raises(TemplateError, match="no function 'Missing'"):
        template.function("Missing")


def test_an_event_source_that_names_no_resource_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n"
        "        E: {Type: SQS, Properties: {Queue: arn:aws:sqs:us-east-1:1:literal}}\n",
        encoding="utf-8",
    )
    with pytest.raises(TemplateError, match="cannot tell which resource"):
        Template.load(path).functions()


def test_the_project_template_is_understood() -> None:
    template = Template.load(ROOT / "template.yaml")
    functions = {spec.name: spec for spec in template.functions()}
    assert set(functions) == {"PollerFunction", "ExporterFunction", "WebhookFunction", "ConsumerFunction"}
    assert functions["PollerFunction"].has_schedule
    assert functions["WebhookFunction"].has_url
    assert functions["ExporterFunction"].sqs_sources == (SqsSource("ExportJobsQueue", 1, True),)
    assert functions["ConsumerFunction"].sqs_sources == (SqsSource("ConsumerQueue", 10, True),)
    for spec in functions.values():
        assert spec.handler == "app.handler"
        assert spec.environment["LEDGER_TABLE"] == {"Ref": "LedgerTable"}
        assert (ROOT / spec.code_uri / "app.py").is_file()
