"""The first hour, as pasted: the README's `make run`, what it shows and what it leaves in ./out, the queries
of docs/local.md and docs/output.md over that copy (`make query`), and the documented consumer reading it with
the development kit installed by pip into a venv of its own (offline, from the repository).

`make run` runs once for the module, in the repository as a user runs it (it writes ./out, which git
ignores); each command runs through bash, outside any make the tests may run under.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.docs import ROOT, block, blocks, matches, shell

from flatfile_relay_devkit.local import query
from flatfile_relay_devkit.local.tables import EXAMPLES, example_queries

OUT = ROOT / "out"
#: how long the README's `make run` may take here (a few seconds on an idle machine; CI machines are shared)
MAKE_RUN_SECONDS = 240

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def made_run() -> str:
    """The README's quick start `make run`, as pasted; its output."""
    [command] = [line.split("#")[0].strip() for line in block("README.md", "## Quick start", "bash").text.splitlines()
                 if line.startswith("make run")]
    started = time.monotonic()
    done = shell(command, timeout=MAKE_RUN_SECONDS)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert took < MAKE_RUN_SECONDS
    return done.stdout


def test_what_make_run_shows_is_what_it_prints(made_run: str) -> None:
    documented = block("README.md", "## What `make run` shows", "text").text
    assert matches(documented, made_run) == []
    assert "next: make query EXAMPLE=1" in made_run


def test_the_documented_layout_is_what_lands_in_out(made_run: str) -> None:
    export_id = "([0-9a-f-]{36}|[a-z]{2}[a-z0-9]{0,6}_jb_[A-Za-z0-9]+)"  # a legacy batch or a Platform job
    patterns = [re.compile("^" + re.escape(line).replace("<YYYY\\-MM\\-DD>", r"\d{4}-\d{2}-\d{2}")
                           .replace("<batchId>", export_id).replace("<eventId>", "([0-9a-f-]{36}|[A-Za-z0-9_-]+)")
                           .replace("<index>", r"\d+").replace(r"part\-00000", r"part\-\d{5}")
                           .replace("<source>", "(legacy|platform)")
                           .replace("<slug>", "[a-z0-9_-]+").replace("<fingerprint>", "[0-9a-f]{16}") + "$")
                for line in block("README.md", "## Output", "text").text.splitlines() if line.strip()]
    keys = [path.relative_to(OUT).as_posix() for path in OUT.rglob("*")
            if path.is_file() and path.relative_to(OUT).parts[0] == "flatfile" and not path.name.endswith(".jsonl")]
    assert len(keys) >= 20
    assert [key for key in keys if not any(p.match(key) for p in patterns)] == []
    assert all(any(p.match(key) for key in keys) for p in patterns)
    layout = block("docs/output.md", "## Layout", "text").text  # the same three prefixes, annotated
    assert [line.split()[0].split("/")[1] for line in layout.splitlines() if line.strip()] == [
        "rows", "manifests", "schemas", "webhooks"]


