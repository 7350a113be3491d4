"""Shared fixtures: one moto server per session (reset per test), the Flatfile emulator, a local deployment,
and the relay harness built on them (tests/support/fixtures.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fixtures import (
    captured_logs,
    export_relay,
    function_env,
    platform_relay,
    poller_app,
    relay,
    relay_factory,
    template,
)

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["captured_logs", "export_relay", "function_env", "platform_relay", "poller_app", "relay", "relay_factory",
           "template"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[object]:
    """moto in server mode on 127.0.0.1; AWS_ENDPOINT_URL points every boto3 client at it."""
    from flatfile_relay_devkit.local.moto import MotoServer

    server = MotoServer().start()
    saved = {key: os.environ.get(key) for key in server.environment()}
    os.environ.update(server.environment())
    yield server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def aws(moto_server: object) -> object:
    """Fresh AWS state for one test, and clients bound to it."""
    from flatfile_relay.aws import AwsClients

    moto_server.reset()  # type: ignore[attr-defined]
    return AwsClients()


@pytest.fixture(scope="module")
def module_deployment(moto_server: object) -> object:
    """template.yaml's resources in a freshly reset moto, created once per test module (~0.4 s saved a test).

    Pair it with a `deployment` fixture that returns `module_deployment.empty()`.
    """
    from flatfile_relay.aws import AwsClients
    from flatfile_relay_devkit.local.deployment import LocalDeployment
    from flatfile_relay_devkit.local.template import Template

    moto_server.reset()  # type: ignore[attr-defined]
    return LocalDeployment.create(Template.load(ROOT / "template.yaml"), AwsClients())


@pytest.fixture
def deployment(aws: object) -> object:
    """template.yaml's buckets, queues, table and secret, created in moto."""
    from flatfile_relay_devkit.local.deployment import LocalDeployment
    from flatfile_relay_devkit.local.template import Template

    return LocalDeployment.create(Template.load(ROOT / "template.yaml"), aws)  # type: ignore[arg-type]


@pytest.fixture
def emulator() -> Iterator[object]:
    """The bundled Flatfile emulator (seed 7, sample imports) on 127.0.0.1 and a free port, for one test."""
    from flatfile_relay_devkit.emulator import Emulator

    with Emulator(host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def emulator_factory() -> Iterator[object]:
    """Start emulators with other knobs, e.g. ``emulator_factory(order="random")``; all stopped after."""
    from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig

    started: list[Emulator] = []

    def start(**config: object) -> Emulator:
        emu = Emulator(EmulatorConfig(**config), host="127.0.0.1", port=0).start()  # type: ignore[arg-type]
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """conftest.py files hold fixtures, not doctests: --doctest-modules leaves them to pytest's own loading
    (collected as modules, two folders' conftest.py would clash on the name `conftest`)."""
    return True if collection_path.name == "conftest.py" else None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Lines a test records as `record_property("soak", ...)` (the soak's seed), at the end of every run."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.getreports(outcome):
            for name, value in report.user_properties:
                if name == "soak" and report.when == "call":
                    terminalreporter.write_line(f"soak ({outcome}): {value}")
