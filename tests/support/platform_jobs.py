"""The Flatfile Platform side of the poller's tests: jobs in the emulator, a client of it, what the poller asked.

The emulator's Platform samples hold three jobs in the key's environment, none ready: `job_history` (a submit of
`customers_orders`, complete), `job_other_operation` (`downloadCsv`, complete) and `job_failed` (a submit of
`products`, failed); `foreign_job` (ready) lives in another environment. The helpers here add more: submits
(ready or still `created`), jobs of other operations and of other kinds (a file's extraction), jobs another
listener acknowledged, each at a chosen `createdAt`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flatfile_relay.platform import PlatformAccount, PlatformClient
from flatfile_relay_devkit.emulator import Emulator

#: a Platform secret key of the right shape that no environment has
WRONG_KEY = "sk_" + "w" * 32
#: the `info` another listener writes when it acknowledges a job (the relay's exporter writes its own)
OTHER_LISTENER = "Imported by our ERP connector"


def platform_client(emu: Emulator, **options: Any) -> PlatformClient:
    """A client of the emulator's Platform API with the sample environment's key, fast retries."""
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    options.setdefault("timeout", 5.0)
    secret = emu.platform_secret
    return PlatformClient(emu.platform_url, PlatformAccount(secret["platformSecretKey"],
                                                            secret["platformEnvironmentId"]), **options)


def both_secret(emu: Emulator) -> dict[str, str]:
    """The Flatfile secret with both sources' keys (and the webhook token)."""
    return {**emu.secret, **emu.platform_secret}


def platform_only_secret(emu: Emulator) -> dict[str, str]:
    return dict(emu.platform_secret)


def ago(**delta: float) -> str:
    """An ISO timestamp that long before now."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def submit(emu: Emulator, workbook: str = "products", *, ready: bool = True, at: str | None = None) -> str:
    """An end user presses the sample workbook's submit button (at `at`); the job's id."""
    job: dict[str, Any] = emu.platform.submit(emu.platform.sample_id(workbook), ready=ready, created_at=at)
    return str(job["id"])


def submits(emu: Emulator, count: int, *, ready: bool = True, start_minutes_ago: float = 0.0,
            step_minutes: float = 1.0) -> list[str]:
    """`count` submits a few minutes apart, the first the oldest, ending `start_minutes_ago` before now."""
    return [submit(emu, ("products", "customers_orders")[n % 2], ready=ready,
                   at=ago(minutes=start_minutes_ago + (count - 1 - n) * step_minutes)) for n in range(count)]


def unrelated(emu: Emulator, count: int, *, at: str | None = None, ready: bool = True) -> list[str]:
    """Jobs the relay must leave alone, alternately a file's extraction (type `file`) and a workbook's other
    action (`downloadCsv`), all ready for their own listeners."""
    ids = []
    workbook = emu.platform.sample_id("customers_orders")
    for n in range(count):
        status = "ready" if ready else "complete"
        job = (emu.platform.add_job(f"us_fl_{n:08d}", "extract", type="file", status=status, created_at=at)
               if n % 2 == 0 else emu.platform.add_job(workbook, "downloadCsv", status=status, created_at=at))
        ids.append(str(job["id"]))
    return ids


def taken(emu: Emulator, *, at: str | None = None) -> str:
    """A submit another listener acknowledged (it is `executing`, with that listener's info)."""
    job_id = submit(emu, at=at)
    emu.platform.acknowledge(job_id, info=OTHER_LISTENER)
    return job_id


def history(emu: Emulator, count: int, *, days_ago: float = 10.0) -> list[str]:
    """Old submits another listener completed long ago (`complete`), a minute apart."""
    ids = []
    for n in range(count):
        job_id = submit(emu, at=ago(days=days_ago, minutes=-n))
        emu.platform.acknowledge(job_id, info=OTHER_LISTENER)
        emu.platform.complete(job_id, {"message": "Sent"})
        ids.append(job_id)
    return ids


def jobs_requests(emu: Emulator) -> list[Any]:
    """The requests the emulator received for the Platform's job list and jobs."""
    return emu.requests_to("/v1/jobs")


def platform_requests(emu: Emulator) -> list[Any]:
    """Every request to the Platform API (under /v1)."""
    return emu.requests_to("/v1/")


def legacy_requests(emu: Emulator) -> list[Any]:
    """Every request to the legacy API (the token exchange, REST, GraphQL)."""
    return [record for record in emu.request_log if not record.path.startswith("/v1/")]
