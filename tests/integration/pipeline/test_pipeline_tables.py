"""template.yaml's Glue tables read what the local pipeline exports, and the example queries of docs/output.md
run.

DuckDB reads the copy of the bucket through the columns, types and partition layout the template declares
(devkit `local.tables`), so a column renamed in the template or in the data, or a layout that differs from
the partition template, fails here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support.docs import blocks
from support.functions import ROOT

from flatfile_relay_devkit.local.runner import LocalRun
from flatfile_relay_devkit.local.tables import EXAMPLES, connect, example_queries, table_views

OUTPUT = (ROOT / EXAMPLES).read_text(encoding="utf-8")


@pytest.fixture
def exported(moto_server: Any, emulator_factory: Any, tmp_path: Path) -> Any:
    """One local run (a scheduled tick) copied out: (run, local copy of the bucket)."""
    moto_server.reset()
    run = LocalRun(ROOT, emulator_factory(), moto_server)
    run.cycle()
    run.collect()
    out = tmp_path / "bucket"
    run.copy_out(out)
    return run, out


@pytest.fixture
def db(exported: Any) -> Any:
    run, out = exported
    return connect(run.deployment.template, out, run.deployment.ref, run.deployment.getatt)


def json_lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_rows_table_reads_every_exported_row_through_its_declared_columns(exported: Any, db: Any) -> None:
    _, out = exported
    expected = json_lines(sorted(out.rglob("rows/submitted_date=*/*/part-*.jsonl")))
    assert expected

    columns = [row[0] for row in db.execute("DESCRIBE rows").fetchall()]
    got = db.execute("SELECT * FROM rows ORDER BY batchId, sequence").fetchall()

    data_keys = {key for row in expected for key in row}
    assert set(columns) - {"submitted_date"} == data_keys  # each key of the API's rows is a column, and back
    assert len(got) == len(expected)
    for column in columns:  # a column renamed on one side only reads as nulls
        assert db.execute(f'SELECT count("{column}") FROM rows').fetchone()[0] > 0, column  # noqa: S608
    by_id = {row["id"]: row for row in expected}
    for values in got:
        row = dict(zip(columns, values, strict=True))
        source = by_id[row["id"]]
        assert json.loads(row["mapped"]) == source["mapped"]  # open shapes: the JSON text of the value
        assert json.loads(row["raw"]) == source["raw"]
        assert (row["valid"], row["deleted"], row["sequence"]) == (source["valid"], source["deleted"],
                                                                    source["sequence"])
        manifest = json.loads((out / "flatfile" / "manifests" / f"{source['batchId']}.json").read_text())
        day = manifest["batch"].get("submittedAt") or manifest["batch"]["createdAt"]
        assert row["submitted_date"] == day[:10]


def test_the_batches_table_reads_one_row_per_manifest(exported: Any, db: Any) -> None:
    run, out = exported
    manifests = json_lines(sorted((out / "flatfile" / "manifests").glob("*.json")))
    assert len(manifests) == len(run.result.exported)

    columns = [row[0] for row in db.execute("DESCRIBE batches").fetchall()]
    got = {row[0]: dict(zip(columns, row, strict=True)) for row in db.execute("SELECT * FROM batches").fetchall()}

    assert set(got) == {manifest["batchId"] for manifest in manifests}
    for column in columns:
        assert db.execute(f'SELECT count("{column}") FROM batches').fetchone()[0] > 0, column  # noqa: S608
    for manifest in manifests:
        row = got[manifest["batchId"]]
        assert (row["filename"], row["rowCount"], row["exportedAt"], row["trigger"]) == (
            manifest["batch"]["filename"], manifest["rowCount"], manifest["exportedAt"], manifest["trigger"]
        )
        customer = manifest["batch"].get("__endUser__")
        assert (row["customer"] or {}).get("id") == (customer or {}).get("id")


def test_the_views_come_from_the_template_so_a_renamed_column_reads_nothing(exported: Any) -> None:
    run, out = exported
    template = run.deployment.template
    rows = template.resources["RowsTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    original = rows[1]["Name"]
    rows[1]["Name"] = "batch_id"  # renamed in the template, not in the data
    try:
        db = connect(template, out, run.deployment.ref, run.deployment.getatt)
        assert db.execute("SELECT count(batch_id), count(*) FROM rows").fetchone()[0] == 0
    finally:
        rows[1]["Name"] = original
    assert set(table_views(template, out, run.deployment.ref, run.deployment.getatt)) == {"rows", "batches"}


def test_the_rows_table_needs_the_openx_serde_and_its_key_mappings(exported: Any) -> None:
    """What Athena's engine does with these columns: the Hive JSON SerDe fails on `raw` (a list) and `mapped`
    (an object) in string columns; the OpenX SerDe with exact keys reads a camelCase key only through its
    mapping."""
    run, out = exported
    serde = run.deployment.template.resources["RowsTable"]["Properties"]["TableInput"]["StorageDescriptor"][
        "SerdeInfo"]
    saved = copy.deepcopy(serde)

    def rows(sql: str) -> Any:
        return connect(run.deployment.template, out, run.deployment.ref, run.deployment.getatt).execute(sql)

    try:
        serde.clear()
        serde["SerializationLibrary"] = "org.apache.hive.hcatalog.data.JsonSerDe"
        assert rows("SELECT count(id) FROM rows").fetchone()[0] > 0  # scalar columns read
        for column in ("raw", "mapped"):
            with pytest.raises(duckdb.Error, match="must be a scalar json value"):
                rows(f"SELECT {column} FROM rows").fetchall()  # noqa: S608
        serde.update(copy.deepcopy(saved))
        del serde["Parameters"]["mapping.createdat"]
        assert rows("SELECT count(createdAt), count(updatedAt) FROM rows").fetchone()[0] == 0
    finally:
        serde.clear()
        serde.update(saved)
    assert rows("SELECT count(createdAt) FROM rows").fetchone()[0] > 0


def test_the_example_queries_run_and_answer(exported: Any, db: Any) -> None:
    run, _ = exported
    queries = example_queries(OUTPUT)
    documented = blocks("docs/output.md", "### Example queries", "sql")
    assert [sql for _, sql in queries] == [b.text.strip() for b in documented]
    assert len(queries) == 5
    medium = run.emulator.samples["medium"]
    for title, sql in queries:
        answer = db.execute(sql.replace("<batchId>", medium)).fetchall()
        assert answer, title
    rows_of_one = db.execute(queries[0][1].replace("<batchId>", medium)).fetchall()
    assert [row[0] for row in rows_of_one] == sorted(row["sequence"] for row in run.emulator.state.rows(medium))
