"""Parquet: one table, typed, with the snapshot's metadata in the schema."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from portfolio.services.exports.common import (
    DEFAULT_TABLE,
    PARQUET_ROW_GROUP,
    named_table,
    snapshot_header,
)
from portfolio.services.snapshots import (
    Column,
    SnapshotContent,
)


def _arrow_type(column: Column):
    import pyarrow as pa

    return {
        "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
        "date": pa.date32(), "datetime": pa.timestamp("s", tz="UTC"),
        "list": pa.list_(pa.string()),
    }.get(column.type, pa.string())


def write_parquet(content: SnapshotContent, out: BinaryIO, table: str = DEFAULT_TABLE) -> None:
    """Write one table as Parquet in row groups, with the snapshot's metadata in the schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = named_table(content, table, numbers_as_text=False)
    specs = data.column_specs()
    schema = pa.schema(
        [pa.field(c.name, _arrow_type(c), metadata={"description": c.description} if
                  c.description else None) for c in specs],
        metadata={"portfolio.snapshot": json.dumps(snapshot_header(content), sort_keys=True),
                  "portfolio.table": table},
    )
    # Text columns are read as strings first, then cast: dates and times are ISO text.
    staged = [pa.string() if c.type in ("date", "datetime") else _arrow_type(c) for c in specs]

    def batch_of(rows: list[list[Any]]) -> Any:
        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in specs]
        arrays = [pa.array(list(values), type=kind).cast(field.type)
                  for values, kind, field in zip(columns, staged, schema, strict=True)]
        return pa.record_batch(arrays, schema=schema)

    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        rows = data.rows
        wrote = False
        while batch := [row for _, row in zip(range(PARQUET_ROW_GROUP), rows, strict=False)]:
            writer.write_batch(batch_of(batch), row_group_size=PARQUET_ROW_GROUP)
            wrote = True
        if not wrote:
            writer.write_batch(batch_of([]))
