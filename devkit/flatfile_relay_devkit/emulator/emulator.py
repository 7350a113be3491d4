"""The :class:`Emulator` facade: one emulated Flatfile API on a local port, with its knobs and controls.

Example:
    >>> with Emulator(EmulatorConfig(seed=7)) as emu:
    ...     emu.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from ..ports import ensure_free
from .api import Api
from .auth import TokenAuthority
from .config import RUNTIME_KNOBS, EmulatorConfig
from .faults import FaultPlan, FaultRule
from .platform.api import PLATFORM_PREFIX, PlatformApi
from .platform.samples import build_platform_account
from .platform.store import PlatformState
from .samples import build_account
from .server import EmulatorHTTPServer, RequestRecord
from .store import State

__all__ = ["Emulator"]


class Emulator:
    """The emulated API, served on ``host:port`` (port 0: any free port) from :meth:`start` to :meth:`stop`.

    Attributes:
        state: the :class:`.store.State` (batches, rows, helpers such as ``add_batch``/``set_status``).
        platform: the Platform's :class:`.platform.store.PlatformState` (workbooks, sheets, records, jobs, events;
            helpers such as ``submit``/``edit_records``/``add_workbook``), served under ``/v1``.
        tokens: the :class:`.auth.TokenAuthority` that issues and checks access tokens.
        faults: the :class:`.faults.FaultPlan` (prefer :meth:`inject`/:meth:`clear_faults`).
        errors: tracebacks of requests that crashed the emulator (answered 500); empty in a healthy run.
    """

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config = config if config is not None else EmulatorConfig()
        self._config_lock = threading.Lock()
        self.host = host
        self._requested_port = port
        self.state = State(build_account(self._config.seed))
        if self._config.samples:
            self.state.load_samples(self._config.anchor)
        self.platform = PlatformState(build_platform_account(self._config.seed))
        if self._config.samples:
            self.platform.load_samples(self._config.anchor)
        self.tokens = TokenAuthority(self.state.account)
        self.faults = FaultPlan()
        self.api = Api(self.state, self.tokens, lambda: self.config, PlatformApi(self.platform, lambda: self.config))
        self.errors: list[str] = []
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        address = (self.host, self._requested_port)
        ensure_free(self.host, self._requested_port, "the Flatfile emulator")  # PortInUseError names the holder
        server = EmulatorHTTPServer(
            address, self.api, self.faults, lambda: self.config, self._record, self.errors
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="flatfile-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every client connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by the command line)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the emulator is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (requires :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, the value for ``FLATFILE_BASE_URL``."""
        return f"http://{self.host}:{self.port}"

    # -- data and credentials --------------------------------------------------------------------------

    @property
    def secret(self) -> dict[str, str]:
        """The credentials secret: ``accessKeyId``, ``secretAccessKey``, ``licenseKey``, ``webhookToken``."""
        return self.state.account.secret()

    @property
    def platform_url(self) -> str:
        """``http://HOST:PORT/v1``, the value for ``FLATFILE_PLATFORM_URL``."""
        return self.url + PLATFORM_PREFIX

    @property
    def platform_secret(self) -> dict[str, str]:
        """The Platform keys of the secret: ``platformSecretKey`` (``sk_…``) and ``platformEnvironmentId``."""
        return self.platform.account.secret()

    @property
    def samples(self) -> dict[str, str]:
        """Sample label -> batch id (e.g. ``emu.samples["big"]``)."""
        return self.state.samples

    def issue_token(self, expires_in: float = 3600) -> str:
        """A valid access token without going through HTTP (the lifetime cap does not apply)."""
        return self.tokens.issue(expires_in)

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (they now get 401); later exchanges work."""
        self.tokens.revoke_all()

    # -- knobs and faults ------------------------------------------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        """The current configuration."""
        with self._config_lock:
            return self._config

    def set(self, **knobs: Any) -> EmulatorConfig:
        """Change knobs while running: ``default_take``, ``max_take``, ``order``, ``latency``,
        ``jitter``, ``token_lifetime_cap``, ``platform_max_page_size``. Returns the new configuration."""
        unknown = set(knobs) - RUNTIME_KNOBS
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)} at run time; knobs: {sorted(RUNTIME_KNOBS)}")
        with self._config_lock:
            self._config = self._config.replace(**knobs)
            return self._config

    def inject(self, *rules: FaultRule) -> None:
        """Add fault rules (see :class:`.faults.FaultRule`)."""
        self.faults.add(*rules)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    # -- request log -----------------------------------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)

    @property
    def request_log(self) -> list[RequestRecord]:
        """A snapshot of the requests received so far, oldest first."""
        with self._log_lock:
            return list(self._log)

    def requests_to(self, path_prefix: str = "/", method: str | None = None) -> list[RequestRecord]:
        """The logged requests whose path starts with ``path_prefix`` (and with that method)."""
        return [
            record
            for record in self.request_log
            if record.path.startswith(path_prefix) and (method is None or record.method == method.upper())
        ]

    def clear_request_log(self) -> None:
        """Forget the logged requests."""
        with self._log_lock:
            self._log.clear()
