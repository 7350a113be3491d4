"""Configuration, resolved from the environment in one place.

Every function reads the same variables (set by template.yaml, or by the local runner); defaults live
here and nowhere else.

Example:
    >>> settings = Settings.from_env({"EXPORT_BUCKET": "my-bucket"})
    >>> settings.flatfile_base_url
    'https://api.us.flatfile.io'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flatfile_relay.checks import whole_number
from flatfile_relay.errors import ConfigurationError
from flatfile_relay.platform.account import DEFAULT_BASE_URL as DEFAULT_PLATFORM_URL
from flatfile_relay.timestamps import parse_timestamp

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RECEIVE_COUNT",
    "DEFAULT_PLATFORM_OPERATIONS",
    "DEFAULT_PLATFORM_URL",
    "DEFAULT_RECHECK_BUDGET",
    "DEFAULT_ROW_PREFETCH",
    "Settings",
    "SettingsError",
]

DEFAULT_BASE_URL = "https://api.us.flatfile.io"
#: The submit operations whose jobs the relay exports (a workbook action's `operation`).
DEFAULT_PLATFORM_OPERATIONS = ("submitActionFg",)
_OPERATION = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_ENVIRONMENT_ID = re.compile(r"[a-z]{2}[a-z0-9]{0,6}_env_[A-Za-z0-9]{1,64}")
#: Row-page requests the exporter keeps in flight (chosen with `make bench`: see docs/performance.md).
DEFAULT_ROW_PREFETCH = 8
#: Pending batches the poller re-checks one by one per poll at most (see `flatfile_relay.poller`).
DEFAULT_RECHECK_BUDGET = 100
#: Deliveries of an export job before its dead-letter queue: template.yaml's `maxReceiveCount` of ExportJobsQueue.
DEFAULT_MAX_RECEIVE_COUNT = 5


class SettingsError(ConfigurationError, ValueError):
    """An environment variable holds a value the relay cannot use, or a setting a function needs is missing."""


@dataclass(frozen=True)
class Settings:
    """What the functions need to know about their deployment."""

    flatfile_base_url: str = DEFAULT_BASE_URL
    platform_base_url: str = DEFAULT_PLATFORM_URL
    platform_operations: tuple[str, ...] = DEFAULT_PLATFORM_OPERATIONS
    #: the Platform environment whose forwarded events the webhook accepts ("": every environment's)
    platform_environment_id: str = ""
    secret_id: str = ""
    webhook_secret_id: str = ""
    auth_mode: str = "token"
    token_ttl: int = 3600
    page_size: int = 1000
    row_prefetch: int = DEFAULT_ROW_PREFETCH
    batch_page_size: int = 100
    request_timeout: float = 30.0
    max_attempts: int = 6
    ledger_table: str = ""
    export_jobs_queue_url: str = ""
    notices_queue_url: str = ""
    export_jobs_dlq_url: str = ""
    export_jobs_max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    notices_dlq_url: str = ""
    consumer_queue_url: str = ""
    consumer_dlq_url: str = ""
    poller_dlq_url: str = ""
    #: the SNS topics the alarms notify (None: not told; empty: no one), for the operator mode check
    alert_topics: tuple[str, ...] | None = None
    export_bucket: str = ""
    export_prefix: str = "flatfile/"
    event_bus_name: str = "default"
    lookback_hours: float = 168.0
    recheck_budget: int = DEFAULT_RECHECK_BUDGET
    export_since: datetime | None = None
    part_max_rows: int = 50_000
    full_walk_hours: float = 24.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (default: the process environment)."""
        env = os.environ if environ is None else environ
        auth_mode = env.get("FLATFILE_AUTH", "token").strip() or "token"
        if auth_mode not in ("token", "api_key"):
            raise SettingsError(f"FLATFILE_AUTH must be 'token' or 'api_key', not {auth_mode!r}")
        prefix = env.get("EXPORT_PREFIX", "flatfile/").strip()
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(
            flatfile_base_url=(env.get("FLATFILE_BASE_URL", "").strip() or DEFAULT_BASE_URL).rstrip("/"),
            platform_base_url=(env.get("FLATFILE_PLATFORM_URL", "").strip() or DEFAULT_PLATFORM_URL).rstrip("/"),
            platform_operations=_operations(env.get("FLATFILE_PLATFORM_OPERATIONS", "")),
            platform_environment_id=_environment_id(env.get("FLATFILE_PLATFORM_ENVIRONMENT_ID", "")),
            secret_id=env.get("FLATFILE_SECRET_ID", "").strip(),
            webhook_secret_id=env.get("WEBHOOK_SECRET_ID", "").strip(),
            auth_mode=auth_mode,
            token_ttl=_int(env, "FLATFILE_TOKEN_TTL", 3600, low=60, high=86400),
            page_size=_int(env, "FLATFILE_PAGE_SIZE", 1000, low=1, high=100_000),
            row_prefetch=_int(env, "FLATFILE_ROW_PREFETCH", DEFAULT_ROW_PREFETCH, low=1, high=32),
            batch_page_size=_int(env, "FLATFILE_BATCH_PAGE_SIZE", 100, low=1, high=10_000),
            request_timeout=float(_int(env, "FLATFILE_TIMEOUT", 30, low=1, high=900)),
            max_attempts=_int(env, "FLATFILE_MAX_ATTEMPTS", 6, low=1, high=20),
            ledger_table=env.get("LEDGER_TABLE", "").strip(),
            export_jobs_queue_url=env.get("EXPORT_JOBS_QUEUE_URL", "").strip(),
            notices_queue_url=env.get("NOTICES_QUEUE_URL", "").strip(),
            export_jobs_dlq_url=env.get("EXPORT_JOBS_DLQ_URL", "").strip(),
            export_jobs_max_receive_count=_int(env, "EXPORT_JOBS_MAX_RECEIVE_COUNT", DEFAULT_MAX_RECEIVE_COUNT,
                                               low=1, high=1000),
            notices_dlq_url=env.get("NOTICES_DLQ_URL", "").strip(),
            consumer_queue_url=env.get("CONSUMER_QUEUE_URL", "").strip(),
            consumer_dlq_url=env.get("CONSUMER_DLQ_URL", "").strip(),
            poller_dlq_url=env.get("POLLER_DLQ_URL", "").strip(),
            alert_topics=(tuple(topic.strip() for topic in env["ALERT_TOPICS"].split(",") if topic.strip())
                          if "ALERT_TOPICS" in env else None),
            export_bucket=env.get("EXPORT_BUCKET", "").strip(),
            export_prefix=prefix,
            event_bus_name=env.get("EVENT_BUS_NAME", "").strip() or "default",
            lookback_hours=float(_int(env, "LOOKBACK_HOURS", 168, low=0, high=24 * 3660)),
            recheck_budget=_int(env, "RECHECK_BUDGET", DEFAULT_RECHECK_BUDGET, low=1, high=10_000),
            export_since=_since(env.get("EXPORT_SINCE", "")),
            part_max_rows=_int(env, "PART_MAX_ROWS", 50_000, low=1, high=10_000_000),
            full_walk_hours=float(_int(env, "FULL_WALK_HOURS", 24, low=0, high=24 * 366)),
        )

    def require(self, *names: str) -> None:
        """Fail with one clear message when any of the named settings is empty.

        Example:
            >>> Settings().require("export_bucket")
            Traceback (most recent call last):
            ...
            flatfile_relay.settings.SettingsError: missing configuration: EXPORT_BUCKET ...
        """
        missing = [_ENV_NAMES.get(name, name.upper()) for name in names if not getattr(self, name)]
        if missing:
            raise SettingsError(
                f"missing configuration: {', '.join(missing)} (set by template.yaml; locally by the runner)"
            )


