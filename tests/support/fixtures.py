"""Fixtures for every integration folder, built on tests/support/relay.py (tests/conftest.py imports them),
and `template`: template.yaml as read by the local runner (short-form tags in their long form).

A folder's conftest.py may override `relay` with its own settings: `relay_factory(batch_page_size=5)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from flatfile_relay_devkit.local.template import load_yaml
from support.functions import ROOT, function_with_environment
from support.platform_contract import uncovered
from support.relay import FUNCTIONS, Relay


@pytest.fixture
def relay_factory(
    request: pytest.FixtureRequest, deployment: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Callable[..., Relay]]:
    """`relay_factory(function=..., env={...}, emulator={...knobs}, **settings)`: a Relay on this test's
    deployment; its handlers see template.yaml's environment (plus `env`) pointed at the emulator (the
    `emulator` fixture, or a new one with these knobs); the library sees `function`'s settings (plus `settings`).
    """
    library = logging.getLogger("flatfile_relay")  # get_logger() rewires it: put it back afterwards
    saved = (list(library.handlers), library.level, library.propagate)
    made: list[Relay] = []

    def make(function: str = "PollerFunction", env: dict[str, str] | None = None,
             emulator: dict[str, Any] | None = None, **settings: Any) -> Relay:
        emu = request.getfixturevalue("emulator_factory")(**emulator) if emulator is not None else \
            request.getfixturevalue("emulator")
        relay = Relay.create(deployment, emu, function, **settings)
        # every function's own variables (the webhook's WEBHOOK_SECRET_ID, ...), `function`'s winning
        own = {key: value for name in FUNCTIONS for key, value in deployment.environment(name).items()}
        relay.env = {**own, **deployment.environment(function), "FLATFILE_BASE_URL": emu.url,
                     "FLATFILE_PLATFORM_URL": emu.platform_url, **(env or {})}
        for key, value in relay.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.close()
    library.handlers[:] = saved[0]
    library.setLevel(saved[1])
    library.propagate = saved[2]


@pytest.fixture
def relay(relay_factory: Callable[..., Relay]) -> Relay:
    """The relay with template.yaml's settings and the emulator's sample imports."""
    return relay_factory()


@pytest.fixture
def captured_logs(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    """capsys: the functions' Powertools Logger writes to the current sys.stdout, so capsys sees it."""
    return capsys


@pytest.fixture
def poller_app(monkeypatch: pytest.MonkeyPatch, deployment: Any, emulator: Any) -> Iterator[ModuleType]:
    """functions/poller/app.py, cold, with PollerFunction's environment (pointed at moto and the emulator)."""
    yield from function_with_environment(
        monkeypatch, deployment, "poller", "PollerFunction", FLATFILE_BASE_URL=emulator.url,
        FLATFILE_PLATFORM_URL=emulator.platform_url,
    )


@pytest.fixture
def export_relay(relay_factory: Callable[..., Relay]) -> Relay:
    """The exporter's settings with small parts (1000 rows, pages of 200) for the library; smaller ones (100
    rows, pages of 50) in the handler's environment."""
    return relay_factory("ExporterFunction", env={"PART_MAX_ROWS": "100", "FLATFILE_PAGE_SIZE": "50"},
                         part_max_rows=1000, page_size=200)


@pytest.fixture
def platform_relay(relay_factory: Callable[..., Relay], monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Callable[..., Relay]]:
    """`platform_relay(emulator={...knobs}, env={...}, **settings)`: the exporter's relay with both sources' keys in
    its secret, its handlers pointed at the emulator's Platform too (FLATFILE_PLATFORM_URL).

    At teardown the emulator must not have crashed, and every Platform call the relay made must have a case in the
    SDK contract test (tests/support/platform_contract.py).
    """
    made: list[Relay] = []

    def make(emulator: dict[str, Any] | None = None, env: dict[str, str] | None = None, **settings: Any) -> Relay:
        relay = relay_factory("ExporterFunction", emulator=emulator, **settings)
        relay.with_platform_keys()
        for key, value in {"FLATFILE_PLATFORM_URL": relay.emu.platform_url, **(env or {})}.items():
            relay.env[key] = value
            monkeypatch.setenv(key, value)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        assert not relay.emu.errors, relay.emu.errors
        missing = uncovered(relay.emu.request_log)
        assert not missing, f"Platform calls without a case in the SDK contract test: {sorted(missing)}"


@pytest.fixture
def function_env(relay: Relay) -> dict[str, str]:
    """The environment the relay's handlers see (template.yaml's, pointed at the emulator)."""
    return relay.env


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml with `!Ref X` read as {"Ref": "X"} (tests of the template itself; do not modify it)."""
    loaded = load_yaml(ROOT / "template.yaml")
    assert isinstance(loaded, dict)
    return loaded
