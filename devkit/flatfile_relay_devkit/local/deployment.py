"""Create template.yaml's resources in moto and give each function the environment Lambda would.

Names follow CloudFormation: a name the template sets (a Glue database, a layer, an Athena workgroup, ...) is
used as resolved, so two stacks whose templates would name something alike collide here as in AWS; any
other resource gets a name generated from the stack and its logical id (`<stack>-<LogicalId>`). A SAM
layer without `LayerName` is named after its logical id, and a `ScheduleV2` event without `Name` or
`OmitName` `<FunctionId><EventName>`, as SAM does. `physical` maps each logical id to the name given.

What moto holds: buckets, queues, tables, secrets, EventBridge rules with their targets, the Glue database
and tables, CloudWatch alarms and the dashboard, SNS topics, the layer (an empty stand-in), EventBridge
Scheduler schedules and Athena workgroups; resources whose Condition is false are left out. Functions are
not created: handlers run in this process (`lambda_runtime`), and a function's name is `<stack>-<LogicalId>`.

Example:
    >>> deployment = LocalDeployment.create(Template.load("template.yaml"), AwsClients())   # doctest: +SKIP
    >>> deployment.environment("ExporterFunction")["EXPORT_BUCKET"]                         # doctest: +SKIP
    'flatfile-relay-exportbucket'
    >>> staging = LocalDeployment.create(Template.load("template.yaml"), AwsClients(),
    ...                                  stack="staging")                                   # doctest: +SKIP
    >>> staging.physical["GlueDatabase"]                                                    # doctest: +SKIP
    'staging'
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.settings import Settings
from flatfile_relay_devkit.local.moto import REGION
from flatfile_relay_devkit.local.template import Template, TemplateError, evaluate_condition, resolve

ACCOUNT = "123456789012"
_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
_ALARM_PROPERTIES = ("AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period",
                     "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
                     "TreatMissingData", "AlarmActions", "OKActions", "InsufficientDataActions")
_NUMBERS: dict[str, Callable[[Any], Any]] = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int,
                                             "Threshold": float}


@dataclass
class LocalDeployment:
    """The template's resources as created in moto, by logical id."""

    template: Template
    clients: AwsClients
    parameters: dict[str, str]
    stack: str = "flatfile-relay"
    refs: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    #: logical id -> the name the resource got (bucket, queue, table, secret, rule, database, alarm, ...)
    physical: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, template: Template, clients: AwsClients, parameters: Mapping[str, str] | None = None,
               stack: str = "flatfile-relay") -> LocalDeployment:
        """Create the template's resources in moto, in an order that lets each refer to the ones before
        (DLQs before their queues, rules and alarms after what they name). Resources whose Condition is false
        are left out."""
        values = template.parameter_defaults()
        values.update(parameters or {})
        deployment = cls(template=template, clients=clients, parameters=values, stack=stack)
        for kind, create in deployment._creators():
            resources = {name: r for name, r in template.of_type(kind).items() if deployment._wanted(r)}
            if kind == "AWS::SQS::Queue":  # dead-letter queues first
                resources = dict(sorted(resources.items(), key=lambda q: "RedrivePolicy" in q[1].get("Properties", {})))
            for name, resource in resources.items():
                create(name, resource.get("Properties") or {})
        for spec in template.functions():
            for schedule in spec.schedules:
                deployment._schedule(spec.name, schedule.event, schedule.kind, schedule.properties)
        return deployment

    def _creators(self) -> list[tuple[str, Callable[[str, Mapping[str, Any]], None]]]:
        return [
            ("AWS::S3::Bucket", self._bucket), ("AWS::SQS::Queue", self._queue),
            ("AWS::DynamoDB::Table", self._table), ("AWS::SecretsManager::Secret", self._secret),
            ("AWS::SNS::Topic", self._topic), ("AWS::Events::Rule", self._rule),
            ("AWS::Serverless::LayerVersion", self._layer), ("AWS::Glue::Database", self._database),
            ("AWS::Glue::Table", self._glue_table), ("AWS::Athena::WorkGroup", self._workgroup),
            ("AWS::CloudWatch::Alarm", self._alarm), ("AWS::CloudWatch::Dashboard", self._dashboard),
        ]

    def _wanted(self, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition))

    def _name(self, name: str, props: Mapping[str, Any], key: str, default: str | None = None) -> str:
        """The name the template sets under `key` (resolved), else `default`, else a generated one."""
        given = self.resolve(props[key]) if key in props else None
        physical = str(given) if given else default or f"{self.stack}-{name}"
        self.physical[name] = physical
        return physical

    def resolve(self, value: Any) -> Any:
        """A template value with every intrinsic resolved against this deployment."""
        return resolve(value, self.ref, self.getatt, self.condition)

    # -- what functions see ----------------------------------------------------------------------------

    def environment(self, function: str) -> dict[str, str]:
        """The function's Environment.Variables, resolved to the local resources.

        `AWS_ENDPOINT_URL` is declared empty in the template only so that `sam local invoke --env-vars` can
        set it; an empty one is left out here, so the endpoint of this process (moto's) applies.
        """
        spec = self.template.function(function)
        resolved = resolve(spec.environment, self.ref, self.getatt, self.condition)
        variables = {key: "" if value is None else str(value) for key, value in resolved.items()}
        if not variables.get("AWS_ENDPOINT_URL"):
            variables.pop("AWS_ENDPOINT_URL", None)
        return variables

    def store_credentials(self, secret: Mapping[str, Any]) -> None:
        """Put the emulator's credentials where the stack keeps them: `webhookToken` in WebhookSecret (the
        webhook's own secret), everything else in FlatfileSecret."""
        secrets = self.clients.secretsmanager
        flatfile = {key: value for key, value in secret.items() if key != "webhookToken"}
        secrets.put_secret_value(SecretId=self.refs["FlatfileSecret"], SecretString=json.dumps(flatfile))
        secrets.put_secret_value(SecretId=self.refs["WebhookSecret"],
                                 SecretString=json.dumps({"webhookToken": secret.get("webhookToken")}))

    def settings(self, function: str = "ExporterFunction") -> Settings:
        return Settings.from_env(self.environment(function))

    def condition(self, name: str) -> bool:
        return evaluate_condition(self.template, name, self.ref)

    def ref(self, name: str) -> str:
        if name in self.refs:
            return self.refs[name]
        if name in self.parameters:
            return self.parameters[name]
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": self.stack,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}
        if name in pseudo:
            return pseudo[name]
        if name in self.template.resources:
            return f"{self.stack}-{name}"
        raise TemplateError(f"!Ref {name} names no parameter or resource")

    def getatt(self, name: str, attribute: str) -> str:
        if attribute == "Arn" and name in self.arns:
            return self.arns[name]
        if attribute in ("QueueUrl",):
            return self.refs[name]
        if attribute in ("QueueName", "Name"):
            return self.refs[name].rsplit("/", 1)[-1]
        return f"arn:aws:local:{REGION}:{ACCOUNT}:{self.stack}/{name}/{attribute}"

    def empty(self) -> LocalDeployment:
        """Delete every object, ledger item and queued message, keeping the resources (cheaper than creating
        them again; SQS's PurgeQueue is allowed once a minute, so queues are drained)."""
        clients = self.clients
        for name in self.template.of_type("AWS::S3::Bucket"):
            for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=self.refs[name]):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    clients.s3.delete_objects(Bucket=self.refs[name], Delete={"Objects": keys})
        for name, resource in self.template.of_type("AWS::DynamoDB::Table").items():
            table = self.refs[name]
            key_names = [key["AttributeName"] for key in resource["Properties"]["KeySchema"]]
            pages = clients.dynamodb.get_paginator("scan").paginate(
                TableName=table, ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
                ExpressionAttributeNames={f"#k{i}": key for i, key in enumerate(key_names)},
            )
            keys = [item for page in pages for item in page["Items"]]
            for start in range(0, len(keys), 25):
                clients.dynamodb.batch_write_item(
                    RequestItems={table: [{"DeleteRequest": {"Key": key}} for key in keys[start:start + 25]]}
                )
        for name in self.template.of_type("AWS::SQS::Queue"):
            url = self.refs[name]
            while messages := clients.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0
            ).get("Messages"):
                clients.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        return self

    # -- resources ---------------------------------------------------------------------------------------

    def _bucket(self, name: str, props: Mapping[str, Any]) -> None:
        bucket = self._name(name, props, "BucketName", f"{self.stack}-{name}".lower())
        self.clients.s3.create_bucket(Bucket=bucket)
        self.refs[name], self.arns[name] = bucket, f"arn:aws:s3:::{bucket}"

    def _queue(self, name: str, props: Mapping[str, Any]) -> None:
        attributes = {key: str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(self.resolve(props["RedrivePolicy"]))
        queue = self._name(name, props, "QueueName")
        url = self.clients.sqs.create_queue(QueueName=queue, Attributes=attributes)["QueueUrl"]
        arn = self.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.refs[name], self.arns[name] = url, arn["Attributes"]["QueueArn"]

    def _table(self, name: str, props: Mapping[str, Any]) -> None:
        table = self._name(name, props, "TableName")
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                for index in props["GlobalSecondaryIndexes"]
            ]
        answer = self.clients.dynamodb.create_table(**kwargs)
        self.refs[name], self.arns[name] = table, answer["TableDescription"]["TableArn"]

    def _rule(self, name: str, props: Mapping[str, Any]) -> None:
        """An EventBridge rule with its targets; moto delivers matching events to SQS targets as AWS does."""
        resolved = self.resolve(dict(props))
        bus = str(resolved.get("EventBusName") or "default")
        events = self.clients.events
        if bus != "default" and not events.list_event_buses(NamePrefix=bus)["EventBuses"]:
            events.create_event_bus(Name=bus)
        rule = self._name(name, props, "Name")
        answer = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(resolved["EventPattern"]),
                                 State=str(resolved.get("State") or "ENABLED"))
        targets = [{key: target[key] for key in ("Id", "Arn")} for target in resolved.get("Targets") or ()]
        if targets:
            events.put_targets(Rule=rule, EventBusName=bus, Targets=targets)
        self.refs[name], self.arns[name] = rule, answer["RuleArn"]

    def _secret(self, name: str, props: Mapping[str, Any]) -> None:
        secret = self._name(name, props, "Name")
        answer = self.clients.secretsmanager.create_secret(Name=secret, SecretString='{"accessKeyId": "REPLACE_ME"}')
        self.refs[name], self.arns[name] = answer["ARN"], answer["ARN"]

    def _topic(self, name: str, props: Mapping[str, Any]) -> None:
        arn = self._client("sns").create_topic(Name=self._name(name, props, "TopicName"))["TopicArn"]
        self.refs[name], self.arns[name] = arn, arn

    def _layer(self, name: str, props: Mapping[str, Any]) -> None:
        """A stand-in version of the layer (an empty archive), published under the name SAM would give it."""
        layer = self._name(name, props, "LayerName", default=name)  # SAM: the logical id when unnamed
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as empty:
            empty.writestr("python/", "")
        answer = self._client("lambda").publish_layer_version(LayerName=layer, Content={"ZipFile": archive.getvalue()})
        self.refs[name], self.arns[name] = answer["LayerVersionArn"], answer["LayerVersionArn"]

    def _database(self, name: str, props: Mapping[str, Any]) -> None:
        database = self.resolve(dict(props["DatabaseInput"]))
        self.physical[name] = database["Name"]
        self._client("glue").create_database(DatabaseInput=database)
        self.refs[name] = database["Name"]
        self.arns[name] = f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{database['Name']}"

    def _glue_table(self, name: str, props: Mapping[str, Any]) -> None:
        database, table = self.ref(str(props["DatabaseName"]["Ref"])), self.resolve(dict(props["TableInput"]))
        self._client("glue").create_table(DatabaseName=database, TableInput=table)
        self.refs[name] = self.physical[name] = table["Name"]

    def _workgroup(self, name: str, props: Mapping[str, Any]) -> None:
        workgroup = self._name(name, props, "Name")
        self._client("athena").create_work_group(Name=workgroup, Description=str(props.get("Description", "")))
        self.refs[name] = workgroup

    def _alarm(self, name: str, props: Mapping[str, Any]) -> None:
        resolved = self.resolve({key: props[key] for key in _ALARM_PROPERTIES if key in props})
        for key, kind in _NUMBERS.items():
            if key in resolved:
                resolved[key] = kind(resolved[key])
        alarm = self._name(name, props, "AlarmName")
        self._client("cloudwatch").put_metric_alarm(AlarmName=alarm, **resolved)
        self.refs[name] = alarm
        self.arns[name] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}"

    def _dashboard(self, name: str, props: Mapping[str, Any]) -> None:
        dashboard = self._name(name, props, "DashboardName")
        self._client("cloudwatch").put_dashboard(DashboardName=dashboard,
                                                 DashboardBody=str(self.resolve(props["DashboardBody"])))
        self.refs[name] = dashboard

    def _schedule(self, function: str, event: str, kind: str, props: Mapping[str, Any]) -> None:
        """A function's schedule, named as SAM names it: `Name`, else generated with `OmitName: true`, else
        `<FunctionId><EventName>` (the same in every stack). A `Schedule` event is an EventBridge rule whose
        name CloudFormation generates: nothing to create here."""
        if kind != "ScheduleV2":
            return
        logical = f"{function}{event}"
        omit = props.get("OmitName") is True
        schedule = self._name(logical, props, "Name", default=None if omit else logical)
        resolved = self.resolve({key: props[key] for key in ("ScheduleExpression", "State", "Input") if key in props})
        target = {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.ref(function)}",
                  "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{self.stack}-{logical}Role",
                  "Input": str(resolved.get("Input", "{}"))}
        answer = self._client("scheduler").create_schedule(
            Name=schedule, ScheduleExpression=str(resolved["ScheduleExpression"]),
            State=str(resolved.get("State") or "ENABLED"), FlexibleTimeWindow={"Mode": "OFF"}, Target=target,
        )
        self.refs[logical], self.arns[logical] = schedule, answer["ScheduleArn"]

    def _client(self, service: str) -> Any:
        """A client of a service the functions never call (the stack's operational resources)."""
        return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))


@functools.cache
def _client(service: str, endpoint: str | None, region: str | None) -> Any:
    """One client per service and endpoint (building one takes tens of milliseconds; tests deploy often)."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint or None, region_name=region or REGION)
