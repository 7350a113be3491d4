"""template.yaml's Glue tables over a local copy of the bucket, as DuckDB views, and the example queries of
docs/output.md.

The views are built from what the template declares (columns and their types, the SerDe and its properties,
the partition key, the location and `storage.location.template`), never from the data, so a column renamed
in the template and not in the data (or the other way round) shows up as a column of nulls, and a layout that
differs from the partition template finds no rows. DuckDB stands in for Athena locally; the example queries
use Athena's `json_extract_scalar`, which a DuckDB macro provides.

Each JSON SerDe is read the way Athena's engine (Trino) implements it, for what the relay's tables use:

- Hive JSON SerDe (`org.apache.hive.hcatalog.data.JsonSerDe`): a `string` column takes a scalar JSON value
  as text; an object or an array there fails the query ("value must be a scalar json value"), here too.
- OpenX JSON SerDe (`org.openx.data.jsonserde.JsonSerDe`): a `string` column takes any JSON value, an object
  or an array as its JSON text. With `case.insensitive` = `FALSE` a column reads the key named by its
  `mapping.<column>` property, else the key spelt as its lower-case name: exactly, no case folding.

What this cannot show: Athena itself (its engine's exact rendering of numbers inside JSON text, and the
non-deterministic results Athena's documentation warns of with the OpenX SerDe); docs/output.md says so.

Example:
    >>> glue_type("struct<id:string,name:string>")
    'STRUCT("id" VARCHAR, "name" VARCHAR)'
    >>> glue_type("array<struct<slug:string,rowCount:bigint>>")
    'STRUCT("slug" VARCHAR, "rowCount" BIGINT)[]'
    >>> example_queries("### Example queries\\n\\n1. Latest:\\n\\n```sql\\nSELECT 1;\\n```\\n")
    [('Latest', 'SELECT 1;')]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flatfile_relay_devkit.local.template import Template, resolve

_SCALARS = {"string": "VARCHAR", "boolean": "BOOLEAN", "bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE"}
HIVE_JSON = "org.apache.hive.hcatalog.data.JsonSerDe"
OPENX_JSON = "org.openx.data.jsonserde.JsonSerDe"
_QUERY = re.compile(r"^\d+\.\s+(?P<title>[^\n]+?):?\n+```sql\n(?P<sql>.*?)\n```", re.M | re.S)
#: Athena's (Trino's) JSON function, as DuckDB spells it
#: where the example queries are documented (a numbered list of ```sql blocks under "### Example queries")
EXAMPLES = "docs/output.md"
ATHENA_FUNCTIONS = (
    "CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)",
    "CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
    "SET lambda_syntax = 'ENABLE_SINGLE_ARROW'",  # Athena's lambdas: filter(sheets, s -> ...)
)


def glue_type(declared: str) -> str:
    """A Glue (Hive) column type as DuckDB's type: scalars, `struct<...>` and `array<...>` of any of them."""
    text = declared.strip()
    if text.startswith("struct<") and text.endswith(">"):
        fields = [field.split(":", 1) for field in _top_level(text[len("struct<"):-1])]
        return "STRUCT(" + ", ".join(f'"{name.strip()}" {glue_type(kind)}' for name, kind in fields) + ")"
    if text.startswith("array<") and text.endswith(">"):
        return glue_type(text[len("array<"):-1]) + "[]"
    if text not in _SCALARS:
        raise ValueError(f"no DuckDB type for the Glue type {declared!r}")
    return _SCALARS[text]


