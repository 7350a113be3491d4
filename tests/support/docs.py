"""The README's and docs/'s code blocks, by file, heading and language, for the tests that run or check them.

A test that runs or checks a block takes it with `blocks("docs/local.md", "### The emulator's routes", "bash")`
(literal arguments): tests/unit/test_docs.py finds every such call in tests/ and fails on a block that no test
claims and that is not marked as needing AWS or Docker (```` ```bash aws ````, ```` ```bash docker ````).

Example:
    >>> [block.language for block in parse("# T\\n\\n```bash aws\\n# needs AWS: x\\nls\\n```\\n", "x.md")]
    ['bash']
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the documentation: README.md and every file of docs/
DOCUMENTS = ("README.md", "docs")
#: what a block may need that the tests do not have, as the second word of its info string
MARKS = {"aws": "# needs AWS", "docker": "# needs Docker"}
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_HEADING = re.compile(r"^#{1,6} \S")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its info string, its text (indentation removed)."""

    path: str  # relative to the repository, e.g. "docs/local.md"
    heading: str  # the heading line it sits under, e.g. "### The emulator's routes"
    language: str
    marks: tuple[str, ...]  # the info string's further words, e.g. ("aws",)
    text: str
    line: int  # of the opening fence, 1-based

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line} ({self.heading})"


def documents() -> list[Path]:
    """README.md and every Markdown file of docs/."""
    found = [ROOT / "README.md"]
    found += sorted((ROOT / "docs").glob("*.md"))
    return found


def parse(text: str, path: str) -> list[Block]:
    """Every fenced block of a Markdown text, with the heading it sits under."""
    found, heading, opened = [], "", None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if opened is not None:
            if fence and fence["fence"].startswith(opened[1]) and not fence["info"].strip():
                indent, _, words, start = opened
                body = "\n".join(item[len(indent):] if item.startswith(indent) else item.lstrip() for item in lines)
                found.append(Block(path, heading, words[0] if words else "", tuple(words[1:]), body + "\n", start))
                opened, lines = None, []
            else:
                lines.append(line)
        elif fence:
            opened = (fence["indent"], fence["fence"], fence["info"].split(), number)
        elif _HEADING.match(line):
            heading = line.strip()
    assert opened is None, f"{path}:{opened[3]}: a code block is never closed"
    return found


def all_blocks() -> list[Block]:
    """Every code block of the documentation."""
    return [block for path in documents()
            for block in parse(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())]


def blocks(path: str, heading: str, language: str | None = None, *, marks: tuple[str, ...] = ()) -> list[Block]:
    """The code blocks of `path` right under `heading` (a whole heading line), of `language` when given, with
    these marks (by default none: the blocks a test runs as pasted).

    Fails when there is none: a test that claims blocks always gets something to run or check.
    """
    text = (ROOT / path).read_text(encoding="utf-8")
    found = [block for block in parse(text, path) if block.heading == heading and block.marks == marks
             and (language is None or block.language == language)]
    assert found, f"{path} has no {language or ''} code block under {heading!r}"
    return found


def block(path: str, heading: str, language: str | None = None, *, marks: tuple[str, ...] = ()) -> Block:
    """The one code block of `path` under `heading` (of `language`, with these marks)."""
    found = blocks(path, heading, language, marks=marks)
    assert len(found) == 1, f"{path} has {len(found)} {language or ''} code blocks under {heading!r}, not one"
    return found[0]


def matches(documented: str, printed: str) -> list[str]:
    """The lines of a documented output excerpt that the printed output lacks (none: it matches).

    Each documented line must be a printed line, in the same order; `…` in it stands for any text, and a
    line `...` for any number of lines.

    Example:
        >>> matches("a\\n...\\nc … e\\n", "a\\nb\\nc d e\\n")
        []
        >>> matches("c … e\\na\\n", "a\\nc d e\\n")
        ['a']
    """
    printed_lines = printed.splitlines()
    missing, position = [], 0
    for line in documented.splitlines():
        if line.strip() in ("", "..."):
            continue
        pattern = re.compile("^" + ".*?".join(re.escape(part) for part in line.split("…")) + "$")
        for index in range(position, len(printed_lines)):
            if pattern.match(printed_lines[index]):
                position = index + 1
                break
        else:
            missing.append(line)
    return missing


def shell(script: str, *, timeout: float, env: dict[str, str] | None = None,
          cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a documented block as a user pastes it into bash in the repository (outside any make this test may
    run under: make's variables for its children are left out)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return subprocess.run(["bash", "-c", "set -e -o pipefail\n" + script], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, env={**clean, **(env or {})})
