"""`make local-env`: what `sam local invoke` needs on this machine — moto and the Flatfile emulator on fixed
ports, template.yaml's resources created in moto, the emulator's credentials in the secret, and an env-vars
file naming the provisioned resources and endpoints. Runs until Ctrl-C.

The emulator also holds the batch the sample events name (`8f14e45f-…`, three rows), and the secret accepts
the sample webhook token, so every event in events/ does what it says. Endpoints are written as
`http://<advertise>:<port>`: 127.0.0.1 (the default) suits `--docker-network host`; with
`--advertise host.docker.internal` the servers must listen where the container can reach them
(`--bind 0.0.0.0`; see docs/local.md). A port already taken stops it with one line naming the port and the
command that holds it.

Example:
    $ python -m flatfile_relay_devkit.local.sam_env --env-file local-env.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig
from flatfile_relay_devkit.emulator.platform import PLATFORM_PREFIX
from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.moto import REGION, MotoServer
from flatfile_relay_devkit.local.template import Template
from flatfile_relay_devkit.ports import PortInUseError

#: the batch the sample events (events/*.json) name, with the rows of events/webhook.json
SAMPLE_BATCH_ID = "8f14e45f-ceea-4e67-a2b5-0c8d6f1e3a27"
SAMPLE_CREATED_AT = "2021-03-01T20:22:52.000Z"
SAMPLE_ROWS = [{"sku": "A-1", "qty": "3"}, {"sku": "B-7", "qty": "12"}, {"sku": "C-42", "qty": "1"}]
#: the token events/webhook.json carries
SAMPLE_WEBHOOK_TOKEN = "sample-webhook-token-0123456789abcdef"  # noqa: S105 - a sample value, accepted only locally


def env_vars(deployment: LocalDeployment, moto_url: str, emulator_url: str, advertise: str) -> dict[str, Any]:
    """The `--env-vars` document: per function, each variable the template declares, with the local values.

    `moto_url` and `emulator_url` are where this process reaches the servers; the file names them by
    `advertise` (the host the container uses), queue URLs included.

    Example:
        >>> env_vars(deployment, "http://127.0.0.1:5050", "http://127.0.0.1:8765", "127.0.0.1")["PollerFunction"][
        ...     "LEDGER_TABLE"]                                                                     # doctest: +SKIP
        'flatfile-relay-LedgerTable'
    """
    moto_seen, emulator_seen = _advertised(moto_url, advertise), _advertised(emulator_url, advertise)
    document: dict[str, Any] = {}
    for spec in deployment.template.functions():
        variables = deployment.environment(spec.name)
        variables = {key: value.replace(moto_url, moto_seen) for key, value in variables.items()}
        variables["AWS_ENDPOINT_URL"] = moto_seen
        variables["FLATFILE_BASE_URL"] = emulator_seen
        variables["FLATFILE_PLATFORM_URL"] = emulator_seen + PLATFORM_PREFIX
        document[spec.name] = {key: variables[key] for key in spec.environment if key in variables}
    return document


def _advertised(url: str, host: str) -> str:
    scheme, _, rest = url.partition("://")
    port = rest.rsplit(":", 1)[1]
    return f"{scheme}://{host}:{port}"


def provision(root: Path, moto: MotoServer, emulator: Emulator) -> LocalDeployment:
    """Create the template's resources in moto and store the emulator's credentials in the secret."""
    os.environ.update(moto.environment())
    clients = AwsClients()
    deployment = LocalDeployment.create(
        Template.load(root / "template.yaml"), clients,
        {"FlatfileBaseUrl": emulator.url, "FlatfilePlatformUrl": emulator.platform_url},
    )
    if not emulator.state.has_batch(SAMPLE_BATCH_ID):
        emulator.state.add_batch("submitted", SAMPLE_ROWS, SAMPLE_CREATED_AT, id=SAMPLE_BATCH_ID,
                                 filename="sample-event-products.csv", originalFile="sample-event-products.csv")
    secret = {**emulator.secret, "webhookToken": f"{emulator.secret['webhookToken']},{SAMPLE_WEBHOOK_TOKEN}"}
    deployment.store_credentials(secret)
    return deployment


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m flatfile_relay_devkit.local.sam_env` (what `make local-env` calls)."""
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.local.sam_env",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding template.yaml")
    parser.add_argument("--env-file", type=Path, default=Path("local-env.json"), help="default ./local-env.json")
    parser.add_argument("--bind", default="127.0.0.1", help="address the servers listen on (default 127.0.0.1)")
    parser.add_argument("--advertise", default="127.0.0.1",
                        help="host the container reaches them by (default 127.0.0.1, for --docker-network host)")
    parser.add_argument("--moto-port", type=int, default=5050)
    parser.add_argument("--emulator-port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7, help="emulator sample data seed")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, interrupted)
    try:
        return _serve(args, stop)
    except PortInUseError as error:
        print(f"error: {error}; stop it, or pick other ports: --moto-port N --emulator-port N "
              '(make local-env LOCAL_ENV_ARGS="--moto-port 5051 --emulator-port 8766")', file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    with MotoServer(args.bind, args.moto_port) as moto, \
            Emulator(EmulatorConfig(seed=args.seed), host=args.bind, port=args.emulator_port) as emulator:
        deployment = provision(args.root, moto, emulator)
        document = env_vars(deployment, moto.url, emulator.url, args.advertise)
        args.env_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"moto on {moto.url}, Flatfile emulator on {emulator.url} (region {REGION})", flush=True)
        print(f"template.yaml's resources created in moto; {args.env_file} names them for sam local invoke",
              flush=True)
        print("ready: run the `sam local invoke` commands of docs/local.md in another terminal; Ctrl-C to stop",
              file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
