"""Settings.from_env: defaults, normalisation, validation with messages that name the variable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flatfile_relay.settings import DEFAULT_BASE_URL, Settings, SettingsError


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.flatfile_base_url == DEFAULT_BASE_URL == "https://api.us.flatfile.io"
    assert Settings.from_env({"FLATFILE_BASE_URL": ""}).flatfile_base_url == DEFAULT_BASE_URL
    assert settings.auth_mode == "token"
    assert settings.token_ttl == 3600
    assert settings.page_size == 1000
    assert settings.request_timeout == 30.0
    assert settings.export_prefix == "flatfile/"
    assert settings.lookback_hours == 168.0
    assert settings.recheck_budget == 100
    assert settings.export_since is None
    assert settings.part_max_rows == 50_000
    assert settings.secret_id == settings.ledger_table == settings.export_bucket == ""
    assert settings.platform_base_url == "https://api.x.flatfile.com/v1"
    assert settings.platform_operations == ("submitActionFg",)
    assert settings.platform_environment_id == ""  # every environment's forwarded events


def test_every_variable_is_read() -> None:
    env = {
        "FLATFILE_BASE_URL": " http://127.0.0.1:8080/ ",
        "FLATFILE_SECRET_ID": "arn:aws:secretsmanager:us-east-1:1:secret:x",
        "FLATFILE_AUTH": "api_key",
        "FLATFILE_TOKEN_TTL": "600",
        "FLATFILE_PAGE_SIZE": "250",
        "FLATFILE_BATCH_PAGE_SIZE": "20",
        "FLATFILE_ROW_PREFETCH": "8",
        "FLATFILE_TIMEOUT": "12",
        "FLATFILE_MAX_ATTEMPTS": "3",
        "LEDGER_TABLE": "ledger",
        "EXPORT_JOBS_QUEUE_URL": "http://q/jobs",
        "NOTICES_QUEUE_URL": "http://q/notices",
        "EXPORT_BUCKET": "bucket",
        "EXPORT_PREFIX": "exports/flatfile",
        "LOOKBACK_HOURS": "48",
        "RECHECK_BUDGET": "25",
        "EXPORT_SINCE": "2024-01-31",
        "PART_MAX_ROWS": "10",
        "FULL_WALK_HOURS": "6",
        "FLATFILE_PLATFORM_URL": " http://127.0.0.1:8080/v1/ ",
        "FLATFILE_PLATFORM_OPERATIONS": "submitActionFg, exportToAws",
        "FLATFILE_PLATFORM_ENVIRONMENT_ID": " us_env_a1b2c3d4 ",
    }
    settings = Settings.from_env(env)
    assert settings.flatfile_base_url == "http://127.0.0.1:8080"
    assert settings.secret_id == env["FLATFILE_SECRET_ID"]
    assert settings.auth_mode == "api_key"
    assert (settings.token_ttl, settings.page_size, settings.batch_page_size) == (600, 250, 20)
    assert settings.row_prefetch == 8
    assert settings.request_timeout == 12.0
    assert settings.max_attempts == 3
    assert (settings.ledger_table, settings.export_bucket) == ("ledger", "bucket")
    assert settings.export_jobs_queue_url == "http://q/jobs"
    assert settings.notices_queue_url == "http://q/notices"
    assert settings.export_prefix == "exports/flatfile/"
    assert settings.lookback_hours == 48.0
    assert settings.recheck_budget == 25
    assert settings.export_since == datetime(2024, 1, 31, tzinfo=UTC)
    assert settings.part_max_rows == 10
    assert settings.full_walk_hours == 6.0
    assert settings.platform_base_url == "http://127.0.0.1:8080/v1"
    assert settings.platform_operations == ("submitActionFg", "exportToAws")
    assert settings.platform_environment_id == "us_env_a1b2c3d4"


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORT_BUCKET", "from-os-environ")
    monkeypatch.setenv("PART_MAX_ROWS", "7")
    settings = Settings.from_env()
    assert settings.export_bucket == "from-os-environ"
    assert settings.part_max_rows == 7


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("flatfile/", "flatfile/"), ("a/b", "a/b/"), ("  x  ", "x/")],
)
def test_export_prefix_is_empty_or_ends_with_a_slash(raw: str, expected: str) -> None:
    assert Settings.from_env({"EXPORT_PREFIX": raw}).export_prefix == expected


def test_blank_values_fall_back_to_defaults() -> None:
    settings = Settings.from_env(
        {"FLATFILE_BASE_URL": "  ", "FLATFILE_AUTH": " ", "FLATFILE_PAGE_SIZE": "", "EXPORT_SINCE": " "}
    )
    assert settings.flatfile_base_url == DEFAULT_BASE_URL
    assert settings.auth_mode == "token"
    assert settings.page_size == 1000
    assert settings.export_since is None


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"FLATFILE_AUTH": "bearer"}, ["FLATFILE_AUTH", "'bearer'"]),
        ({"FLATFILE_PAGE_SIZE": "lots"}, ["FLATFILE_PAGE_SIZE", "whole number", "'lots'"]),
        ({"FLATFILE_PAGE_SIZE": "0"}, ["FLATFILE_PAGE_SIZE", "between 1 and 100000"]),
        ({"FLATFILE_ROW_PREFETCH": "33"}, ["FLATFILE_ROW_PREFETCH", "between 1 and 32"]),
        ({"FLATFILE_TOKEN_TTL": "59"}, ["FLATFILE_TOKEN_TTL", "between 60 and 86400"]),
        ({"FLATFILE_TOKEN_TTL": "86401"}, ["FLATFILE_TOKEN_TTL"]),
        ({"FLATFILE_TIMEOUT": "1.5"}, ["FLATFILE_TIMEOUT", "whole number"]),
        ({"LOOKBACK_HOURS": "-1"}, ["LOOKBACK_HOURS"]),
        ({"RECHECK_BUDGET": "0"}, ["RECHECK_BUDGET", "between 1 and 10000"]),
        ({"PART_MAX_ROWS": "0"}, ["PART_MAX_ROWS"]),
        ({"EXPORT_SINCE": "yesterday"}, ["EXPORT_SINCE", "ISO-8601", "'yesterday'"]),
        ({"EXPORT_SINCE": "2024-13-01"}, ["EXPORT_SINCE"]),
        ({"FLATFILE_PLATFORM_OPERATIONS": "submit action"}, ["FLATFILE_PLATFORM_OPERATIONS", "'submit action'"]),
        ({"FLATFILE_PLATFORM_ENVIRONMENT_ID": "us_sp_a1b2"}, ["FLATFILE_PLATFORM_ENVIRONMENT_ID", "'us_sp_a1b2'"]),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_the_variable(env: dict[str, str], names: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    for name in names:
        assert name in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_bounds_are_inclusive() -> None:
    settings = Settings.from_env({"FLATFILE_TOKEN_TTL": "60", "LOOKBACK_HOURS": "0", "FLATFILE_PAGE_SIZE": "100000"})
    assert (settings.token_ttl, settings.lookback_hours, settings.page_size) == (60, 0.0, 100_000)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-31", datetime(2024, 1, 31, tzinfo=UTC)),
        ("2024-01-31T10:20", datetime(2024, 1, 31, 10, 20, tzinfo=UTC)),
        ("2024-01-31 10:20:30", datetime(2024, 1, 31, 10, 20, 30, tzinfo=UTC)),
        ("2024-01-31T10:20:30.5Z", datetime(2024, 1, 31, 10, 20, 30, 500_000, tzinfo=UTC)),
        ("2024-01-31T10:20:30+02:00", datetime(2024, 1, 31, 8, 20, 30, tzinfo=UTC)),
    ],
)
def test_export_since_accepts_what_the_template_pattern_allows(raw: str, expected: datetime) -> None:
    since = Settings.from_env({"EXPORT_SINCE": raw}).export_since
    assert since == expected
    assert since is not None
    assert since.tzinfo is not None


def test_require_names_every_missing_variable() -> None:
    settings = Settings.from_env({"EXPORT_BUCKET": "bucket"})
    settings.require("export_bucket")  # present: no error
    with pytest.raises(SettingsError) as caught:
        settings.require("secret_id", "export_bucket", "ledger_table", "notices_queue_url", "export_jobs_queue_url")
    message = str(caught.value)
    for name in ("FLATFILE_SECRET_ID", "LEDGER_TABLE", "NOTICES_QUEUE_URL", "EXPORT_JOBS_QUEUE_URL"):
        assert name in message
    assert "EXPORT_BUCKET" not in message


def test_require_names_the_variable_of_any_empty_setting() -> None:
    settings = Settings.from_env({"EXPORT_PREFIX": ""})
    with pytest.raises(SettingsError, match="EXPORT_PREFIX"):
        settings.require("export_prefix")
    with pytest.raises(SettingsError, match="EXPORT_SINCE"):
        settings.require("export_since")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.export_bucket = "other"  # type: ignore[misc]
