"""The Flatfile Platform (API v1) side of the emulator: served by the same process, under ``/v1``.

Environments, spaces (``metadata.userInfo``), workbooks with sheets and actions, records (values, valid,
messages), sheet counts, commits and locks, jobs (a submit action's press makes a job ``workbook:<operation>``
ready for a listener: ack, complete, fail) and events. Same knobs, latency, faults and request log as the legacy
side; the official ``flatfile`` SDK parses every answer the relay asks for (tests/integration/platform).

Example:
    >>> import requests
    >>> from flatfile_relay_devkit.emulator import Emulator
    >>> with Emulator() as emu:
    ...     job = emu.platform.submit(emu.platform.sample_id("products"))
    ...     headers = {"Authorization": f"Bearer {emu.platform_secret['platformSecretKey']}"}
    ...     answer = requests.get(f"{emu.platform_url}/jobs/{job['id']}", headers=headers, timeout=5)
    ...     answer.json()["data"]["status"]
    'ready'
"""

from .api import PLATFORM_PREFIX, ROUTES, PlatformApi, platform_error, route_template
from .records import Fixed, Products, SheetRecords, cell, error_message
from .samples import PLATFORM_LABELS, PRODUCT_FIELDS, PlatformAccount, build_platform_account, generated_sheet
from .store import JOB_STATUSES, PlatformConflict, PlatformState, SheetLocked

__all__ = [
    "JOB_STATUSES",
    "PLATFORM_LABELS",
    "PLATFORM_PREFIX",
    "PRODUCT_FIELDS",
    "ROUTES",
    "Fixed",
    "PlatformAccount",
    "PlatformApi",
    "PlatformConflict",
    "PlatformState",
    "Products",
    "SheetLocked",
    "SheetRecords",
    "build_platform_account",
    "cell",
    "error_message",
    "generated_sheet",
    "platform_error",
    "route_template",
]
