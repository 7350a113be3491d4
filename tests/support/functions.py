"""The functions' handler modules, imported by path with the local runner's loader.

Every function's module is `functions/<name>/app.py`, so each is imported under a name of its own. The
context handed to a handler is the local runner's `LocalContext` too.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flatfile_relay_devkit.local.lambda_runtime import LocalContext, load_module

ROOT = Path(__file__).resolve().parents[2]
#: seconds a test invocation has, by function (the remaining time then decreases with real time)
TIMEOUTS = {"PollerFunction": 300, "WebhookFunction": 30, "ExporterFunction": 600, "ConsumerFunction": 600}


def function_app(name: str, *, fresh: bool = False) -> ModuleType:
    """functions/<name>/app.py: imported once and reused (a warm container), or afresh (a cold start)."""
    path = ROOT / "functions" / name / "app.py"
    if fresh:
        return load_module(f"_test_{name}_app_{uuid.uuid4().hex}", path)
    module_name = f"flatfile_relay_{name}_app"
    return sys.modules.get(module_name) or load_module(module_name, path)


def lambda_context(function: str, timeout: float | None = None) -> LocalContext:
    """The context Lambda hands `function` (its logical id); a small `timeout` makes a short invocation."""
    return LocalContext(function_name=function, timeout=TIMEOUTS[function] if timeout is None else timeout)


def function_with_environment(
    monkeypatch: pytest.MonkeyPatch, deployment: Any, name: str, function: str, **overrides: str
) -> Iterator[ModuleType]:
    """For a fixture (`yield from`): functions/<name>/app.py, cold, with `function`'s environment from the
    local deployment (plus `overrides`); the library logger's state is put back afterwards."""
    env = {**deployment.environment(function), **overrides}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    library = logging.getLogger("flatfile_relay")  # get_logger() rewires it: put it back afterwards
    saved = (list(library.handlers), library.level, library.propagate)
    module = function_app(name)
    module.reset()
    yield module
    module.reset()
    library.handlers[:] = saved[0]
    library.setLevel(saved[1])
    library.propagate = saved[2]
