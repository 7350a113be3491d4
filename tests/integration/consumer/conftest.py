"""Fixtures of the exporter / reader / consumer integration tests (see export_harness.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_harness() -> ModuleType:
    """export_harness.py of tests/integration/exporter, imported once under a fixed name."""
    name = "flatfile_relay_export_harness"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "exporter" / "export_harness.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


harness = load_harness()
relay = harness.relay
function_env = harness.function_env
captured_logs = harness.captured_logs