_ENV_NAMES = {
    "flatfile_base_url": "FLATFILE_BASE_URL",
    "platform_base_url": "FLATFILE_PLATFORM_URL",
    "platform_operations": "FLATFILE_PLATFORM_OPERATIONS",
    "platform_environment_id": "FLATFILE_PLATFORM_ENVIRONMENT_ID",
    "auth_mode": "FLATFILE_AUTH",
    "secret_id": "FLATFILE_SECRET_ID",
    "webhook_secret_id": "WEBHOOK_SECRET_ID",
    "ledger_table": "LEDGER_TABLE",
    "export_jobs_queue_url": "EXPORT_JOBS_QUEUE_URL",
    "notices_queue_url": "NOTICES_QUEUE_URL",
    "export_bucket": "EXPORT_BUCKET",
    "export_prefix": "EXPORT_PREFIX",
    "event_bus_name": "EVENT_BUS_NAME",
    "export_since": "EXPORT_SINCE",
}


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    return whole_number(value, name, low=low, high=high, error=SettingsError)


def _operations(raw: str) -> tuple[str, ...]:
    """The submit operations in FLATFILE_PLATFORM_OPERATIONS (comma-separated; empty: the default).

    Example:
        >>> _operations(" submitActionFg, exportToAws ,submitActionFg")
        ('submitActionFg', 'exportToAws')
    """
    names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    for name in names:
        if not _OPERATION.fullmatch(name):
            raise SettingsError(
                f"FLATFILE_PLATFORM_OPERATIONS must list workbook action operations such as submitActionFg, "
                f"separated by commas; {name[:40]!r} is not one"
            )
    return names or DEFAULT_PLATFORM_OPERATIONS


def _environment_id(raw: str) -> str:
    """FLATFILE_PLATFORM_ENVIRONMENT_ID: empty, or a Platform environment id such as ``us_env_a1b2c3d4``.

    Example:
        >>> _environment_id(" us_env_a1b2c3d4 "), _environment_id("")
        ('us_env_a1b2c3d4', '')
    """
    value = raw.strip()
    if value and not _ENVIRONMENT_ID.fullmatch(value):
        raise SettingsError(
            f"FLATFILE_PLATFORM_ENVIRONMENT_ID must be empty or a Flatfile Platform environment id such as "
            f"us_env_a1b2c3d4, not {value[:40]!r}"
        )
    return value


def _since(raw: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise SettingsError(
            f"EXPORT_SINCE must be an ISO-8601 date or date-time such as 2024-01-31, not {raw!r}"
        ) from None
