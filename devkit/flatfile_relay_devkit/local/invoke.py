"""`make invoke FUNCTION=<logical id> EVENT=<file>`: one function, one event, on this machine without Docker.

Each call starts a fresh local stack: template.yaml's resources in moto and the Flatfile emulator, both on
free ports of 127.0.0.1, set up as the sample events in events/ expect it (what `make local-env` sets up for
`sam local invoke`): the emulator also holds the batch the samples name, the webhook secret accepts their
token, and that batch is already exported (events/sqs_export_job.json ran first), so the consumer's event
finds its manifest and a replay finds the batch in the ledger. Then the handler is invoked once, in this
process, the way Lambda would (its environment from the template, a Lambda-like context), and its log lines
and its response are printed. The exit status is 1 when the handler raised (its traceback is printed).

Example:
    $ python -m flatfile_relay_devkit.local.invoke PollerFunction events/replay.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flatfile_relay_devkit.emulator import Emulator, EmulatorConfig
from flatfile_relay_devkit.local.lambda_runtime import LocalLambda
from flatfile_relay_devkit.local.moto import MotoServer
from flatfile_relay_devkit.local.sam_env import provision
from flatfile_relay_devkit.local.template import Template, TemplateError

__all__ = ["Invocation", "invoke", "local_stack", "main"]

#: the sample export job: run once while the stack is prepared, so the sample batch is exported
PREPARATION = Path("events") / "sqs_export_job.json"


@dataclass
class Invocation:
    """What one invocation did: the handler's answer (or its exception) and the lines it logged."""

    function: str
    response: Any = None
    error: BaseException | None = None
    logs: tuple[str, ...] = ()


@contextlib.contextmanager
def local_stack(root: Path, seed: int = 7) -> Iterator[LocalLambda]:
    """A fresh local stack (moto and the emulator on free ports) as the sample events expect it."""
    saved = dict(os.environ)
    try:
        with MotoServer() as moto, Emulator(EmulatorConfig(seed=seed)) as emulator:
            moto.reset()  # moto keeps its state per process: a stack of an earlier call would still be there
            lambdas = LocalLambda(provision(root, moto, emulator), root)
            prepared = invoke(lambdas, "ExporterFunction", _event(root / PREPARATION))
            if prepared.error is not None or prepared.response != {"batchItemFailures": []}:
                raise RuntimeError(f"preparing the local stack failed: {prepared.error or prepared.response}")
            yield lambdas
    finally:
        os.environ.clear()
        os.environ.update(saved)


def invoke(lambdas: LocalLambda, function: str, event: Any) -> Invocation:
    """Invoke `function` once with `event`; its log lines (Powertools writes them to stdout) are kept apart."""
    printed = io.StringIO()
    invocation = Invocation(function)
    with contextlib.redirect_stdout(printed):
        try:
            invocation.response = lambdas.invoke(function, event)
        except Exception as error:  # noqa: BLE001 - a failed invocation is reported, as Lambda reports it
            invocation.error = error
    invocation.logs = tuple(line for line in printed.getvalue().splitlines() if line.strip())
    return invocation


def report(invocation: Invocation) -> str:
    """The text `make invoke` prints: the log lines, then the response (or the error)."""
    lines = [f"logs ({len(invocation.logs)} lines):", *(f"  {line}" for line in invocation.logs)]
    if invocation.error is not None:
        lines.append(f"{invocation.function} failed (Lambda would report the invocation as an error):")
        lines.extend(traceback.format_exception(invocation.error))
    else:
        lines.append("response:")
        lines.append(json.dumps(invocation.response, indent=2, ensure_ascii=False, default=str))
    return "\n".join(line.rstrip("\n") for line in lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m flatfile_relay_devkit.local.invoke` (what `make invoke` calls)."""
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.local.invoke",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. PollerFunction")
    parser.add_argument("event", type=Path, help="the event file, e.g. events/schedule.json")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding template.yaml")
    args = parser.parse_args(argv)
    functions = [spec.name for spec in Template.load(args.root / "template.yaml").functions()]
    problem = _problem(args.function, functions, args.event)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    event = _event(args.event)
    print(f"==> {args.function} with {args.event}: a fresh local stack (moto and the Flatfile emulator on "
          "127.0.0.1), the sample batch exported", file=sys.stderr, flush=True)
    with local_stack(args.root) as lambdas:
        invocation = invoke(lambdas, args.function, event)
    print(report(invocation))
    return 1 if invocation.error is not None else 0


def _problem(function: str, functions: list[str], event: Path) -> str:
    if function not in functions:
        return f"template.yaml has no function {function!r}; FUNCTION is one of {', '.join(functions)}"
    if not event.is_file():
        return f"no event file {str(event)!r}; EVENT is a file such as events/schedule.json"
    try:
        json.loads(event.read_text(encoding="utf-8"))
    except ValueError as error:
        return f"{event} is not JSON: {error}"
    return ""


def _event(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TemplateError(f"cannot read the event {path}: {error}") from None


if __name__ == "__main__":
    sys.exit(main())
