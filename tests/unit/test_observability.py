"""observability.py: library log lines go through the Powertools Logger, redacted; no Tracer outside Lambda."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flatfile_relay import observability
from flatfile_relay.credentials import Credentials
from flatfile_relay.redaction import register_secret
from flatfile_relay.webhook_tokens import WebhookTokens

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_VARIABLES = ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_TRACE_DISABLED")


@pytest.fixture
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A first get_logger() call as in a new execution environment, writing to this test's captured stdout.

    Powertools binds its handler to sys.stdout when the Logger is created, so every test gets a service name
    of its own; the library logger's state is put back afterwards.
    """
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"relay-test-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    library = logging.getLogger("flatfile_relay")
    saved = (list(library.handlers), library.level, library.propagate)
    library.handlers.clear()
    observability.get_logger.cache_clear()
    yield
    observability.get_logger.cache_clear()
    library.handlers[:] = saved[0]
    library.setLevel(saved[1])
    library.propagate = saved[2]


def log_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.usefixtures("fresh_logger")
def test_library_loggers_write_through_the_powertools_logger(capsys: pytest.CaptureFixture[str]) -> None:
    logger = observability.get_logger()
    assert observability.get_logger() is logger  # one per execution environment
    logging.getLogger("flatfile_relay.poller").info("polled %d pages", 3)
    logger.info("handler line")
    lines = log_lines(capsys.readouterr().out)
    assert [line["message"] for line in lines] == ["polled 3 pages", "handler line"]
    assert lines[0]["level"] == "INFO"
    assert lines[0]["service"] == lines[1]["service"]


@pytest.mark.usefixtures("fresh_logger")
def test_registered_secrets_never_reach_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    observability.get_logger()
    # library records are not passed on to the root logger's handlers, which have no redaction
    assert logging.getLogger("flatfile_relay").propagate is False
    secret = f"manual-secret-{uuid.uuid4().hex}"
    register_secret(secret)
    credentials = Credentials.from_secret(
        {"accessKeyId": "FF00ABCDEFGH", "secretAccessKey": f"sak-{uuid.uuid4().hex}", "licenseKey": "lic-0001"}
    )
    hook = f"hook-{uuid.uuid4().hex}"
    WebhookTokens.from_secret({"webhookToken": hook})  # the webhook's tokens are registered as they are read
    log = logging.getLogger("flatfile_relay.x")
    log.info("secret in the message: " + secret)
    log.info("secret as an argument: %s / %s", credentials.secret_access_key, hook)
    log.warning("secret in an extra", extra={"detail": {"value": secret, "list": [credentials.api_key_header]}})
    try:
        raise RuntimeError(f"failed with {credentials.secret_access_key}")
    except RuntimeError:
        log.exception("secret in an exception")
    log.debug({"structured": secret})

    captured = capsys.readouterr()
    out = captured.out + captured.err
    lines = log_lines(captured.out)
    assert len(lines) == 5
    for value in (secret, credentials.secret_access_key, hook, credentials.api_key_header):
        assert value not in out
    assert "***" in lines[0]["message"]  # type: ignore[operator]
    assert lines[2]["detail"] == {"value": "***", "list": ["***"]}
    assert "RuntimeError" in out
    assert "secret in an exception" in out


