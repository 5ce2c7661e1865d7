"""Reading a snapshot back: its tables, a block at a time, as `SnapshotContent`."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from portfolio.errors import Invalid, NotFound
from portfolio.services.snapshots.schema import (
    FORMAT,
    FORMAT_VERSION,
    INFLATE_BYTES,
    TABLE_BY_NAME,
    TABLE_NAMES,
    Column,
    TableSpec,
)


@dataclass
class TableData:
    """One table of a snapshot: its spec, its column names and an iterator over its rows."""

    spec: TableSpec
    columns: list[str]
    rows: Iterator[list[Any]]
    # The same rows as runs of canonical lines ("\n"-separated JSON arrays), for writers that
    # rewrite the text instead of parsing it; reading either one advances both.
    lines: Iterator[bytes] | None = None

    def column_specs(self) -> list[Column]:
        """Return the typed columns in file order."""
        return [self.spec.column(name) for name in self.columns]


def _events(compressed: bytes) -> Iterator[tuple[str, Any]]:
    """Yield ("header", dict) and ("rows", raw lines) of the tables in order, a block at a time."""
    inflater = zlib.decompressobj()
    pending = b""
    for start in range(0, len(compressed), INFLATE_BYTES):
        pending += inflater.decompress(compressed[start:start + INFLATE_BYTES])
        cut = pending.rfind(b"\n") + 1
        if cut:
            yield from _split_block(pending[:cut])
            pending = pending[cut:]
    pending += inflater.flush()
    if not inflater.eof or pending:
        raise ValueError("the payload is truncated")


def _split_block(block: bytes) -> Iterator[tuple[str, Any]]:
    """Split whole lines: an object line is a header; a run of array lines is a batch of rows."""
    position, size = 0, len(block)
    while position < size:
        if block[position:position + 1] == b"{":
            end = block.index(b"\n", position)
            yield "header", orjson.loads(block[position:end])
            position = end + 1
            continue
        # A raw newline never occurs inside a JSON line, so "\n{" can only start a header.
        following = block.find(b"\n{", position)
        stop = size if following < 0 else following + 1
        yield "rows", block[position:stop - 1]
        position = stop


def _numbers_as_text(data: bytes) -> Any:
    """Parse JSON keeping numbers as their canonical text (what a CSV cell needs anyway)."""
    return json.loads(data, parse_float=str, parse_int=str)


def parse_lines(lines: bytes, *, numbers_as_text: bool = False) -> list[list[Any]]:
    """Parse a run of canonical lines into rows."""
    loads = _numbers_as_text if numbers_as_text else orjson.loads
    rows: list[list[Any]] = loads(b"[" + lines.replace(b"\n", b",") + b"]")
    return rows


class _Peekable:
    """An iterator with one item of look-ahead."""

    def __init__(self, source: Iterator[tuple[str, Any]]) -> None:
        self._source = source
        self.peek = next(source, None)

    def take(self) -> tuple[str, Any] | None:
        item = self.peek
        self.peek = next(self._source, None)
        return item


def _table_lines(events: _Peekable) -> Iterator[bytes]:
    """Yield the current table's runs of canonical lines, unparsed."""
    while events.peek is not None and events.peek[0] == "rows":
        item = events.take()
        assert item is not None
        yield item[1]


def _table_rows(lines: Iterator[bytes], *, numbers_as_text: bool) -> Iterator[list[Any]]:
    """Yield the rows of runs of lines, parsing each run with one call."""
    for run in lines:
        yield from parse_lines(run, numbers_as_text=numbers_as_text)


@dataclass
class SnapshotContent:
    """A snapshot's canonical serialisation: its first line and its compressed tables."""

    header: bytes
    body: bytes  # zlib
    content_hash: str
    body_hash: str = ""
    id: int | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    size: int | None = None  # bytes of the canonical serialisation, when known
    # False for a live export's content of some tables only: its hash is not the portfolio's.
    complete: bool = True
    # Exports written when the tables were stored: name -> (writer's version, zlib bytes).
    kept: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    _meta: dict[str, Any] | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """Return the metadata line: label, author, time, profile, method, revision."""
        if self._meta is None:
            header = orjson.loads(self.header.split(b"\n", 1)[0] or b"{}")
            if header.get("format") != FORMAT:
                raise ValueError("not a portfolio snapshot payload")
            if header.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"snapshot format version {header.get('format_version')} "
                                 f"is not supported (this program reads {FORMAT_VERSION})")
            self._meta = header["meta"]
        return self._meta

    @property
    def created_at(self) -> datetime:
        """Return the snapshot's time (UTC)."""
        return datetime.strptime(self.meta["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC)

    def tables(self, *, numbers_as_text: bool = False) -> Iterator[TableData]:
        """Yield the tables in order; each table's rows must be read before the next table.

        With numbers_as_text, numbers stay as their canonical text, which is what a CSV
        writer would make of them anyway, minus the work of parsing and formatting floats.
        """
        events = _Peekable(_events(self.body))
        while events.peek is not None:
            item = events.take()
            assert item is not None
            kind, value = item
            if kind == "header":
                lines = _table_lines(events)
                yield TableData(TABLE_BY_NAME[value["table"]], value["columns"],
                                _table_rows(lines, numbers_as_text=numbers_as_text), lines)
            # otherwise: rows of a table the caller did not read, never parsed

    def table(self, name: str, *, numbers_as_text: bool = False) -> TableData:
        """Return one table, inflating only as far as it."""
        if name not in TABLE_BY_NAME:
            raise Invalid({"table": f"no table {name!r}; choose one of {', '.join(TABLE_NAMES)}"})
        for data in self.tables(numbers_as_text=numbers_as_text):
            if data.spec.name == name:
                return data
        raise NotFound("snapshot table", name)

    def records(self, name: str) -> list[dict[str, Any]]:
        """Return a table's rows as dictionaries (small tables and tests)."""
        data = self.table(name)
        return [dict(zip(data.columns, row, strict=True)) for row in data.rows]

    def canonical_bytes(self) -> Iterator[bytes]:
        """Yield the canonical serialisation, inflated a block at a time."""
        yield self.header
        inflater = zlib.decompressobj()
        for start in range(0, len(self.body), INFLATE_BYTES):
            yield inflater.decompress(self.body[start:start + INFLATE_BYTES])
        yield inflater.flush()
        if not inflater.eof:
            raise ValueError("the payload is truncated")
