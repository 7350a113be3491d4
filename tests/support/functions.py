"""The functions' handler modules, imported by path with the local runner's loader.

Every function's module is `functions/<name>/app.py`, so each is imported under a name of its own. The
context handed to a handler is the local runner's `LocalContext` too.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from types import ModuleType

from flatfile_relay.local.lambda_runtime import LocalContext, load_module

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
