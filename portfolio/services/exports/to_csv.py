"""CSV: one table, UTF-8, RFC 4180, streamed, text cells neutralised.

Most rows are rewritten from their canonical JSON text without being parsed: a number, true or
false is the same text in both, and a string that holds no escape, no comma and nothing
`neutralise` would change is its text without the quotes. A run of lines that might hold any of
those is parsed and written by the csv module instead. Both give the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from portfolio.services.exports.common import CHUNK_BYTES, CSV_BATCH_ROWS, named_table
from portfolio.services.snapshots import (
    Column,
    SnapshotContent,
    TableData,
    parse_lines,
)
from portfolio.text import neutralise

# Text the rewrite cannot pass through as it stands: an escape; DEL, a C1 character, U+FFFE or
# U+FFFF (which `neutralise` strips); a string starting with a formula character, an apostrophe
# (`neutralise` may add another) or a character from U+2000-U+2FFF or U+E000-U+FFFF (where the
# invisible and full-width ones are). Each is its own search: a regex starting with one literal
# byte, or a byte search, is many times quicker than one regex of alternatives.
_C1 = re.compile(rb"\xc2[\x80-\x9f]")
_NONCHARACTER = re.compile(rb"\xef\xbf[\xbe\xbf]")
_FORMULA = re.compile(rb'"[=+\-@\'\xe2\xef]')
# A list holding a comma (its cell would be quoted whole): lists open after a comma, or first
# in a row.
_COMMA_IN_LIST = re.compile(rb',\[(?:"[^",]*",)*"[^"]*,')
_COMMA_IN_FIRST_LIST = re.compile(rb'\[\[(?:"[^",]*",)*"[^"]*,')
# A comma between two strings of a list: the strings of a row stand as \x00 in its structure,
# and a list's structure holds nothing but them and commas.
_LIST_COMMA = re.compile(rb"\x00,(?=\x00[,\x00]*\])")


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


def plain(lines: bytes) -> bool:
    """Tell whether canonical lines can be rewritten as CSV without parsing them."""
    return (b"\\" not in lines and b"\x7f" not in lines
            and (b"\xc2" not in lines or _C1.search(lines) is None)
            and _FORMULA.search(lines) is None
            # U+FFFE and U+FFFF, which `neutralise` strips wherever they are.
            and (b"\xef\xbf" not in lines or _NONCHARACTER.search(lines) is None))


def rewrite(lines: bytes, width: int) -> bytes | None:
    """Return plain canonical lines of `width` cells as CSV rows (each ending in CRLF), or None
    where a list holds a comma.
    """
    rows = lines.count(b"\n") + 1
    # Only the rows' own brackets: no list, and no bracket in a string.
    if lines.count(b"[") == rows and lines.count(b"]") == rows:
        return _rewrite_bare(lines, rows, width) or _rewrite_quoted(lines)
    if _COMMA_IN_LIST.search(lines) or _COMMA_IN_FIRST_LIST.search(lines):
        return None
    return _rewrite_quoted(lines)


def _rewrite_bare(lines: bytes, rows: int, width: int) -> bytes | None:
    """Rewrite rows of no list by dropping every quote (None where a string holds a comma)."""
    text = lines[1:-1].replace(b"]\n[", b"\r\n").replace(b",null", b",")
    text = text.replace(b"\nnull,", b"\n,").removeprefix(b"null").translate(None, b'"')
    # A comma in a string would be one too many in its row.
    return text + b"\r\n" if text.count(b",") == rows * (width - 1) else None


def _rewrite_quoted(lines: bytes) -> bytes:
    """Rewrite lines string by string, quoting the strings that hold a comma."""
    parts = lines.split(b'"')
    strings = parts[1::2]
    # Between the quotes: numbers, null, true, false, commas and brackets; \x00 marks a string.
    structure = b"\x00".join(parts[0::2])
    commas_in_strings = lines.count(b",") != structure.count(b",")
    structure = structure[1:-1].replace(b"]\n[", b"\r\n").replace(b"null", b"") + b"\r\n"
    structure = _LIST_COMMA.sub(b"\x00;", structure).translate(None, b"[]")
    if commas_in_strings:
        parts[1::2] = [b'"' + s + b'"' if b"," in s else s for s in strings]
    parts[0::2] = structure.split(b"\x00")
    return b"".join(parts)


def _runs(lines: bytes) -> Iterator[tuple[bool, bytes]]:
    """Split canonical lines into runs that are plain or not, in order."""
    if plain(lines):
        yield True, lines
        return
    run: list[bytes] = []
    kind = True
    for line in lines.split(b"\n"):
        if plain(line) != kind and run:
            yield kind, b"\n".join(run)
            run = []
        kind = plain(line)
        run.append(line)
    if run:
        yield kind, b"\n".join(run)


def _pieces(runs: Iterator[bytes]) -> Iterator[bytes]:
    """Cut runs of lines at line ends into pieces of about a chunk, so that chunks stay small."""
    for run in runs:
        start = 0
        while len(run) - start > CHUNK_BYTES:
            cut = run.rfind(b"\n", start, start + CHUNK_BYTES)
            if cut <= start:
                cut = run.find(b"\n", start + CHUNK_BYTES)
                if cut < 0:
                    break
            yield run[start:cut]
            start = cut + 1
        yield run[start:] if start else run


def _batches(data: TableData, convert: Callable[[list[Any]], list[Any]]) -> Iterator[
        tuple[list[list[Any]] | None, bytes]]:
    """Yield the table as rows to write with the csv module, or as CSV text already written."""
    if data.lines is None:
        rows = data.rows
        while batch := [convert(row) for row in islice(rows, CSV_BATCH_ROWS)]:
            yield batch, b""
        return
    for lines in _pieces(data.lines):
        for is_plain, run in _runs(lines):
            text = rewrite(run, len(data.columns)) if is_plain else None
            if text is not None:
                yield None, text
            else:
                yield [convert(row) for row in parse_lines(run, numbers_as_text=True)], b""


def csv_chunks(data: TableData, *, safe: bool = True, digest: Any = None) -> Iterator[bytes]:
    """Yield a table as UTF-8 CSV (header first), a megabyte or so at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(data.columns)
    convert = _tabular(data.column_specs(), safe=safe)
    parts = [buffer.getvalue().encode("utf-8")]
    size = len(parts[0])
    buffer.seek(0)
    buffer.truncate()
    for rows, text in _batches(data, convert):
        if rows is not None:
            writer.writerows(rows)
            text = buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
        parts.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            yield _chunk(parts, digest)
            parts, size = [], 0
    if size:
        yield _chunk(parts, digest)


def table_csv(content: SnapshotContent, table: str) -> Iterator[bytes]:
    """Yield one table of a snapshot as its CSV export (organisation names beside codes)."""
    return csv_chunks(named_table(content, table, numbers_as_text=True))


def _chunk(parts: list[bytes], digest: Any) -> bytes:
    """Join written parts into one chunk, adding it to the digest."""
    chunk = b"".join(parts)
    if digest is not None:
        digest.update(chunk)
    return chunk