@pytest.mark.usefixtures("fresh_logger")
def test_library_logger_follows_the_log_level(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    observability.get_logger()
    log = logging.getLogger("flatfile_relay.y")
    log.info("quiet")
    log.warning("loud")
    assert [line["message"] for line in log_lines(capsys.readouterr().out)] == ["loud"]


@pytest.fixture
def tracer_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in LAMBDA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    observability.get_tracer.cache_clear()
    yield monkeypatch
    observability.get_tracer.cache_clear()


@pytest.mark.parametrize(
    "environment",
    [
        {},  # a laptop, a test
        {"AWS_LAMBDA_FUNCTION_NAME": "PollerFunction"},  # the local runner sets only the function name
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "Yes"},
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": " on "},
    ],
)
def test_no_tracer_outside_lambda_or_when_disabled(
    tracer_environment: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for name, value in environment.items():
        tracer_environment.setenv(name, value)
    assert observability.tracing_enabled() is False
    assert observability.get_tracer() is None

    def handler(event: object, context: object) -> str:
        return "ok"

    assert observability.traced(handler)(None, None) == "ok"
    assert observability.traced(handler).__wrapped__ is handler  # type: ignore[attr-defined]


def test_an_exception_leaving_a_handler_holds_no_secret() -> None:
    """What Lambda writes into the poller's dead-letter record and its own log line: the escaping exception."""
    from flatfile_relay.redaction import register_secret

    register_secret("leaving-handler-secret-0123")

    def handler(event: object, context: object) -> str:
        try:
            raise KeyError("leaving-handler-secret-0123")
        except KeyError as inner:
            raise ConnectionError("GET https://relay.example/#token=abc%2Bdef failed") from inner

    with pytest.raises(ConnectionError) as raised:
        observability.traced(handler)(None, None)
    assert str(raised.value) == "GET https://relay.example/#token=*** failed"
    assert "leaving-handler-secret-0123" not in repr(raised.value.__cause__)
    assert raised.value.__traceback__ is not None  # the same exception, its type and traceback kept


def test_x_ray_keeps_only_the_redacted_exception() -> None:
    # In a child process: a real Tracer in a Lambda-like environment, its segments caught by a recording emitter.
    code = (
        "from aws_xray_sdk.core import xray_recorder\n"
        "from flatfile_relay.observability import get_tracer, traced\n"
        "from flatfile_relay.redaction import register_secret\n"
        "sent = []\n"
        "class Emitter:\n"
        "    ip, port = '127.0.0.1', 2000\n"
        "    def send_entity(self, entity): sent.append(entity.serialize())\n"
        "    def set_daemon_address(self, address): pass\n"
        "get_tracer()\n"
        "xray_recorder.configure(emitter=Emitter())\n"
        "register_secret('x-ray-secret-value-0123456789')\n"
        "def handler(event, context):\n"
        "    raise RuntimeError('GET https://relay.example/?a=1&token=x-ray-secret-value-0123456789 failed')\n"
        "try:\n"
        "    traced(handler)({}, None)\n"
        "except RuntimeError as error:\n"
        "    print('raised:', repr(error))\n"
        "print('sent:', sent)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "Poller",
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT / "layers" / "relay"),
           "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert '"message": "GET https://relay.example/?a=1&token=*** failed"' in result.stdout
    assert "x-ray-secret-value" not in result.stdout


def test_tracing_enabled_in_lambda(tracer_environment: pytest.MonkeyPatch) -> None:
    tracer_environment.setenv("LAMBDA_TASK_ROOT", "/var/task")
    assert observability.tracing_enabled() is True
    tracer_environment.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert observability.tracing_enabled() is True


def test_a_value_powertools_would_refuse_is_an_error(tracer_environment: pytest.MonkeyPatch) -> None:
    tracer_environment.setenv("LAMBDA_TASK_ROOT", "/var/task")
    tracer_environment.setenv("POWERTOOLS_TRACE_DISABLED", "maybe")
    with pytest.raises(ValueError, match="maybe"):
        observability.tracing_enabled()


@pytest.mark.parametrize("function", ["poller", "exporter", "webhook", "consumer"])
def test_a_cold_start_with_tracing_disabled_never_imports_the_xray_sdk(function: str) -> None:
    # A fresh interpreter as in Lambda: the handler module is imported, then the Tracer and the X-Ray SDK
    # must still be absent (a Tracer created at import, even a disabled one, imports the SDK).
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', {str(ROOT / 'functions' / function / 'app.py')!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert callable(module.handler)\n"
        "loaded = sorted(name for name in sys.modules if name.startswith('aws_xray_sdk'))\n"
        "print('xray:', loaded)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": function,
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
           "PYTHONPATH": str(ROOT / "layers" / "relay")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("xray: []")
    # the same cold start with tracing on does load it: the check above can see an eager Tracer
    env["POWERTOOLS_TRACE_DISABLED"] = "false"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "'aws_xray_sdk.core'" in result.stdout


def test_a_tracer_is_made_inside_lambda() -> None:
    # In a child process: a real Tracer patches boto3 and requests for the whole process.
    code = (
        "from flatfile_relay.observability import get_tracer, traced\n"
        "tracer = get_tracer()\n"
        "assert tracer is not None and type(tracer).__name__ == 'Tracer', tracer\n"
        "assert get_tracer() is tracer\n"
        "def handler(event, context): return 1\n"
        "assert traced(handler) is not handler\n"
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "Poller",
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT / "layers" / "relay")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_metrics_are_one_per_environment() -> None:
    assert observability.get_metrics() is observability.get_metrics()


def test_the_library_imports_no_powertools_internals() -> None:
    """`aws_lambda_powertools.shared` is Powertools' internal package (no stability promise): the library and the
    handlers use only Powertools' documented modules."""
    import ast

    internal = []
    for path in [*(ROOT / "layers" / "relay").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            internal += [f"{path.name}: {name}" for name in names if name.startswith("aws_lambda_powertools.shared")]
    assert internal == []


@pytest.mark.parametrize("word", ["1", "y", "yes", "t", "true", "on", "0", "n", "no", "f", "false", "off",
                                  "TRUE", " On ", "maybe", "", "2"])
def test_tracing_reads_its_variable_by_powertools_own_truth_rules(
    tracer_environment: pytest.MonkeyPatch, word: str
) -> None:
    """POWERTOOLS_TRACE_DISABLED is Powertools' variable, so the relay reads it as Powertools does; the relay's
    own reading is checked here against Powertools' internal `strtobool`, which the library does not import."""
    from aws_lambda_powertools.shared.functions import strtobool

    tracer_environment.setenv("LAMBDA_TASK_ROOT", "/var/task")
    tracer_environment.setenv("POWERTOOLS_TRACE_DISABLED", word)
    try:
        powertools_disabled = strtobool(word.strip())
    except ValueError:
        with pytest.raises(ValueError, match="POWERTOOLS_TRACE_DISABLED"):
            observability.tracing_enabled()
    else:
        assert observability.tracing_enabled() is not powertools_disabled
