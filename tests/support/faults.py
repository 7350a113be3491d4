"""AWS-side faults, injected into real boto3 clients through botocore's event hooks (never into our code).

A `Faults` plan is attached to clients (`faults.clients()` builds a fresh `AwsClients` with every client
attached); each rule names an operation as `Service.Operation` (botocore's service id: `S3.PutObject`,
`SQS.SendMessageBatch`, `DynamoDB.UpdateItem`, `EventBridge.PutEvents`) and hits the calls it selects:

- `fail(op, code)`: the call fails with that AWS error once botocore's own retries are spent (a ClientError);
- `flaky(op, code)`: the HTTP answer is that error, so botocore's retry policy sees it and retries;
- `lose_answer(op)`: the request reaches moto and takes effect, the answer is lost (a read timeout), and
  botocore sends it again;
- `slow(op, seconds)`: each attempt waits that long (real time) before it reaches moto, then goes through;
- `refuse_entries(op)`: SendMessageBatch / PutEvents accept the call but refuse some entries (partial failure);
- `kill(op, after_call=...)`: the process dies (`Killed`, a BaseException) before or after the call; every
  later call on an attached client dies too until `revive()`, so nothing cleans up.

Selection: `after` calls of the operation pass first, then `times` calls are hit (None: every one); `when`
looks at the call's parameters (`when=lambda p: p["Key"].startswith("manifests/")`).

Example:
    >>> faults = Faults()
    >>> rule = faults.fail("S3.PutObject", "InternalError", after=2)      # the third PutObject fails
    >>> (rule.operation, rule.kind, rule.after, rule.times)
    ('S3.PutObject', 'fail', 2, 1)
    >>> clients = faults.clients()                                 # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import requests
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from flatfile_relay.aws import AwsClients

SERVICES = ("s3", "sqs", "events", "dynamodb")
_JSON_SERVICES = {"sqs", "dynamodb", "eventbridge"}


class Killed(BaseException):
    """The process died here (like SIGKILL or a Lambda timeout): no handler, no cleanup."""


@dataclass
class Rule:
    operation: str
    kind: str
    code: str = ""
    after: int = 0
    times: int | None = 1
    when: Callable[[dict[str, Any]], bool] | None = None
    after_call: bool = False
    entries: Callable[[int, dict[str, Any]], bool] | None = None
    seconds: float = 0.0
    seen: int = 0
    hits: int = 0

    def selects(self, operation: str, params: dict[str, Any]) -> bool:
        if operation != self.operation or (self.when is not None and not self.when(params)):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


@dataclass
class Faults:
    """A plan of faults for the clients it is attached to; `log` lists every fault made (`hits`: with the
    call's parameters), `calls` every call (operation and parameters), in order."""

    rules: list[Rule] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hits: list[tuple[Rule, dict[str, Any]]] = field(default_factory=list)
    dead: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the plan ----------------------------------------------------------------------------------------

    def fail(self, operation: str, code: str, **selection: Any) -> Rule:
        return self._add(Rule(operation, "fail", code, **selection))

    def flaky(self, operation: str, code: str, **selection: Any) -> Rule:
        return self._add(Rule(operation, "flaky", code, **selection))

    def lose_answer(self, operation: str, **selection: Any) -> Rule:
        return self._add(Rule(operation, "lost", **selection))

    def slow(self, operation: str, seconds: float, **selection: Any) -> Rule:
        return self._add(Rule(operation, "slow", seconds=seconds, **selection))

    def refuse_entries(self, operation: str, entries: Callable[[int, dict[str, Any]], bool],
                       code: str = "InternalError", **selection: Any) -> Rule:
        """`entries(index, entry)` picks the entries refused (the others are really sent)."""
        return self._add(Rule(operation, "partial", code, entries=entries, **selection))

    def kill(self, operation: str, *, after_call: bool = False, **selection: Any) -> Rule:
        return self._add(Rule(operation, "kill", after_call=after_call, **selection))

    def keys(self, operation: str = "S3.PutObject") -> list[str]:
        """The `Key` of every call of `operation` so far."""
        return [params["Key"] for name, params in self.calls if name == operation]

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def revive(self) -> None:
        """A new process: calls go through again (the plan stays)."""
        self.dead = False

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    # -- attaching -----------------------------------------------------------------------------------------

    def clients(self) -> AwsClients:
        """New standard clients (pointed at moto by AWS_ENDPOINT_URL), each attached to this plan."""
        clients = AwsClients()
        for service in SERVICES:
            self.attach(getattr(clients, service))
        return clients

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("provide-client-params", self._decide)
        events.register("before-call", self._before_call)
        events.register("before-send", self._before_send)
        events.register("after-call", self._after_call)
        return client

    # -- the hooks -----------------------------------------------------------------------------------------

    def _decide(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.dead:
            raise Killed(f"process already dead ({model.name})")
        name = f"{model.service_model.service_id}.{model.name}".replace(" ", "")
        with self._lock:
            self.calls.append((name, params))
            rule = next((r for r in self.rules if r.selects(name, params)), None)
        if rule is None:
            return
        context["fault"] = rule
        self.hits.append((rule, params))
        self.log.append(f"{rule.kind}{' after' if rule.after_call else ''} {name} {rule.code}".rstrip())
        if rule.kind == "partial":
            entries = params.get("Entries") or []
            refused = [i for i, entry in enumerate(entries) if rule.entries is not None and rule.entries(i, entry)]
            context["refused"] = [entries[i] for i in refused]
            if len(refused) < len(entries):  # the others are really sent
                params["Entries"] = [entry for i, entry in enumerate(entries) if i not in refused]
            else:
                context["refuse_all"] = True

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        rule: Rule | None = context.get("fault")
        if rule is None:
            return None
        if rule.kind == "kill" and not rule.after_call:
            self.dead = True
            raise Killed(f"killed before {model.name}")
        if rule.kind == "fail":
            return _answer(400, {"Error": {"Code": rule.code, "Message": "injected fault"}})
        if rule.kind == "partial" and context.get("refuse_all"):
            return _answer(200, {"Successful": [], "Failed": [], "Entries": [], "FailedEntryCount": 0})
        return None

    def _before_send(self, request: Any, **_: Any) -> Any:
        rule: Rule | None = (request.context or {}).get("fault")
        if rule is None:
            return None
        if rule.kind == "lost" and not request.context.get("lost"):
            request.context["lost"] = True  # the retry goes through and finds the effect already there
            body = request.body.read() if hasattr(request.body, "read") else request.body
            requests.request(request.method, request.url, headers=dict(request.headers), data=body, timeout=10)
            raise ReadTimeoutError(endpoint_url=request.url)
        if rule.kind == "slow":
            time.sleep(rule.seconds)
            return None
        if rule.kind == "flaky":
            sent = request.context.get("flaky", 0)
            request.context["flaky"] = sent + 1
            if sent == 0:  # the first attempt fails, botocore's retry goes through
                return _http_error(request, rule.code)
        return None

    def _after_call(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        rule: Rule | None = context.get("fault")
        if rule is None:
            return
        if rule.kind == "kill" and rule.after_call:
            self.dead = True
            raise Killed(f"killed after {model.name}")
        if rule.kind == "partial":
            refused = context.get("refused", [])
            if model.name == "PutEvents":
                parsed["Entries"] = [{"ErrorCode": rule.code, "ErrorMessage": "injected"} for _ in refused] + \
                    parsed.get("Entries", [])
                parsed["FailedEntryCount"] = parsed.get("FailedEntryCount", 0) + len(refused)
            else:
                parsed.setdefault("Failed", []).extend(
                    {"Id": entry["Id"], "Code": rule.code, "Message": "injected", "SenderFault": False}
                    for entry in refused
                )


def _answer(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status})
    return AWSResponse("http://fault", status, {}, _Raw(b"")), parsed


def _http_error(request: Any, code: str) -> AWSResponse:
    """An error answer as the service's protocol writes it (JSON or S3's XML)."""
    status = 503 if code in ("SlowDown", "ServiceUnavailable", "InternalError") else 400
    if "amz-json" in str(request.headers.get("Content-Type", "")) or _is_json(request.url):
        body = json.dumps({"__type": code, "message": "injected fault"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": f"{code};Sender"}
    else:
        body = f"<Error><Code>{code}</Code><Message>injected fault</Message></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    return AWSResponse(request.url, status, headers, _Raw(body))


def _is_json(url: str) -> bool:
    return any(f"{service}." in url for service in _JSON_SERVICES)


class _Raw:
    """The raw body botocore reads from an answer."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def stream(self, **_: Any) -> Any:
        yield self._body.read()


# -- the pipeline under faults -------------------------------------------------------------------------------

#: seconds a lease and a message's visibility timeout are taken to last: a redelivery after a kill comes later
VISIBILITY_TIMEOUT = 3600.0


@dataclass
class Pipeline:
    """The handlers of a `Relay` on clients attached to `faults`, fed by the real export-jobs queue.

    SQS semantics are kept: `deliver` receives a job, hands it to the exporter's handler, and deletes it only
    when the handler reported success; a failed or killed invocation leaves it on the queue, and it comes back
    after its visibility timeout (the ledger's clock moves on by that much, so a dead exporter's lease expires).
    Every notice and export event that lands is kept in `notices` / `events`.
    """

    relay: Any
    faults: Faults
    clock: Any
    inbox: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from flatfile_relay.ledger import Ledger

        for function in ("PollerFunction", "ExporterFunction", "WebhookFunction"):
            runtime = self.relay.module(function).runtime
            clients = self.faults.clients()
            runtime.__dict__["clients"] = clients
            runtime.__dict__["ledger"] = Ledger(self.relay.settings.ledger_table, clients.dynamodb, clock=self.clock)

    # -- triggers ------------------------------------------------------------------------------------------

    def poll(self) -> dict[str, Any] | BaseException:
        """The poller's handler on the schedule's event: its report, or what it raised."""
        return self._survive(lambda: self.relay.invoke_poller())

    def webhook(self, batch_id: str) -> int | BaseException:
        """A webhook delivery for the batch: the HTTP status, or what the handler raised."""
        return self._survive(lambda: self.relay.webhook_with_token(batch_id).status)

    def deliver(self, pick: Callable[[int], int] = lambda n: 0) -> bool:
        """One export job (`pick(len(inbox))` chooses which) to the exporter's handler; False when none is left.

        The job is deleted only after the handler reported success, and by then its effect must be durable.
        """
        self._fetch()
        if not self.inbox:
            return False
        message = self.inbox[pick(len(self.inbox))]
        body = message["Body"]
        answer = self._survive(lambda: self.relay.invoke_exporter([body]))
        self.inbox.remove(message)
        if isinstance(answer, BaseException) or answer["batchItemFailures"]:
            self.inbox.append(message)  # back after the visibility timeout, when a dead run's lease has expired
            self.clock.advance(VISIBILITY_TIMEOUT)
            return True
        self.relay.sqs.delete_message(QueueUrl=self.relay.queue_url, ReceiptHandle=message["ReceiptHandle"])
        batch_id = json.loads(body)["batchId"]
        self.acknowledged.append(batch_id)
        self.check_acknowledged(batch_id)
        self.check_in_flight()
        return True

    def drain(self, limit: int = 500) -> None:
        """Deliver jobs until the queue is empty (faults still apply)."""
        for _ in range(limit):
            if not self.deliver():
                return
        raise AssertionError(f"export jobs still queued after {limit} deliveries: {self.faults.log[-10:]}")

    def settle(self, polls: int = 3) -> None:
        """Without faults: poll and deliver until nothing is left to do (what later invocations would do)."""
        self.faults.clear()
        self.faults.revive()
        for _ in range(polls):
            report = self.poll()
            assert not isinstance(report, BaseException), report
            self.drain()

    # -- what landed and the invariants ----------------------------------------------------------------

    def collect(self) -> None:
        self.notices.extend(self.relay.notice_bodies())
        self.events.extend(self.relay.export_events())

    def check_acknowledged(self, batch_id: str) -> None:
        """A job the exporter acknowledged: its batch is exported, handed back to the poller, or another job
        for it is still on the queue (a continuation, or the job of the invocation holding the lease)."""
        from flatfile_relay.ledger import EXPORTED, PENDING

        entry = self.relay.ledger.get(batch_id)
        if entry is not None and entry.state in (EXPORTED, PENDING):
            if entry.state == EXPORTED:
                manifest = self.relay.manifest_dict(batch_id)  # the manifest and every part are durable
                self.relay.verified_rows(manifest)
            return
        self._fetch()
        queued = [json.loads(m["Body"])["batchId"] for m in self.inbox]
        assert batch_id in queued, (
            f"the job of batch {batch_id} was acknowledged but the batch is {entry and entry.state} with no job "
            f"left on the queue; faults: {self.faults.log[-10:]}"
        )

    def check_in_flight(self) -> None:
        """Between invocations: every batch the ledger says is queued or being exported has a job on the queue
        (nothing was marked before its job was durable, and no job was acknowledged while its work was open)."""
        from flatfile_relay.ledger import EXPORTING, QUEUED

        self._fetch()
        queued = {json.loads(m["Body"])["batchId"] for m in self.inbox}
        ids = [batch["id"] for batch in self.relay.emu.state.account_batches()]
        open_ = {b for b, entry in self.relay.ledger.get_many(ids).items() if entry.state in (QUEUED, EXPORTING)}
        assert open_ <= queued, (
            f"batches {sorted(open_ - queued)} are queued or exporting in the ledger with no job on the queue; "
            f"faults: {self.faults.log[-10:]}"
        )

    def check(self, batch_ids: list[str], *, repeated_notices: Collection[str] = ()) -> None:
        """The invariants, once the pipeline has settled: each submitted batch exported exactly once (one
        manifest, one notice, one event), its rows equal to the API's, every part verified against the
        manifest, no stray part, no manifest for anything else. `repeated_notices`: batches whose process
        died between sending its notice and recording it (the contract allows a second, identical-id notice).
        """
        from flatfile_relay.ledger import EXPORTED

        self.collect()
        relay = self.relay
        manifests = relay.object_keys(f"{relay.settings.export_prefix}manifests/")
        exported = {key.rsplit("/", 1)[-1].removesuffix(".json") for key in manifests}
        assert exported == set(batch_ids), (sorted(exported ^ set(batch_ids)), self.faults.log)
        for batch_id in batch_ids:
            manifest = relay.manifest_dict(batch_id)
            rows = relay.verified_rows(manifest)
            api = relay.api_rows(batch_id)
            assert len(rows) == len(api) == manifest["rowCount"], (batch_id, len(rows), len(api))
            for number, (mine, theirs) in enumerate(zip(rows, api, strict=True)):
                assert mine == theirs, f"batch {batch_id} row {number}: {mine!r} != {theirs!r}"
            listed = {part["uri"].split("/", 3)[3] for part in manifest["parts"]}
            assert set(relay.object_keys(relay.rows_folder(batch_id))) == listed, batch_id
            assert relay.entry(batch_id).state == EXPORTED
            notices = [n for n in self.notices if n["batchId"] == batch_id]
            events = [e["detail"] for e in self.events if e["detail"]["batchId"] == batch_id]
            most = 2 if batch_id in repeated_notices else 1
            assert 1 <= len(notices) <= most, (batch_id, notices, self.faults.log)
            assert 1 <= len(events) <= most, (batch_id, events, self.faults.log)
            assert notices[-1]["manifestUri"] == relay.manifest_uri(batch_id)
            assert notices[-1]["exportedAt"] == manifest["exportedAt"], (notices, manifest["exportedAt"])
            assert notices[-1]["rowCount"] == manifest["rowCount"]
            assert events[-1] == notices[-1], (events, notices)
        assert not [n for n in self.notices if n["batchId"] not in batch_ids]

    # -- plumbing ----------------------------------------------------------------------------------------

    def _fetch(self) -> None:
        sqs, url = self.relay.sqs, self.relay.queue_url
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                         VisibilityTimeout=int(VISIBILITY_TIMEOUT)).get("Messages", []):
            self.inbox.extend(got)

    def _survive(self, call: Callable[[], Any]) -> Any:
        """Run one invocation; a failure (or the process dying) is returned, and the next one is a new process."""
        try:
            return call()
        except (Exception, Killed) as error:  # noqa: BLE001 (the invocation's outcome, checked by the caller)
            return error
        finally:
            self.faults.revive()
            self.check_in_flight()
