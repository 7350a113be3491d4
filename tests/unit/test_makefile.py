"""The Makefile: `make help` lists every target with one line each, and the SAM CLI it runs (`make deploy`,
`make sam`, `make validate`, `make build`) is the project's, with `.venv/bin` first on PATH (where `sam build`
finds python3.13) and telemetry off. A stand-in SAM CLI records what make runs: no AWS account needed."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from support.docs import ROOT, shell

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def phony() -> list[str]:
    declared = re.search(r"^\.PHONY:(.*?)(?<!\\)$", MAKEFILE, re.M | re.S)
    assert declared is not None
    return declared.group(1).replace("\\\n", " ").split()


def test_make_help_lists_every_target_with_one_line_each() -> None:
    done = shell("make --no-print-directory help", timeout=60)
    assert done.returncode == 0, done.stderr
    listed = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"  make (\S+)\s+(\S.*)", line)
        assert match, f"not a target line: {line!r}"
        listed[match.group(1)] = match.group(2)
    rules = set(re.findall(r"^([a-z][a-z-]*):(?!=)", MAKEFILE, re.M))
    assert sorted(listed) == sorted(phony()) == sorted(rules)
    assert len(done.stdout.splitlines()) == len(listed)  # one line each
    assert list(listed)[:3] == ["help", "run", "test"]  # the first hour first


@pytest.fixture
def stand_in_sam(tmp_path: Path) -> Path:
    """A SAM venv whose `sam` and `cfn-lint` record their arguments, PATH and telemetry setting."""
    venv = tmp_path / "sam-venv"
    (venv / "bin").mkdir(parents=True)
    record = tmp_path / "calls.txt"
    for tool in ("sam", "cfn-lint"):
        script = venv / "bin" / tool
        script.write_text(
            "#!/usr/bin/env bash\n"
            f'printf "%s|%s|%s|%s\\n" "{tool} $*" "$SAM_CLI_TELEMETRY" "$PATH" "$(command -v python3.13)" '
            f'>> "{record}"\n'
            'if [ "$1" = build ]; then echo "Build Succeeded"; fi\n',
            encoding="utf-8",
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (venv / ".installed").touch()  # newer than requirements/sam.txt: make does not reinstall it
    return venv


def calls(venv: Path) -> list[list[str]]:
    return [line.split("|") for line in (venv.parent / "calls.txt").read_text(encoding="utf-8").splitlines()]


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python3.13").exists(), reason="needs .venv (any make target)")
def test_make_deploy_validates_builds_and_runs_a_guided_deploy_with_the_projects_sam(stand_in_sam: Path) -> None:
    done = shell(f'make --no-print-directory deploy SAM_VENV="{stand_in_sam}" ARGS="--profile staging"', timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    made = calls(stand_in_sam)
    assert [call[0] for call in made] == ["sam validate --lint", "cfn-lint template.yaml --append-rules cfn-rules",
                                          "sam build --cached", "sam deploy --guided --profile staging"]
    for command, telemetry, path, python in made:
        if command.startswith("sam "):
            assert telemetry == "0", command
            assert path.split(":")[0] == str(ROOT / ".venv" / "bin"), command
            assert python == str(ROOT / ".venv" / "bin" / "python3.13"), command  # what `sam build` needs


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python3.13").exists(), reason="needs .venv (any make target)")
def test_make_sam_runs_any_sam_command_as_typed(stand_in_sam: Path) -> None:
    done = shell(f"make --no-print-directory sam SAM_VENV=\"{stand_in_sam}\" "
                 "ARGS=\"logs --stack-name flatfile-relay --tail --filter-pattern 'operator mode'\"", timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    [(command, telemetry, path, _python)] = calls(stand_in_sam)
    assert command == "sam logs --stack-name flatfile-relay --tail --filter-pattern operator mode"
    assert (telemetry, path.split(":")[0]) == ("0", str(ROOT / ".venv" / "bin"))


def test_every_sam_cli_the_makefile_runs_has_telemetry_off() -> None:
    assert re.search(r"^export SAM_CLI_TELEMETRY := 0$", MAKEFILE, re.M)
    recipes = [line for line in MAKEFILE.splitlines() if line.startswith("\t")]
    running_sam = [line for line in recipes if re.search(r"(/bin/sam\b|\$\(SAM\))", line)]
    assert running_sam
    assert [line for line in running_sam if "$(SAM)" not in line] == []  # one way to run it: $(SAM)
