"""Least privilege, verified: every AWS call each function makes is allowed by its policy in template.yaml, and
its policy grants nothing it never calls (except what AWS does on its behalf, listed in `ON_BEHALF`).

moto enforces no IAM, so the template must be right by itself. The handlers run against moto and the
emulator along every path (poll, export with a continuation, consume, webhook accepted / ignored / refused,
the operator modes check, status, replay and backfill, and failures: a foreign license, an unknown batch, a
malformed notice). Every AWS client created meanwhile gets a botocore `provide-client-params` hook that
records (function, operation, parameters); `ACTIONS` and `RESOURCES` turn an operation into the IAM action
and resource it needs. To support a new service, add its operations to `ACTIONS` (when the action's name
differs) and a resource rule to `RESOURCES` (e.g. ``events``: the bus of ``PutEvents``).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import pytest
from support.functions import ROOT
from support.relay import Relay, event_file, sqs_event
from support.webhook import encode, function_url_event, payload

from flatfile_relay_devkit.local.moto import REGION
from flatfile_relay_devkit.local.template import load_yaml, resolve

ACCOUNT = "123456789012"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"

#: (service, operation) -> IAM action, where the action is not "<signing name>:<operation>"
ACTIONS: dict[tuple[str, str], str] = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",  # checked per key
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
}

#: what AWS does for a function with a permission in its Policies, though its code never calls it.
#: (Not in Policies at all, so not listed: SQS event source polling - ReceiveMessage, DeleteMessage,
#: GetQueueAttributes - which SAM grants with the SQS event; CloudWatch Logs and X-Ray, granted by the managed
#: policies SAM attaches.)
ON_BEHALF: dict[str, dict[str, str]] = {
    "kms:GenerateDataKey": {"*": "S3 encrypts an upload with the bucket's KMS key (BucketKmsKeyArn)"},
    "kms:Decrypt": {"*": "S3 decrypts a read object with the bucket's KMS key (BucketKmsKeyArn)"},
    "s3:ListBucket": {"ConsumerFunction": "GetObject of a missing key then answers NoSuchKey, not AccessDenied"},
}


@dataclass
class Call:
    function: str
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorder:
    """The AWS calls made while `function` is set, recorded on every client created meanwhile."""

    relay: Relay
    arns: dict[str, str]
    function: str | None = None
    calls: list[Call] = field(default_factory=list)

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.function is None:
            return
        service = model.service_model.signing_name
        action = ACTIONS.get((service, model.name), f"{service}:{model.name}")
        for resource, context in RESOURCES[service](params, self.arns):
            self.calls.append(Call(self.function, action, resource, context))


def _s3(params: dict[str, Any], _arns: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    if "Key" in params:
        yield f"{bucket}/{params['Key']}", {}
    elif "Delete" in params:
        for item in params["Delete"]["Objects"]:
            yield f"{bucket}/{item['Key']}", {}
    else:
        yield bucket, {"s3:prefix": params.get("Prefix", "")}


def _sqs(params: dict[str, Any], arns: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    yield arns[params["QueueUrl"]], {}


def _dynamodb(params: dict[str, Any], arns: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """The table (or index) and, for a call on items named by key, each key's `dynamodb:LeadingKeys`."""
    for table in [params["TableName"]] if "TableName" in params else list(params["RequestItems"]):
        arn = arns[table]
        resource = f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn
        keys = [params["Key"]] if "Key" in params else params.get("RequestItems", {}).get(table, {}).get("Keys", [])
        if not keys:
            yield resource, {}
        for key in keys:
            yield resource, {"dynamodb:LeadingKeys": next(iter(key["batchId"].values()))}


