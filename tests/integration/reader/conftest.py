"""Fixtures of the exporter / reader / consumer integration tests: tests/support/export_harness.py."""

from support.export_harness import captured_logs, function_env, relay

__all__ = ["captured_logs", "function_env", "relay"]
