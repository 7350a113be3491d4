"""template.yaml's Glue tables read what the local pipeline exports, both sources' objects side by side, and the
example queries of docs/output.md run.

DuckDB reads the copy of the bucket through the columns, types and partition layout the template declares
(devkit `local.tables`), so a column renamed in the template or in the data, or a layout that differs from
the partition template, fails here. The bucket holds the legacy batches a scheduled tick exported and two
Flatfile Platform submit jobs (a workbook of two sheets, one with invalid records) laid out as architecture.md
item 10 says (tests/support/platform_output.py).
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
from support.platform_output import platform_export, submit

from flatfile_relay.layout import submitted_date
from flatfile_relay_devkit.local.runner import LocalRun
from flatfile_relay_devkit.local.tables import EXAMPLES, connect, example_queries, table_views

OUTPUT = (ROOT / EXAMPLES).read_text(encoding="utf-8")


@pytest.fixture
def exported(moto_server: Any, emulator_factory: Any, tmp_path: Path) -> Any:
    """One local run (a scheduled tick) and two Platform exports in its bucket, copied out: (run, local copy of
    the bucket, the Platform exports)."""
    moto_server.reset()
    run = LocalRun(ROOT, emulator_factory(), moto_server)
    run.cycle()
    # an import of the same template whose rows renamed a field: a schema change
    renamed = run.emulator.state.add_batch("submitted", filename="renamed.csv")["id"]
    run.emulator.state.add_rows(renamed, [{"sku": "R-1", "quantity": "2", "notes": ""}])
    run.cycle()
    platform = [platform_export(run.emulator.platform, submit(run.emulator.platform, label), run.settings.export_bucket,
                                prefix=run.settings.export_prefix, part_max_rows=10)
                for label in ("customers_orders", "products")]
    for export in platform:
        export.write(run.clients.s3)
    run.collect()
    out = tmp_path / "bucket"
    run.copy_out(out)
    return run, out, platform


@pytest.fixture
def db(exported: Any) -> Any:
    run, out, _ = exported
    return connect(run.deployment.template, out, run.deployment.ref, run.deployment.getatt)


def json_lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_rows_table_reads_every_exported_row_through_its_declared_columns(exported: Any, db: Any) -> None:
    _, out, platform = exported
    expected = json_lines(sorted(out.rglob("rows/submitted_date=*/*/part-*.jsonl")))
    assert {row.get("sheet") is None for row in expected} == {True, False}  # both sources

    columns = [row[0] for row in db.execute("DESCRIBE rows").fetchall()]
    got = db.execute("SELECT * FROM rows ORDER BY batchId, sequence").fetchall()

    data_keys = {key for row in expected for key in row}
    assert set(columns) - {"submitted_date"} == data_keys  # each key of both sources' rows is a column, and back
    assert len(got) == len(expected)
    for column in columns:  # a column renamed on one side only reads as nulls
        assert db.execute(f'SELECT count("{column}") FROM rows').fetchone()[0] > 0, column  # noqa: S608
    by_id = {row["id"]: row for row in expected}
    assert len(by_id) == len(expected)
    for values in got:
        row = dict(zip(columns, values, strict=True))
        source = by_id[row["id"]]
        for column in set(columns) - {"submitted_date"}:
            if isinstance(source.get(column), dict | list):  # open shapes: the JSON text of the value
                assert json.loads(row[column]) == source[column], column
            else:
                assert row[column] == source.get(column), column
        manifest = json.loads((out / "flatfile" / "manifests" / f"{source['batchId']}.json").read_text())
        batch = manifest["batch"]["job"] if manifest.get("source") == "platform" else manifest["batch"]
        assert row["submitted_date"] == submitted_date(batch)
    products = next(export for export in platform if export.manifest.filename == "Product catalogue")
    assert db.execute("SELECT count(*) FROM rows WHERE sheet = 'products' AND NOT valid").fetchone()[0] == len(
        [row for row in products.rows if not row["valid"]]) > 0


def test_the_batches_table_reads_one_row_per_manifest(exported: Any, db: Any) -> None:
    run, out, platform = exported
    manifests = json_lines(sorted((out / "flatfile" / "manifests").glob("*.json")))
    assert len(manifests) == len(run.result.exported) + len(platform)

    columns = [row[0] for row in db.execute("DESCRIBE batches").fetchall()]
    got = {row[0]: dict(zip(columns, row, strict=True)) for row in db.execute("SELECT * FROM batches").fetchall()}

    assert set(got) == {manifest["batchId"] for manifest in manifests}
    for column in columns:
        assert db.execute(f'SELECT count("{column}") FROM batches').fetchone()[0] > 0, column  # noqa: S608
    for manifest in manifests:
        row = got[manifest["batchId"]]
        assert (row["source"], row["filename"], row["rowCount"], row["submittedAt"], row["exportedAt"],
                row["trigger"]) == (manifest["source"], manifest["filename"], manifest["rowCount"],
                                    manifest["submittedAt"], manifest["exportedAt"], manifest["trigger"])
        assert (row["customer"] or {}).get("userId") == (manifest["customer"] or {}).get("userId")
        assert (row["workbookId"], row["spaceId"], row["environmentId"]) == (
            manifest.get("workbookId"), manifest.get("spaceId"), manifest.get("environmentId"))
        # a list of structs, as the manifest lists them (fields the manifest lacks read as null)
        assert [{k: v for k, v in sheet.items() if k in wrote} for sheet, wrote in zip(
            row["sheets"] or [], manifest.get("sheets") or [], strict=True)] == (manifest.get("sheets") or [])
        assert (row["schema"], row["schemaChange"]) == (manifest.get("schema"), manifest.get("schemaChange"))
    legacy = [manifest for manifest in manifests if manifest["source"] == "legacy"]
    for manifest in legacy:
        customer = manifest["batch"].get("__endUser__")
        assert (got[manifest["batchId"]]["customer"] or {}).get("id") == (customer or {}).get("id")
    two_sheets = got[platform[0].job_id]
    assert [(sheet["slug"], sheet["rowCount"]) for sheet in two_sheets["sheets"]] == [("customers", 12), ("orders", 30)]


def test_the_views_come_from_the_template_so_a_renamed_column_reads_nothing(exported: Any) -> None:
    run, out, _ = exported
    template = run.deployment.template
    rows = template.resources["RowsTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    original = rows[1]["Name"]
    rows[1]["Name"] = "batch_id"  # renamed in the template, not in the data
    try:
        db = connect(template, out, run.deployment.ref, run.deployment.getatt)
        assert db.execute("SELECT count(batch_id), count(*) FROM rows").fetchone()[0] == 0
    finally:
        rows[1]["Name"] = original
    assert set(table_views(template, out, run.deployment.ref, run.deployment.getatt)) == {"rows", "batches",
                                                                                          "schemas"}


def test_the_rows_table_needs_the_openx_serde_and_its_key_mappings(exported: Any) -> None:
    """What Athena's engine does with these columns: the Hive JSON SerDe fails on `raw` (a list) and `mapped`,
    `values`, `metadata` (objects) in string columns; the OpenX SerDe with exact keys reads a camelCase key only
    through its mapping."""
    run, out, _ = exported
    serde = run.deployment.template.resources["RowsTable"]["Properties"]["TableInput"]["StorageDescriptor"][
        "SerdeInfo"]
    saved = copy.deepcopy(serde)

    def rows(sql: str) -> Any:
        return connect(run.deployment.template, out, run.deployment.ref, run.deployment.getatt).execute(sql)

    try:
        serde.clear()
        serde["SerializationLibrary"] = "org.apache.hive.hcatalog.data.JsonSerDe"
        assert rows("SELECT count(id) FROM rows").fetchone()[0] > 0  # scalar columns read
        for column in ("raw", "mapped", '"values"', "metadata"):
            with pytest.raises(duckdb.Error, match="must be a scalar json value"):
                rows(f"SELECT {column} FROM rows").fetchall()  # noqa: S608
        serde.update(copy.deepcopy(saved))
        del serde["Parameters"]["mapping.createdat"]
        del serde["Parameters"]["mapping.sheetid"]
        assert rows("SELECT count(createdAt), count(updatedAt) FROM rows").fetchone()[0] == 0
        assert rows("SELECT count(sheetId), count(sheet) FROM rows").fetchone()[0] == 0
    finally:
        serde.clear()
        serde.update(saved)
    assert rows("SELECT count(createdAt), count(sheetId) FROM rows").fetchone() > (0, 0)


def test_the_example_queries_run_and_answer(exported: Any, db: Any) -> None:
    """Every documented query answers over both sources' objects; those of one source or both answer what the
    objects hold."""
    run, _, platform = exported
    queries = example_queries(OUTPUT)
    documented = blocks("docs/output.md", "### Example queries", "sql")
    assert [sql for _, sql in queries] == [b.text.strip() for b in documented]
    assert len(queries) == 9
    medium = run.emulator.samples["medium"]
    answers = {}
    for title, sql in queries:
        answers[title] = db.execute(sql.replace("<batchId>", medium)).fetchall()
        assert answers[title], title
    rows_of_one = answers[queries[0][0]]
    assert [row[0] for row in rows_of_one] == sorted(row["sequence"] for row in run.emulator.state.rows(medium))
    per_sheet = {(workbook, sheet): (records, invalid) for workbook, sheet, records, invalid in answers[queries[6][0]]}
    assert per_sheet == {(export.manifest.filename, sheet.slug): (
        sheet.row_count, len([row for row in export.rows_of(sheet.slug) if not row["valid"]]))
        for export in platform for sheet in export.manifest.sheets if sheet.row_count}
    legacy_rows = sum(len(run.emulator.state.rows(batch_id)) for batch_id in run.result.exported)
    by_source = {source: rows for source, rows, *_ in answers[queries[7][0]]}
    platform_rows = sum(len(export.rows) for export in platform)
    deleted = db.execute("SELECT count(*) FROM rows WHERE deleted").fetchone()[0]
    assert by_source == {"legacy": legacy_rows - deleted, "platform": platform_rows}
    [(batch_id, filename, _, change, sheets)] = answers[queries[8][0]]  # the one import that changed shape
    assert (filename, sheets) == ("renamed.csv", None)
    manifest = db.execute("SELECT schemaChange FROM batches WHERE batchId = ?", [batch_id]).fetchone()[0]
    assert change == manifest
    assert "quantity" in change["added"]
    assert "qty" in change["removed"]


def test_the_schemas_table_reads_one_row_per_stored_schema(exported: Any, db: Any) -> None:
    _, out, _ = exported
    documents = json_lines(sorted(out.rglob("schemas/*/*/*.json")))
    assert len(documents) == 2  # the samples' template, then the renamed one

    got = db.execute("SELECT source, slug, fingerprint, fields FROM schemas ORDER BY fingerprint").fetchall()

    assert got == sorted(((d["source"], d["slug"], d["fingerprint"], d["fields"]) for d in documents),
                         key=lambda row: row[2])
    fingerprints = {row[0] for row in db.execute("SELECT schema.fingerprint FROM batches").fetchall()} - {None}
    assert fingerprints == {d["fingerprint"] for d in documents}