def _top_level(fields: str) -> list[str]:
    """`a:string,b:struct<c:int,d:int>` split at the commas outside `<...>`."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(fields):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(fields[start:index])
            start = index + 1
    return [*parts, fields[start:]]


def table_views(template: Template, local_root: Path, ref: Any, getatt: Any) -> dict[str, str]:
    """`CREATE VIEW` statements, by table name, reading the objects of `local_root` (a copy of the bucket
    whose keys are its paths) through each Glue table's declared schema. `ref`/`getatt` resolve the
    template's intrinsic functions (a `LocalDeployment`'s)."""
    views = {}
    for resource in template.of_type("AWS::Glue::Table").values():
        table = resolve(resource["Properties"]["TableInput"], ref, getatt)
        views[table["Name"]] = _view(table, local_root)
    return views


def _view(table: Mapping[str, Any], local_root: Path) -> str:
    storage = table["StorageDescriptor"]
    serde = storage["SerdeInfo"]["SerializationLibrary"]
    if serde not in (HIVE_JSON, OPENX_JSON):
        raise ValueError(f"table {table['Name']}: only the Hive and OpenX JSON SerDes are read locally")
    properties = storage["SerdeInfo"].get("Parameters") or {}
    exact = serde == OPENX_JSON and str(properties.get("case.insensitive", "TRUE")).upper() == "FALSE"
    columns = {}  # column -> (the JSON key it reads, the type read, the expression that makes its value)
    for column in storage["Columns"]:
        name, kind = column["Name"], glue_type(column["Type"])
        key = properties.get(f"mapping.{name.lower()}", name.lower()) if exact else name
        columns[name] = (key, "JSON" if kind == "VARCHAR" else kind, _text(key, serde) if kind == "VARCHAR" else None)
    location = _local(storage["Location"], local_root)
    partitions = table.get("PartitionKeys") or []
    parameters = table.get("Parameters") or {}
    if partitions:
        # the partition template, e.g. .../rows/submitted_date=${submitted_date}/ -> .../rows/submitted_date=*/
        pattern = _local(parameters["storage.location.template"], local_root)
        for key in partitions:
            pattern = pattern.replace("${" + key["Name"] + "}", "*")
        files = pattern.rstrip("/") + "/*/*" + (".gz" if parameters.get("compressionType") == "gzip" else "")
        hive_types = ", ".join(f"'{key['Name']}': '{glue_type(key['Type'])}'" for key in partitions)
        partitioning = f", hive_partitioning = true, hive_types = {{{hive_types}}}"
    else:
        files = location.rstrip("/") + "/**"  # every object under the location, as Athena reads it
        partitioning = ", hive_partitioning = false"
    declared = ", ".join(f"'{key}': '{kind}'" for key, kind, _ in dict.fromkeys(columns.values()))
    selected = ", ".join(f"{made or _quoted(key)} AS {_quoted(name)}" for name, (key, _, made) in columns.items())
    selected += "".join(f", {_quoted(key['Name'])}" for key in partitions)
    # the template's own names and a local path: no outside input
    source = f"read_json('{files}', format = 'newline_delimited', columns = {{{declared}}}{partitioning})"
    return f'CREATE OR REPLACE VIEW "{table["Name"]}" AS SELECT {selected} FROM {source}'  # noqa: S608


def _text(key: str, serde: str) -> str:
    """The expression a `string` column reads from the JSON value under `key` (read as DuckDB's JSON)."""
    value = _quoted(key)
    if serde == HIVE_JSON:  # Trino's Hive JSON SerDe: scalars only
        nested = f"error('Hive JSON SerDe, key {key}: varchar value must be a scalar json value')"
    else:  # OpenX: any value, an object or an array as its JSON text
        nested = f"CAST({value} AS VARCHAR)"
    return f"CASE WHEN json_type({value}) IN ('OBJECT', 'ARRAY') THEN {nested} ELSE {value} ->> '$' END"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _local(uri: str, local_root: Path) -> str:
    """`s3://bucket/key` as the path of the local copy (`local_root/key`)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// location: {uri!r}")
    return str(local_root / uri[len("s3://"):].partition("/")[2])


def example_queries(document: str) -> list[tuple[str, str]]:
    """(title, SQL) of each numbered query in the "Example queries" section of `document` (docs/output.md)."""
    section = document[document.index("### Example queries"):]
    following = re.search(r"\n#{2,3} ", section[4:])
    if following:
        section = section[:following.start() + 4]
    return [(match["title"].strip().rstrip(":"), match["sql"].strip()) for match in _QUERY.finditer(section)]


def connect(template: Template, local_root: Path, ref: Any, getatt: Any) -> Any:
    """A DuckDB connection with the views and Athena's JSON function (DuckDB is a development dependency)."""
    import duckdb

    connection = duckdb.connect()
    for statement in ATHENA_FUNCTIONS:
        connection.execute(statement)
    for statement in table_views(template, local_root, ref, getatt).values():
        connection.execute(statement)
    return connection