def test_every_example_query_answers_over_out(made_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`make query EXAMPLE=<n>` for each example query of docs/output.md (in process: the make wiring is
    tested by the next test)."""
    examples = example_queries((ROOT / EXAMPLES).read_text(encoding="utf-8"))
    assert len(examples) == len(blocks("docs/output.md", "### Example queries", "sql")) == 9
    # `make run` leaves exports of both sources: every example query finds rows, but the one of schema changes (a
    # first run has none: tests/integration/pipeline/test_pipeline_tables.py runs it over a change)
    for number in range(1, len(examples) + 1):
        assert query.main(["--example", str(number), "--out", str(OUT), "--root", str(ROOT)]) == 0
        printed = capsys.readouterr().out
        rows = int(re.findall(r"^\((\d+) rows?\)$", printed, re.M)[-1])
        assert rows > 0 or "schemaChange" in examples[number - 1][1], printed


def test_the_documented_make_query_commands_work_as_pasted(made_run: str) -> None:
    for line in block("docs/local.md", "## Querying `./out`", "bash").text.splitlines():
        done = shell(line, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        answer = done.stdout.splitlines()
        assert re.fullmatch(r"\((\d+) rows?\)", answer[-1]), done.stdout
        assert answer[-1] != "(0 rows)", done.stdout
    sku = shell(block("docs/local.md", "## Querying `./out`", "bash").text.splitlines()[-1], timeout=120).stdout
    assert sku.splitlines()[0] == "sku | valid"  # `$.sku` reached DuckDB as typed, `$` and quotes included
    assert "NULL |" not in sku.splitlines()[1]


def test_a_query_that_fails_names_the_problem_without_a_traceback(made_run: str) -> None:
    done = shell('make query SQL="SELECT nope FROM rows"', timeout=120)
    assert done.returncode != 0
    assert "error: BinderException" in done.stderr
    assert "Traceback" not in done.stderr


def rows_in_out(notice: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's rows read straight from the parts in ./out (no reader)."""
    manifest = json.loads((OUT / "flatfile" / "manifests" / f"{notice['batchId']}.json").read_text(encoding="utf-8"))
    rows = []
    for part in manifest["parts"]:
        key = part["uri"].split("/", 3)[3]
        rows += [json.loads(line) for line in gzip.decompress((OUT / key).read_bytes()).splitlines()]
    return rows


def test_the_documented_consumer_reads_out_with_the_kit_installed_by_pip(made_run: str, tmp_path: Path) -> None:
    """docs/output.md: `pip install ./devkit` in a fresh venv (no package index: the kit builds with the
    standard library), then the ten-line consumer, as pasted, in the repository (it reads ./out)."""
    venv = tmp_path / "venv"
    created = shell(f'"{sys.executable}" -m venv "{venv}"', timeout=180)
    assert created.returncode == 0, created.stderr
    environment = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "VIRTUAL_ENV": str(venv), "PIP_NO_INDEX": "1",
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONPATH": ""}
    install = block("docs/output.md", "## Writing a downstream consumer", "bash").text
    installed = shell(install, timeout=180, env=environment)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    example = block("docs/output.md", "## Writing a downstream consumer", "python").text
    assert len([line for line in example.splitlines() if line.strip()]) <= 10

    done = shell(f'python - <<"PY"\n{example}PY', timeout=60, env=environment)

    assert done.returncode == 0, done.stderr
    where = shell('python -c "import flatfile_relay_devkit.reader as r; print(r.__file__)"', timeout=30,
                  env=environment).stdout
    assert where.startswith(str(venv))  # the installed kit, not the repository's
    notices = [json.loads(path.read_text(encoding="utf-8")) for path in sorted((OUT / "notices").glob("*.json"))]
    assert len(notices) == 13  # 11 legacy batches, 2 Platform submit jobs
    expected = []
    for notice in notices:
        valid = [row for row in rows_in_out(notice) if row["valid"] and not row.get("deleted")]
        expected.append(f"{notice['filename']}: {len(valid)} valid rows of {notice['rowCount']}")
    assert done.stdout.splitlines() == expected


def test_the_documented_consumer_refuses_a_damaged_part(made_run: str, tmp_path: Path) -> None:
    """The same consumer over a copy of ./out whose largest part lost a byte: the kit stops at that part."""
    from flatfile_relay_devkit.reader import CorruptPartError, iter_rows

    copy = tmp_path / "out"
    for path in OUT.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(OUT)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(OUT)).write_bytes(path.read_bytes())
    biggest = max(copy.rglob("part-*.jsonl.gz"), key=lambda path: path.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[:-1])
    notice = next(json.loads(p.read_text()) for p in (copy / "notices").glob("*.json")
                  if p.stem == biggest.parent.name)
    with pytest.raises(CorruptPartError, match="bytes, the manifest says"):
        list(iter_rows(notice["manifestUri"], copy))
