"""The README and docs/ stay short, true and working: the README's length and order, every code block run by
a test or marked as needing AWS or Docker, no dead relative link, and the numbers they quote taken from the
source (the configuration table, the alarm count, the benchmark table, the diagram's functions)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.docs import MARKS, ROOT, Block, all_blocks, block, documents, parse

README = ROOT / "README.md"
#: the README's sections, in this order (the first five minutes; everything else is in docs/)
README_SECTIONS = ["## Quick start", "## What `make run` shows", "## Deploying", "## Configuration", "## Output",
                   "## Documentation"]
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


# ---------------------------------------------------------------- the README


def test_the_readme_is_read_in_five_minutes() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == README_SECTIONS
    assert lines[0] == "# flatfile-relay"
    assert lines.index("```mermaid") < lines.index("## Quick start")  # what it is, with the diagram, first


def test_the_readme_diagram_shows_every_function_and_what_connects_them(template: dict[str, Any]) -> None:
    diagram = block("README.md", "# flatfile-relay", "mermaid").text
    functions = [name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    for function in functions:
        assert f"[{function.removesuffix('Function')}]" in diagram or function.removesuffix("Function") in diagram
    for part in ("SQS export-jobs", "SQS notices", "S3 bucket", "EventBridge bus", "DynamoDB", "Secrets Manager",
                 "Athena"):
        assert part in diagram


def configuration_table() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration\n"):text.index("## Output\n")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_the_configuration_table_is_the_templates_parameters(template: dict[str, Any]) -> None:
    """Every parameter, in template order (the order `sam deploy --guided` asks), with its default."""
    table = configuration_table()
    assert [row[0].strip("`") for row in table] == list(template["Parameters"])
    for row in table:
        default = str(template["Parameters"][row[0].strip("`")].get("Default", ""))
        assert row[1] == (f"`{default}`" if default else "empty"), row[0]
        assert len(row[2]) >= 20, f"{row[0]}: say what it sets"


def test_the_quick_start_is_what_ci_runs() -> None:
    """`make run` runs as pasted in tests/integration/pipeline/test_pipeline_out.py; `make test` is what CI
    runs on a fresh clone (.ci/run), so it runs there."""
    commands = [line.split("#")[0].strip() for line in block("README.md", "## Quick start", "bash").text.splitlines()]
    assert commands == ["make run", "make test"]
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("\nmake test")


# ---------------------------------------------------------------- every code block run or marked


Claim = tuple[str, str, str | None, tuple[str, ...]]


def claims() -> dict[Claim, list[str]]:
    """Each `blocks(...)`/`block(...)` call with literal arguments in tests/: (path, heading, language, marks) ->
    the test files that make it."""
    found: dict[Claim, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            literal = all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in node.args)
            if name in ("block", "blocks") and literal and len(node.args) in (2, 3):
                doc, heading, *language = (arg.value for arg in node.args)  # type: ignore[attr-defined]
                marks = next((ast.literal_eval(k.value) for k in node.keywords if k.arg == "marks"), ())
                key = (doc, heading, language[0] if language else None, tuple(marks))
                found.setdefault(key, []).append(path.relative_to(ROOT).as_posix())
    return found


def claimed(key: Claim, every: list[Block]) -> list[Block]:
    path, heading, language, marks = key
    return [b for b in every
            if (b.path, b.heading, b.marks) == (path, heading, marks) and language in (None, b.language)]


def test_every_code_block_is_run_by_a_test_or_marked_as_needing_aws_or_docker() -> None:
    every = all_blocks()
    assert len(every) >= 30
    found = claims()
    runs = {b for key in found for b in claimed(key, every)}
    problems = []
    for b in every:
        unknown = [mark for mark in b.marks if mark not in MARKS]
        if unknown:
            problems.append(f"{b.where}: unknown mark {unknown} (marks: {', '.join(MARKS)})")
        if not b.marks and b not in runs:
            problems.append(f"{b.where}: no test runs this {b.language} block, and it is not marked "
                            f"```{b.language} aws or ```{b.language} docker")
    assert problems == [], "\n".join(problems)
    stale = [f"{key} in {files}" for key, files in found.items() if not claimed(key, every)]
    assert stale == [], "claims that find no block:\n" + "\n".join(stale)


def marked() -> list[Block]:
    return [b for b in all_blocks() if b.marks]


@pytest.mark.parametrize("b", marked(), ids=lambda b: b.where)
def test_a_marked_block_says_what_it_needs_and_parses(b: Block) -> None:
    first = b.text.splitlines()[0]
    assert any(first.startswith(MARKS[mark]) for mark in b.marks), f"{b.where}: start with {MARKS[b.marks[0]]!r}"
    if b.language == "bash":
        parsed = subprocess.run(["bash", "-n"], input=b.text, capture_output=True, text=True, check=False)
        assert parsed.returncode == 0, parsed.stderr


def test_the_block_parser_reads_fences_headings_and_marks() -> None:
    text = "# A\n\n```bash aws\n# needs AWS: x\nls\n```\n\n## B\n\n  ```yaml\n  a: 1\n  ```\n````md\n```\n````\n"
    parsed = parse(text, "x.md")
    assert [(b.heading, b.language, b.marks, b.text) for b in parsed] == [
        ("# A", "bash", ("aws",), "# needs AWS: x\nls\n"), ("## B", "yaml", (), "a: 1\n"), ("## B", "md", (), "```\n")]


# ---------------------------------------------------------------- links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {slug(line) for line in text.splitlines() if re.match(r"^#{1,6} ", line)}


def links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^\s*(```|~~~).*?^\s*\1", "", text, flags=re.S | re.M)  # code blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    return _LINK.findall(text)


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_relative_link_is_dead(path: Path) -> None:
    dead = []
    for target in links(path):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        name = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
        if not resolved.exists():
            dead.append(f"{target}: no {name}")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            dead.append(f"{target}: {name} has no heading #{anchor}")
    assert dead == []


def test_every_document_of_docs_is_linked_from_the_readme() -> None:
    linked = {target.partition("#")[0] for target in links(README)}
    assert {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")} <= linked


def test_the_link_checker_finds_a_dead_link_and_a_dead_anchor(tmp_path: Path) -> None:
    page = ROOT / "docs" / "local.md"
    assert "output.md#example-queries" in links(page)
    assert "example-queries" in anchors(ROOT / "docs" / "output.md")
    assert slug("## `sam local invoke` (with Docker)") == "sam-local-invoke-with-docker"
    assert links(page)  # and none of them dead: test_no_relative_link_is_dead


# ---------------------------------------------------------------- numbers taken from the source


def test_the_alarm_count_is_the_templates(template: dict[str, Any]) -> None:
    alarms = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    conditional = [name for name, r in alarms.items() if r.get("Condition") == "PollingEnabled"]
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    quoted = re.findall(r"The (\d+) alarms \((\d+) with the schedule off\)", text)
    assert quoted == [(str(len(alarms)), str(len(alarms) - len(conditional)))]
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert f"each\nstack has {len(alarms)} alarms" in deploy or f"stack has {len(alarms)} alarms" in deploy


def test_the_benchmark_table_is_the_latest_results() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import bench

    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    table = bench.table([bench.Check(**check) for check in results["table"]])
    assert block("docs/performance.md", "# Performance", "text").text.rstrip("\n") == table