def _secretsmanager(params: dict[str, Any], arns: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    yield arns.get(params["SecretId"], params["SecretId"]), {}


def _events(params: dict[str, Any], _arns: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    for entry in params.get("Entries", []):
        yield f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{entry.get('EventBusName') or 'default'}", {}


#: signing name -> the resources (ARN, condition keys) a call's parameters name
RESOURCES: dict[str, Callable[[dict[str, Any], dict[str, str]], Iterator[tuple[str, dict[str, str]]]]] = {
    "s3": _s3, "sqs": _sqs, "dynamodb": _dynamodb, "secretsmanager": _secretsmanager, "events": _events,
}


# -- the policies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    action: str
    resource: str
    prefix: str | None = None  # StringLike s3:prefix
    effect: str = "Allow"
    leading_keys: tuple[str, ...] = ()  # ForAnyValue:StringLike dynamodb:LeadingKeys (Deny statements)

    def allows(self, call: Call) -> bool:
        """True when this Allow grant covers the call (a Deny grant allows nothing: see `denies`)."""
        return self.effect == "Allow" and self._covers(call)

    def denies(self, call: Call) -> bool:
        return self.effect == "Deny" and self._covers(call)

    def _covers(self, call: Call) -> bool:
        if not fnmatch.fnmatchcase(call.action, self.action) or not fnmatch.fnmatchcase(call.resource, self.resource):
            return False
        if self.leading_keys and not any(fnmatch.fnmatchcase(call.context.get("dynamodb:LeadingKeys", ""), pattern)
                                         for pattern in self.leading_keys):
            return False
        return self.prefix is None or fnmatch.fnmatchcase(call.context.get("s3:prefix", ""), self.prefix)


def permitted(grants_: set[Grant], call: Call) -> bool:
    """IAM's answer: an Allow covers the call and no Deny does."""
    return any(grant.allows(call) for grant in grants_) and not any(grant.denies(call) for grant in grants_)


def grants(relay: Relay, function: str, *, kms: bool = False) -> set[Grant]:
    """The function's Policies as (action, resource) grants; `kms`: with BucketKmsKeyArn set."""
    deployment = relay.deployment

    def ref(name: str) -> str:
        return KMS_KEY if name == "BucketKmsKeyArn" else deployment.ref(name)

    found: set[Grant] = set()
    for policy in load_yaml(ROOT / "template.yaml")["Resources"][function]["Properties"]["Policies"]:
        if "Fn::If" in policy:
            condition, chosen, other = policy["Fn::If"]
            assert condition == "UseBucketKmsKey", f"{function}: interpret condition {condition} here"
            policy = chosen if kms else other
        if policy == {"Ref": "AWS::NoValue"}:
            continue
        assert list(policy) == ["Statement"], f"{function}: SAM policy templates hide their actions: {policy}"
        for statement in policy["Statement"]:
            assert statement["Effect"] in ("Allow", "Deny")
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = resolve(statement["Resource"], ref, deployment.getatt)
            conditions = statement.get("Condition", {})
            assert set(conditions) <= {"StringLike", "ForAnyValue:StringLike"}, statement
            prefix = conditions.get("StringLike", {}).get("s3:prefix")
            leading = conditions.get("ForAnyValue:StringLike", {})
            assert set(leading) <= {"dynamodb:LeadingKeys"}, statement
            assert statement["Effect"] == "Deny" or not leading, "an Allow on some keys only: interpret it here"
            keys = leading.get("dynamodb:LeadingKeys", [])
            for action in actions:
                for resource in resources if isinstance(resources, list) else [resources]:
                    found.add(Grant(action, resource, resolve(prefix, ref, deployment.getatt), statement["Effect"],
                                    tuple(keys if isinstance(keys, list) else [keys])))
    return found


# -- the run ------------------------------------------------------------------------------------------------


@pytest.fixture
def recorder(relay_factory: Callable[..., Relay], monkeypatch: pytest.MonkeyPatch) -> Recorder:
    relay = relay_factory(env={"PART_MAX_ROWS": "100", "FLATFILE_PAGE_SIZE": "25", "FLATFILE_ROW_PREFETCH": "1"},
                          emulator={"latency": 0.05})
    relay.share_clients = False  # each function builds its own clients, which get the hook
    deployment = relay.deployment
    arns = {deployment.refs[name]: arn for name, arn in deployment.arns.items()}
    recording = Recorder(relay, arns={**arns, **{arn: arn for arn in deployment.arns.values()}})
    create_client = botocore.session.Session.create_client

    def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("provide-client-params", recording.hook)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", hooked)
    return recording


def run(recording: Recorder, function: str, event: Any, timeout: float | None = None) -> Any:
    relay = recording.relay
    recording.function = function
    try:
        return relay.invoke(function, event, timeout)
    finally:
        recording.function = None


def exercise(recording: Recorder) -> None:
    """Every path of every function, good and failing."""
    relay = recording.relay
    emu = relay.emu
    # poll, then export (the big batch continues in a second job: a deadline just above the reserves) and consume
    assert run(recording, "PollerFunction", event_file("schedule.json"))["jobs_sent"]
    big = emu.state.sample("big")["id"]
    jobs = relay.drain(relay.settings.export_jobs_queue_url)
    big_job = next(m for m in jobs if json.loads(m["Body"])["batchId"] == big)
    assert run(recording, "ExporterFunction", sqs_event("sqs_export_job.json", [big_job["Body"]]), 34) == {
        "batchItemFailures": []}
    continuation = relay.drain(relay.settings.export_jobs_queue_url)
    assert [json.loads(m["Body"])["resume"] for m in continuation] == [True], "no continuation job was sent"
    for message in [m for m in jobs if m is not big_job] + continuation:
        assert run(recording, "ExporterFunction", sqs_event("sqs_export_job.json", [message["Body"]])) == {
            "batchItemFailures": []}
    notices = [m["Body"] for m in relay.drain(relay.settings.notices_queue_url)]
    assert run(recording, "ConsumerFunction", sqs_event("sqs_notice.json", notices)) == {"batchItemFailures": []}
    # failures: a notice naming a missing manifest, a job for a batch Flatfile does not know
    missing = json.loads(notices[0]) | {"manifestUri": f"s3://{relay.bucket}/flatfile/manifests/00000000-0000-4000-8000-000000000000.json"}
    assert run(recording, "ConsumerFunction", sqs_event("sqs_notice.json", [json.dumps(missing)]))[
        "batchItemFailures"]
    run(recording, "ExporterFunction", event_file("sqs_export_job.json"))
    # the webhook: accepted (a job sent), an event that is not an upload, a wrong token
    pending = emu.state.sample("in_progress")["id"]
    token = emu.secret["webhookToken"]
    accepted = run(recording, "WebhookFunction", function_url_event(encode(payload(pending)), query={"token": token}))
    assert accepted["statusCode"] == 202
    other = payload(pending) | {"event": {"type": "space:v1:created", "id": "e-1"}}
    assert run(recording, "WebhookFunction", function_url_event(encode(other), query={"token": token}))[
        "statusCode"] == 200
    assert run(recording, "WebhookFunction", function_url_event(encode(payload(pending)), query={"token": "x" * 40}))[
        "statusCode"] == 401
    # the operator modes
    for mode in ({"mode": "check"}, {"mode": "status"}, {"mode": "replay", "batchIds": [big]},
                 {"mode": "backfill", "since": "2000-01-01", "dryRun": False}):
        assert run(recording, "PollerFunction", mode)["ok"] is True, mode
    # the replay's export finds a part its manifest no longer lists (a stray one, as a shorter replay leaves)
    manifest = json.loads(relay.deployment.clients.s3.get_object(
        Bucket=relay.bucket, Key=f"flatfile/manifests/{big}.json")["Body"].read())
    stray = manifest["parts"][-1]["uri"].split("/", 3)[3].replace("part-", "part-9")
    relay.deployment.clients.s3.put_object(Bucket=relay.bucket, Key=stray, Body=b"")
    replays = [m["Body"] for m in relay.drain(relay.settings.export_jobs_queue_url)
               if json.loads(m["Body"])["trigger"] == "replay"]
    for body in replays:
        assert run(recording, "ExporterFunction", sqs_event("sqs_export_job.json", [body])) == {
            "batchItemFailures": []}
    assert "Contents" not in relay.deployment.clients.s3.list_objects_v2(Bucket=relay.bucket, Prefix=stray)
    # a poll that fails: a license of another account
    relay.put_secret({**emu.secret, "licenseKey": emu.state.account.foreign_license_key})
    relay.cold("PollerFunction")  # a new execution environment: no cached secret
    with pytest.raises(Exception, match="license"):
        run(recording, "PollerFunction", {})


FUNCTIONS = ("PollerFunction", "ExporterFunction", "WebhookFunction", "ConsumerFunction")


def test_each_function_calls_exactly_what_its_policy_grants(recorder: Recorder) -> None:
    exercise(recorder)
    relay = recorder.relay

    problems = []
    for function in FUNCTIONS:
        allowed = grants(relay, function)
        calls = [call for call in recorder.calls if call.function == function]
        assert calls, f"{function} made no AWS call"
        problems += [f"{function} calls {c.action} on {c.resource} {c.context or ''}: not allowed"
                     for c in calls if not permitted(allowed, c)]
        for grant in allowed:
            if grant.effect == "Deny":
                continue
            on_behalf = ON_BEHALF.get(grant.action, {})
            if not any(grant.allows(c) for c in calls) and not ({"*", function} & set(on_behalf)):
                problems.append(f"{function} is granted {grant.action} on {grant.resource} but never calls it")
    assert problems == []


def test_the_consumer_cannot_read_the_raw_webhook_payloads(recorder: Recorder) -> None:
    relay = recorder.relay
    webhook_payload = Call("ConsumerFunction", "s3:GetObject",
                           f"arn:aws:s3:::{relay.bucket}/flatfile/webhooks/b/e-0.json")
    manifest = Call("ConsumerFunction", "s3:GetObject", f"arn:aws:s3:::{relay.bucket}/flatfile/manifests/b.json")
    allowed = grants(relay, "ConsumerFunction")
    assert not any(grant.allows(webhook_payload) for grant in allowed)
    assert any(grant.allows(manifest) for grant in allowed)
    listing = Call("ConsumerFunction", "s3:ListBucket", f"arn:aws:s3:::{relay.bucket}",
                   {"s3:prefix": "flatfile/webhooks/"})
    assert not any(grant.allows(listing) for grant in allowed)


def test_the_webhook_cannot_read_the_flatfile_secret(recorder: Recorder) -> None:
    relay = recorder.relay
    read = Call("WebhookFunction", "secretsmanager:GetSecretValue", relay.deployment.arns["FlatfileSecret"])
    assert not any(grant.allows(read) for grant in grants(relay, "WebhookFunction"))


def test_the_bucket_key_is_granted_only_when_given_and_only_for_what_s3_does(recorder: Recorder) -> None:
    relay = recorder.relay
    for function in FUNCTIONS:
        extra = grants(relay, function, kms=True) - grants(relay, function)
        assert extra, f"{function} gets no use of the bucket's KMS key"
        assert {grant.resource for grant in extra} == {KMS_KEY}
        assert {grant.action for grant in extra} <= set(ON_BEHALF)


def test_the_webhook_cannot_touch_the_poller_checkpoints(recorder: Recorder) -> None:
    """Its role denies every DynamoDB call on an item whose key starts with "#": the checkpoints "#poller" (and
    "#poller:platform" to come); batch items (UUIDs) and Platform job items (us_jb_...) stay reachable."""
    relay = recorder.relay
    table = relay.deployment.arns["LedgerTable"]
    webhook, poller, exporter = (grants(relay, name) for name in ("WebhookFunction", "PollerFunction",
                                                                  "ExporterFunction"))
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"):
        for key in ("#poller", "#poller:platform"):
            call = Call("WebhookFunction", action, table, {"dynamodb:LeadingKeys": key})
            assert not permitted(webhook, call), (action, key)
    for key in ("8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27", "us_jb_0123456789"):
        assert permitted(webhook, Call("WebhookFunction", "dynamodb:UpdateItem", table, {"dynamodb:LeadingKeys": key}))
    checkpoint = {"dynamodb:LeadingKeys": "#poller"}
    assert permitted(poller, Call("PollerFunction", "dynamodb:UpdateItem", table, checkpoint))
    assert permitted(exporter, Call("ExporterFunction", "dynamodb:GetItem", table, checkpoint))  # export lag
