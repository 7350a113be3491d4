"""Contract fixtures: the deployment in moto, the emulator, and the handlers with template.yaml's environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from contract_stack import Stack, restore_library_logger


@pytest.fixture
def deployment(module_deployment: Any) -> Any:
    """The module's deployment, emptied for this test: no objects, no ledger items, no messages."""
    return module_deployment.empty()


@pytest.fixture
def stack_factory(
    deployment: Any, emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """`stack_factory(env={...}, **emulator_knobs)`: a Stack whose functions see that environment."""
    restore = restore_library_logger()
    made: list[Stack] = []

    def make(env: dict[str, str] | None = None, **knobs: Any) -> Stack:
        emulator = emulator_factory(**knobs)
        variables = deployment.environment("PollerFunction")  # Globals: the same for every function
        variables["FLATFILE_BASE_URL"] = emulator.url
        variables.update(env or {})
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        stack = Stack(deployment=deployment, emulator=emulator, env=variables)
        stack.put_secret(emulator.secret)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        for module in stack.modules.values():
            module.reset()
    restore()


@pytest.fixture
def stack(stack_factory: Any) -> Stack:
    """The default stack: template defaults, the emulator with its sample imports."""
    made: Stack = stack_factory()
    return made
