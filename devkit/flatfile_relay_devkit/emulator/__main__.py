"""Command line: run the emulator in the foreground, or replay a sample import as webhook POSTs.

    python -m flatfile_relay_devkit.emulator --port 8765 [--host 127.0.0.1] [--seed 7] [--default-take 50]
        [--max-take 1000] [--order newest|oldest|random] [--latency 0] [--jitter 0] [--token-lifetime-cap N]
        [--anchor 2021-03-01T00:00:00Z] [--no-samples]
    python -m flatfile_relay_devkit.emulator send-webhook --to URL --batch LABEL_OR_ID [--token T]
        [--rows-per-post 1000] [--seed 7] [--anchor ...]
        [--platform-max-page-size 10000]
    python -m flatfile_relay_devkit.emulator samples [--seed 7] [--anchor ...] [--platform]
    python -m flatfile_relay_devkit.emulator secret [--seed 7] [--shell]

``serve`` (the default) prints the URL on the first line of stdout, the sample credentials secret as JSON on the
second and the Platform's keys (``platformSecretKey``, ``platformEnvironmentId``; the Platform API is the URL
plus ``/v1``) as JSON on the third (fake sample values), then serves until Ctrl-C or SIGTERM. ``send-webhook``
needs no running emulator: it rebuilds the seeded samples locally (imports added at run time are not
available). ``samples`` prints the sample labels and batch ids as JSON (``--platform``: the Platform samples'
labels and ids); ``secret`` the sample credentials of the seed's account, both sources' keys in one secret (with
``--shell``: as ``export`` lines, ``ACCESS_KEY_ID`` ... ``WEBHOOK_TOKEN``, ``PLATFORM_SECRET_KEY`` and
``PLATFORM_ENVIRONMENT_ID``, for curl).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from ..ports import PortInUseError
from .config import ORDERS, EmulatorConfig
from .emulator import Emulator
from .platform.samples import build_platform_account
from .platform.store import PlatformState
from .samples import build_account
from .store import State
from .webhook import send_webhook


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="seed of the sample data (default 7)")
    parser.add_argument("--anchor", default=None, help="sample timestamps are offsets before this ISO time")


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.emulator", description="Run the emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    _add_data_options(parser)
    parser.add_argument("--default-take", type=int, default=50)
    parser.add_argument("--max-take", type=int, default=1000)
    parser.add_argument("--order", choices=ORDERS, default="newest")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many seconds more, at random")
    parser.add_argument("--token-lifetime-cap", type=float, default=None, help="max token lifetime (s)")
    parser.add_argument("--platform-max-page-size", type=int, default=10_000, help="the Platform's page size cap")
    parser.add_argument("--no-samples", action="store_true", help="start with no imports")
    return parser


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(argv: Sequence[str]) -> int:
    """Run the emulator until interrupted."""
    args = _serve_parser().parse_args(argv)
    config = EmulatorConfig(
        seed=args.seed,
        default_take=args.default_take,
        max_take=args.max_take,
        order=args.order,
        latency=args.latency,
        jitter=args.jitter,
        token_lifetime_cap=args.token_lifetime_cap,
        platform_max_page_size=args.platform_max_page_size,
        samples=not args.no_samples,
        anchor=args.anchor,
    )
    try:
        emulator = Emulator(config, host=args.host, port=args.port).start()
    except PortInUseError as error:
        print(f"error: {error}; stop it, or pick another port: --port N (make emulator PORT=N)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _terminate)
    print(emulator.url, flush=True)
    print(json.dumps(emulator.secret), flush=True)
    print(json.dumps(emulator.platform_secret), flush=True)
    print(
        f"Flatfile emulator (seed {args.seed}) serving on {emulator.url} (the Platform API on "
        f"{emulator.platform_url}); Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def webhook(argv: Sequence[str]) -> int:
    """Replay one sample import as webhook POSTs and print the statuses."""
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.emulator send-webhook")
    parser.add_argument("--to", required=True, help="webhook URL")
    parser.add_argument("--batch", required=True, help="sample label (e.g. big) or batch id")
    parser.add_argument("--token", default=None, help="added as the token query parameter")
    parser.add_argument("--rows-per-post", type=int, default=1000)
    _add_data_options(parser)
    args = parser.parse_args(argv)
    state = State.with_samples(args.seed, args.anchor)
    batch_id = state.samples.get(args.batch, args.batch)
    if batch_id not in state.batches and batch_id not in state.foreign_batches:
        parser.error(f"unknown batch {args.batch!r}; labels: {', '.join(state.samples)}")
    statuses = send_webhook(state, batch_id, args.to, args.rows_per_post, token=args.token)
    print(json.dumps({"batchId": batch_id, "statuses": statuses}))
    return 0 if all(200 <= status < 300 for status in statuses) else 1


def samples(argv: Sequence[str]) -> int:
    """Print sample labels and batch ids."""
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.emulator samples")
    _add_data_options(parser)
    parser.add_argument("--platform", action="store_true", help="the Platform samples' labels and ids")
    args = parser.parse_args(argv)
    state = PlatformState.with_samples(args.seed, args.anchor) if args.platform else State.with_samples(
        args.seed, args.anchor)
    print(json.dumps(state.samples, indent=2))
    return 0


#: `secret --shell`: the shell variable of each key of the secret
SHELL_NAMES = {"accessKeyId": "ACCESS_KEY_ID", "secretAccessKey": "SECRET_ACCESS_KEY", "licenseKey": "LICENSE_KEY",
               "webhookToken": "WEBHOOK_TOKEN", "platformSecretKey": "PLATFORM_SECRET_KEY",
               "platformEnvironmentId": "PLATFORM_ENVIRONMENT_ID"}


def secret(argv: Sequence[str]) -> int:
    """Print the sample credentials (fake values) of the seed's account: the legacy keys and the Platform's."""
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.emulator secret")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sample data (default 7)")
    parser.add_argument("--shell", action="store_true", help="print `export NAME=value` lines")
    args = parser.parse_args(argv)
    values = {**build_account(args.seed).secret(), **build_platform_account(args.seed).secret()}
    if args.shell:
        print("\n".join(f"export {SHELL_NAMES[key]}={shlex.quote(value)}" for key, value in values.items()))
    else:
        print(json.dumps(values))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m flatfile_relay_devkit.emulator``."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"serve": serve, "send-webhook": webhook, "samples": samples, "secret": secret}
    if args and args[0] in commands:
        return commands[args[0]](args[1:])
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
