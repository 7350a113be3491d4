"""Create template.yaml's resources in moto and give each function the environment Lambda would.

Example:
    >>> deployment = LocalDeployment.create(Template.load("template.yaml"), AwsClients())   # doctest: +SKIP
    >>> deployment.environment("ExporterFunction")["EXPORT_BUCKET"]                         # doctest: +SKIP
    'flatfile-relay-exportbucket'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay.settings import Settings
from flatfile_relay_devkit.local.moto import REGION
from flatfile_relay_devkit.local.template import Template, TemplateError, evaluate_condition, resolve

ACCOUNT = "123456789012"
_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")


@dataclass
class LocalDeployment:
    """The template's resources as created in moto, by logical id."""

    template: Template
    clients: AwsClients
    parameters: dict[str, str]
    stack: str = "flatfile-relay"
    refs: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, template: Template, clients: AwsClients, parameters: Mapping[str, str] | None = None,
               stack: str = "flatfile-relay") -> LocalDeployment:
        """Create every bucket, queue, table, secret and EventBridge rule of the template (DLQs before their
        queues, rules after the queues they deliver to)."""
        values = template.parameter_defaults()
        values.update(parameters or {})
        deployment = cls(template=template, clients=clients, parameters=values, stack=stack)
        for name in template.of_type("AWS::S3::Bucket"):
            deployment._bucket(name)
        queues = template.of_type("AWS::SQS::Queue")
        for name in sorted(queues, key=lambda q: "RedrivePolicy" in (queues[q].get("Properties") or {})):
            deployment._queue(name, queues[name].get("Properties") or {})
        for name, resource in template.of_type("AWS::DynamoDB::Table").items():
            deployment._table(name, resource.get("Properties") or {})
        for name in template.of_type("AWS::SecretsManager::Secret"):
            deployment._secret(name)
        for name, resource in template.of_type("AWS::Events::Rule").items():
            deployment._rule(name, resource.get("Properties") or {})
        return deployment

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

    def _bucket(self, name: str) -> None:
        bucket = f"{self.stack}-{name}".lower()
        self.clients.s3.create_bucket(Bucket=bucket)
        self.refs[name], self.arns[name] = bucket, f"arn:aws:s3:::{bucket}"

    def _queue(self, name: str, props: Mapping[str, Any]) -> None:
        attributes = {key: str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            policy = resolve(props["RedrivePolicy"], self.ref, self.getatt)
            attributes["RedrivePolicy"] = json.dumps(policy)
        url = self.clients.sqs.create_queue(QueueName=f"{self.stack}-{name}", Attributes=attributes)["QueueUrl"]
        arn = self.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.refs[name], self.arns[name] = url, arn["Attributes"]["QueueArn"]

    def _table(self, name: str, props: Mapping[str, Any]) -> None:
        table = f"{self.stack}-{name}"
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
        resolved = resolve(dict(props), self.ref, self.getatt)
        bus = str(resolved.get("EventBusName") or "default")
        events = self.clients.events
        if bus != "default" and not events.list_event_buses(NamePrefix=bus)["EventBuses"]:
            events.create_event_bus(Name=bus)
        rule = f"{self.stack}-{name}"
        answer = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(resolved["EventPattern"]),
                                 State=str(resolved.get("State") or "ENABLED"))
        targets = [{key: target[key] for key in ("Id", "Arn")} for target in resolved.get("Targets") or ()]
        if targets:
            events.put_targets(Rule=rule, EventBusName=bus, Targets=targets)
        self.refs[name], self.arns[name] = rule, answer["RuleArn"]

    def _secret(self, name: str) -> None:
        answer = self.clients.secretsmanager.create_secret(
            Name=f"{self.stack}-{name}", SecretString='{"accessKeyId": "REPLACE_ME"}'
        )
        self.refs[name], self.arns[name] = answer["ARN"], answer["ARN"]
