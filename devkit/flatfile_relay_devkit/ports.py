"""Is a local port free, and if not, which command holds it: so `make emulator`, `make local-env` and the
local runner stop with one clear line instead of a traceback (or, for moto's server thread, a hang).

Standard library only (the emulator uses it). The holder is found in `/proc` on Linux (the listening
socket's inode, then the process whose descriptors hold it), else with `lsof` when it is installed.

Example:
    >>> with socket.create_server(("127.0.0.1", 0)) as taken:  # doctest: +ELLIPSIS
    ...     port = taken.getsockname()[1]
    ...     try:
    ...         ensure_free("127.0.0.1", port, "the emulator")
    ...     except PortInUseError as error:
    ...         print(str(error).split(":")[0])
    port ... on 127.0.0.1 is already in use by ...
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

__all__ = ["PortInUseError", "ensure_free", "holder"]


class PortInUseError(OSError):
    """The port a server was to listen on is taken; the message names the port and who holds it."""

    def __init__(self, host: str, port: int, what: str, held_by: str | None, hint: str = "") -> None:
        by = held_by or "another process"
        message = f"port {port} on {host} is already in use by {by}: {what} cannot listen there"
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.port = port
        self.held_by = held_by


def ensure_free(host: str, port: int, what: str, hint: str = "") -> None:
    """Raise PortInUseError when `port` on `host` cannot be bound (port 0, any free port, always can).

    `what` names the server that wanted it, `hint` what to do instead (e.g. the option that picks a port).
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno not in _IN_USE:
                raise
            raise PortInUseError(host, port, what, holder(port), hint) from None


def holder(port: int) -> str | None:
    """`<command line> (pid N)` of the process listening on TCP `port`, or None when it cannot be told."""
    return _from_proc(port) or _from_lsof(port)


_IN_USE = {98, 48, 10048}  # EADDRINUSE on Linux, macOS, Windows
_LISTEN = "0A"


def _from_proc(port: int) -> str | None:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:["):-1] in inodes for fd in descriptors):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return f"`{command.strip()}` (pid {pid})"
        except OSError:  # a process that ended meanwhile, or one of another user
            continue
    return None


def _from_lsof(port: int) -> str | None:
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603 - lsof from PATH, with a port number: no outside input
            [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"], capture_output=True, text=True, timeout=5,
            check=False,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    pid = next((line[1:] for line in found if line.startswith("p")), None)
    command = next((line[1:] for line in found if line.startswith("c")), None)
    return f"`{command}` (pid {pid})" if pid and command else None
