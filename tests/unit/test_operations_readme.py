"""The `aws lambda invoke` commands of docs/operations.md cover every operator mode with payloads the poller
accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flatfile_relay.operations.requests import MODES, parse_request

ROOT = Path(__file__).resolve().parents[2]


def invoke_commands() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text[text.index("### Operator modes"):text.index("## Limits and costs")]
    joined = section.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("aws lambda invoke")]


def test_every_mode_has_an_invoke_command_with_a_valid_payload() -> None:
    modes = set()
    for command in invoke_commands():
        assert "--cli-binary-format raw-in-base64-out" in command
        inline = re.search(r"--payload '([^']*)'", command)
        from_file = re.search(r"--payload file://(\S+)", command)
        assert inline or from_file, command
        text = inline.group(1) if inline else (ROOT / from_file.group(1)).read_text(encoding="utf-8")  # type: ignore[union-attr]
        modes.add(parse_request(json.loads(text)).mode)
    assert modes == set(MODES)
    assert any("--invocation-type Event" in command for command in invoke_commands())


def test_the_sample_events_are_valid_requests() -> None:
    for mode in MODES:
        assert parse_request(json.loads((ROOT / "events" / f"{mode}.json").read_text(encoding="utf-8"))).mode == mode
