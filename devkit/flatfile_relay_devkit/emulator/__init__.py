"""A Flatfile (Portal v2 / Concierge) API emulator on 127.0.0.1, standard library only.

It serves the access-key exchange, the REST batch and row endpoints, the two GraphQL operations and
``/health`` over real HTTP, with seeded sample imports, run-time knobs (page sizes, order, latency, token
lifetime), fault injection and a request log; :func:`send_webhook` replays an import as Portal v2 webhook
POSTs. The same process serves the Flatfile Platform API under ``/v1`` (:mod:`.platform`: ``emu.platform``,
``emu.platform_url``, ``emu.platform_secret``). ``python -m flatfile_relay_devkit.emulator --port 8765`` runs it
from the command line.

Example:
    >>> import requests
    >>> with Emulator(EmulatorConfig(seed=7)) as emu:
    ...     secret = emu.secret
    ...     api_key = f"{secret['accessKeyId']}+{secret['secretAccessKey']}"
    ...     response = requests.get(f"{emu.url}/rest/batches", params={"licenseKey": secret["licenseKey"]},
    ...                             headers={"X-Api-Key": api_key}, timeout=5)
    ...     response.json()["pagination"]["totalCount"]
    13
"""

from .config import ORDERS, EmulatorConfig
from .emulator import Emulator
from .faults import FAULT_KINDS, FaultRule
from .platform import PLATFORM_LABELS, PlatformState
from .samples import FIELD_KEYS, LONG_CELL, NASTY_VALUES, SAMPLE_LABELS
from .server import RequestRecord
from .store import State
from .webhook import build_payloads, send_webhook

__all__ = [
    "FAULT_KINDS",
    "FIELD_KEYS",
    "LONG_CELL",
    "NASTY_VALUES",
    "ORDERS",
    "PLATFORM_LABELS",
    "SAMPLE_LABELS",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "PlatformState",
    "RequestRecord",
    "State",
    "build_payloads",
    "send_webhook",
]
