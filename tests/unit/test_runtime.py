"""runtime.py: each part built on first use, reused while warm, never kept when building it failed."""

from __future__ import annotations

import pytest

from flatfile_relay.connection import FlatfileConnection, FlatfileRuntime
from flatfile_relay.runtime import Runtime
from flatfile_relay.settings import SettingsError


def test_nothing_is_built_until_used_then_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TABLE", "ledger-a")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime = Runtime("ledger_table")
    assert vars(runtime).keys() == {"_required"}

    ledger = runtime.ledger
    assert ledger.table_name == "ledger-a"
    monkeypatch.setenv("LEDGER_TABLE", "ledger-b")
    assert runtime.ledger is ledger  # warm: the environment is read once
    assert runtime.clients is runtime.clients


def test_a_missing_setting_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPORT_BUCKET", raising=False)
    runtime = Runtime("export_bucket")
    with pytest.raises(SettingsError, match="EXPORT_BUCKET"):
        _ = runtime.settings
    monkeypatch.setenv("EXPORT_BUCKET", "fixed")
    assert runtime.settings.export_bucket == "fixed"  # the fix applies at the next invocation


def test_reset_forgets_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TABLE", "ledger-a")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime = Runtime()
    first = runtime.ledger
    runtime.reset()
    monkeypatch.setenv("LEDGER_TABLE", "ledger-b")
    assert runtime.ledger is not first
    assert runtime.ledger.table_name == "ledger-b"


def test_the_flatfile_runtime_adds_a_connection_built_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLATFILE_SECRET_ID", "secret-a")
    runtime = FlatfileRuntime("secret_id")
    assert runtime.take_request_counts().requests == 0  # nothing built, nothing counted
    assert vars(runtime).keys() == {"_required"}

    connection = runtime.connection
    assert isinstance(connection, FlatfileConnection)
    assert runtime.connection is connection
    connection.counts.add(requests=2)
    assert runtime.take_request_counts().requests == 2
    runtime.reset()
    assert runtime.connection is not connection
