"""What every export format shares: its constants, named tables, spooling and fixed-time zips."""

from __future__ import annotations

import queue
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import IO, Any, BinaryIO

from portfolio.services.snapshots import (
    Column,
    SnapshotContent,
    TableData,
    canonical_line,
    organisation_names,
)

DEFAULT_TABLE = "projects"

CHUNK_BYTES = 1 << 20
CSV_BATCH_ROWS = 2000
PARQUET_ROW_GROUP = 65_536
XLSX_MAX_ROWS = 1_048_576
XLSX_BATCH_ROWS = 2000
LICENCE = {
    "name": "OGL-UK-3.0",
    "title": "Open Government Licence v3.0",
    "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
}


# Single-table files name the organisations beside their codes: people read names, joins use
# codes. The code column stays; its name column follows it.
NAMED_CODES = {"projects": "organisation", "datasets": "publisher", "partners": "organisation"}


# The agreements table names its parties in a list ("GLA:controller"), which no foreign key
# reaches: every file of it, the Data Package's too, names them beside ("Name:role").
PARTIES = "parties"
PARTIES_TABLE = "agreements"


def named_table(content: SnapshotContent, table: str, *, numbers_as_text: bool) -> TableData:
    """Return a table with an `<code column>_name` column after its organisation code."""
    if table == PARTIES_TABLE:
        return with_party_names(content.table(table, numbers_as_text=numbers_as_text),
                                organisation_names(content))
    code = NAMED_CODES.get(table)
    if code is None:
        return content.table(table, numbers_as_text=numbers_as_text)
    names = organisation_names(content)
    # The organisations table comes first in a snapshot, so the named table is read after it.
    data = content.table(table, numbers_as_text=numbers_as_text)
    if code not in data.columns:
        return data
    at = data.columns.index(code) + 1
    name = f"{code}_name"
    spec = replace(data.spec, columns=(*data.spec.columns, Column(
        name, "string", f"Name of the organisation in {code}.")))

    def rows() -> Iterator[list[Any]]:
        for row in data.rows:
            row.insert(at, names.get(row[at - 1]))
            yield row

    lines = None
    if data.lines is not None:
        texts = {canonical_line(code): b"," + canonical_line(name) for code, name in names.items()}
        lines = _named_lines(data.lines, at, texts)
    return TableData(spec, [*data.columns[:at], name, *data.columns[at:]], rows(), lines)


def with_party_names(data: TableData, names: dict[str, str]) -> TableData:
    """Return the agreements table with `parties_names` ("Name:role") after its `parties`."""
    if PARTIES not in data.columns:
        return data
    at = data.columns.index(PARTIES) + 1
    name = f"{PARTIES}_names"
    spec = replace(data.spec, columns=(*data.spec.columns, Column(
        name, "list", "The parties' organisation names with their role, Name:role, in the "
        "order of parties.")))

    def named(party: str) -> str:
        code, _, role = party.rpartition(":")
        return f"{names.get(code, code)}:{role}"

    def rows() -> Iterator[list[Any]]:
        for row in data.rows:
            parties = row[at - 1]
            row.insert(at, None if parties is None else [named(p) for p in parties])
            yield row

    # No canonical lines: a list cell is not rewritten in place (a small table, parsed).
    return TableData(spec, [*data.columns[:at], name, *data.columns[at:]], rows())


# One cell of a canonical line: a string, a list of strings, or a number, true, false or null.
# Loops unrolled ([^"]*(?:\\.[^"]*)*) and a literal at the start, for the regex engine's speed.
_STRING = rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_CELL = rb"(?:[^,\"[\]\n]+|" + _STRING + rb"|\[(?:" + _STRING + rb",?)*\]|)"


def _named_lines(runs: Iterator[bytes], at: int, texts: dict[bytes, bytes]) -> Iterator[bytes]:
    """Yield runs of canonical lines with each code's name written after it (a cell at `at`)."""
    # Splitting "\n" + run on (the cells before the code)(the code) leaves
    # [b"", before, code, rest of the line, before, code, ...].
    cut = re.compile(rb"(\n\[(?:" + _CELL + rb",){" + str(at - 1).encode() + rb"})(" + _CELL
                     + rb")")
    for run in runs:
        parts = cut.split(b"\n" + run)
        codes = parts[2::3]
        if len(codes) != run.count(b"\n") + 1:
            raise ValueError("a canonical line does not have the table's columns")
        parts[2::3] = [code + texts.get(code, b",null") for code in codes]
        yield b"".join(parts)[1:]


def copy_chunks(chunks: Iterator[bytes], out: IO[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)


def spooled(write: Callable[[BinaryIO], None]) -> Iterator[bytes]:
    """Write a format that needs a seekable file to a temporary file, then yield it."""
    with tempfile.TemporaryFile() as spool:
        write(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk



def snapshot_header(content: SnapshotContent) -> dict[str, Any]:
    """Return what an export says about its snapshot (no hash for a live export of one table:
    its content is not the whole portfolio's).
    """
    header = {"id": content.id, "content_hash": f"sha256:{content.content_hash}",
              **content.meta, "row_counts": content.row_counts}
    if not content.complete:
        del header["content_hash"]
    return header





class FixedTimeZip(zipfile.ZipFile):
    """A zip whose members all carry one given time and fixed attributes (stable bytes)."""

    def __init__(self, file: Any, moment: datetime, **kwargs: Any) -> None:
        super().__init__(file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True, **kwargs)
        self.moment = (max(moment.year, 1980), moment.month, moment.day, moment.hour,
                       moment.minute, moment.second)

    def member(self, name: str) -> zipfile.ZipInfo:
        """Return the header of a member written now."""
        info = zipfile.ZipInfo(name, date_time=self.moment)
        info.compress_type = zipfile.ZIP_DEFLATED
        # A member opened from a ZipInfo compresses at the info's level, not the archive's
        # (named compress_level from Python 3.13, _compresslevel before).
        setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel",
                self.compresslevel)
        info.create_system = 3
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any,
                 **kwargs: Any) -> None:
        """Write a member from bytes or text with the fixed time."""
        name = (zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo)
                else zinfo_or_arcname)
        super().writestr(self.member(name), data)

    def write(self, filename: Any, arcname: Any = None, *args: Any,
              **kwargs: Any) -> None:
        """Copy a file in as a member with the fixed time, without reading it whole."""
        with open(filename, "rb") as source, self.open(
            self.member(str(arcname or filename)), "w", force_zip64=True
        ) as target:
            shutil.copyfileobj(source, target, CHUNK_BYTES)


@contextmanager
def deflating(archive: zipfile.ZipFile,
              member: zipfile.ZipInfo) -> Iterator[Callable[[bytes], None]]:
    """Open a zip member whose compression runs in a second thread, beside the writer's work.

    zlib lets go of the interpreter while it compresses, so the deflating (as long as writing
    the text, or longer) overlaps with making the next chunk. The bytes are the same.
    """
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
    failed: list[BaseException] = []
    target = archive.open(member, "w", force_zip64=True)

    def deflate() -> None:
        while (chunk := chunks.get()) is not None:
            if not failed:
                try:
                    target.write(chunk)
                except BaseException as error:  # handed back to the writer below
                    failed.append(error)

    worker = threading.Thread(target=deflate, name="export-deflate", daemon=True)
    worker.start()

    def put(chunk: bytes) -> None:
        if failed:
            raise failed[0]
        chunks.put(chunk)

    try:
        yield put
    finally:
        chunks.put(None)
        worker.join()
        target.close()
    if failed:
        raise failed[0]
