"""A moto server on 127.0.0.1, reached through the standard AWS_ENDPOINT_URL.

Example:
    >>> with MotoServer() as moto:          # os.environ.update(moto.environment()) points boto3 at it
    ...     moto.environment()["AWS_ENDPOINT_URL"] == moto.url
    True
"""

from __future__ import annotations

import logging
import urllib.request
from types import TracebackType

from moto.server import ThreadedMotoServer

from flatfile_relay_devkit.ports import ensure_free

REGION = "us-east-1"


class MotoServer:
    """moto in server mode in a background thread, on a free port of 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._host, self._port = host, port
        self.url = ""

    def start(self) -> MotoServer:
        """Listen (PortInUseError, naming who holds the port, when it is taken: moto's own server thread would
        print a traceback and leave `start` waiting forever)."""
        ensure_free(self._host, self._port, "moto")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS call
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource (milliseconds; one server per session, reset per test)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
            pass

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 (and so Powertools) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
