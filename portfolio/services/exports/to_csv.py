"""CSV: one table, UTF-8, RFC 4180, streamed, text cells neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from portfolio.services.exports.common import CHUNK_BYTES, CSV_BATCH_ROWS
from portfolio.services.snapshots import (
    Column,
    TableData,
)
from portfolio.text import neutralise


def _tabular(columns: list[Column], *, safe: bool) -> Callable[[list[Any]], list[Any]]:
    """Return a function that turns a snapshot row into CSV cells (in place, for speed)."""
    texts = [i for i, c in enumerate(columns) if c.type == "string"] if safe else []
    flags = [i for i, c in enumerate(columns) if c.type == "boolean"]
    lists = [i for i, c in enumerate(columns) if c.is_list]

    def convert(row: list[Any]) -> list[Any]:
        for i in texts:
            value = row[i]
            if value:
                row[i] = neutralise(value)
        for i in flags:
            value = row[i]
            if value is not None:
                row[i] = "true" if value else "false"
        for i in lists:
            value = row[i]
            if value is not None:
                # Only a cell's first character can start a formula.
                row[i] = neutralise(";".join(value)) if safe else ";".join(value)
        return row

    return convert


def csv_chunks(data: TableData, *, safe: bool = True, digest: Any = None) -> Iterator[bytes]:
    """Yield a table as UTF-8 CSV (header first), a megabyte or so at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(data.columns)
    convert = _tabular(data.column_specs(), safe=safe)
    rows = data.rows
    while True:
        batch = [convert(row) for row in islice(rows, CSV_BATCH_ROWS)]
        if batch:
            writer.writerows(batch)
        if buffer.tell() >= CHUNK_BYTES or not batch:
            chunk = buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if chunk:
                if digest is not None:
                    digest.update(chunk)
                yield chunk
        if not batch:
            return
