"""`make query SQL="..."` or `make query EXAMPLE=<n>`: SQL over ./out through template.yaml's Glue tables.

./out is the copy of the bucket `make run` leaves; the `rows` and `batches` tables read it with the columns,
SerDe and partition layout the template declares (DuckDB standing in for Athena, `json_extract_scalar`
included; see `tables`). `EXAMPLE=<n>` runs the n-th example query of docs/output.md. A `<batchId>` in the
SQL stands for a batch of the copy (`--batch`, else the one exported last).

Example:
    $ python -m flatfile_relay_devkit.local.query --example 4
    $ python -m flatfile_relay_devkit.local.query "SELECT count(*) AS rows FROM rows"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flatfile_relay.aws import AwsClients
from flatfile_relay_devkit.local.deployment import LocalDeployment
from flatfile_relay_devkit.local.tables import EXAMPLES, connect, example_queries
from flatfile_relay_devkit.local.template import Template

__all__ = ["latest_batch", "main", "run_query"]


def run_query(root: Path, out: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of `sql` over the copy in `out`, through the template's Glue tables.

    The tables' locations are resolved with the template's defaults (the `ExportPrefix` `make run` uses);
    the bucket name does not matter locally: `out` is its copy.
    """
    template = Template.load(root / "template.yaml")
    names = LocalDeployment(template=template, clients=AwsClients(), parameters=template.parameter_defaults())
    answer = connect(template, out, names.ref, names.getatt).execute(sql)
    return [column[0] for column in answer.description], answer.fetchall()


def latest_batch(out: Path) -> str | None:
    """The batch of the copy exported last (its manifest's `exportedAt`), or None without any."""
    manifests = [json.loads(path.read_text(encoding="utf-8")) for path in out.glob("**/manifests/*.json")]
    if not manifests:
        return None
    return str(max(manifests, key=lambda manifest: (manifest["exportedAt"], manifest["batchId"]))["batchId"])


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m flatfile_relay_devkit.local.query` (what `make query` calls)."""
    parser = argparse.ArgumentParser(prog="python -m flatfile_relay_devkit.local.query",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("sql", nargs="?", help="the query (tables rows and batches)")
    parser.add_argument("--example", type=int, help=f"run the n-th example query of {EXAMPLES}")
    parser.add_argument("--batch", help="the batch id <batchId> stands for (default: the one exported last)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="the local copy (default ./out)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project folder holding template.yaml")
    args = parser.parse_args(argv)
    examples = example_queries((args.root / EXAMPLES).read_text(encoding="utf-8"))
    if (args.sql is None) == (args.example is None):
        parser.error(f'give SQL or --example N (1-{len(examples)}): make query SQL="..." or make query EXAMPLE=1')
    if args.example is not None and not 1 <= args.example <= len(examples):
        parser.error(f"there are {len(examples)} example queries in {EXAMPLES}: EXAMPLE is 1 to {len(examples)}")
    title, sql = examples[args.example - 1] if args.example else ("", args.sql)
    batch = args.batch or latest_batch(args.out)
    if batch is None:
        print(f"error: {args.out}/ holds no export: run `make run` first", file=sys.stderr)
        return 1
    if title:
        print(f"-- {title} ({EXAMPLES}, example {args.example})", flush=True)
    if "<batchId>" in sql:
        print(f"-- <batchId> = {batch}", flush=True)
    import duckdb  # a development dependency, like the tables

    try:
        columns, rows = run_query(args.root, args.out, sql.replace("<batchId>", batch))
    except duckdb.Error as error:  # names the problem in the SQL
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join("NULL" if value is None else str(value) for value in row))
    print(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
