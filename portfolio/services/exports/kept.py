"""Exports written once, when a snapshot's tables are first stored, and sent from then on.

A snapshot never changes, so the export asked for most, its projects CSV, is written when its
tables are stored and kept compressed beside them (`snapshot_export`): at 100,000 projects
sending the kept copy takes a tenth of the time writing it does (README, "Performance"). A kept
copy is sent only while its version is the writer's current one (KEPT_VERSION, moved on
whenever the CSV writer would write other bytes); otherwise, and for snapshots taken before
copies were kept, the CSV is written on request as before.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

from portfolio.services.exports.common import CHUNK_BYTES, DEFAULT_TABLE
from portfolio.services.exports.to_csv import table_csv
from portfolio.services.snapshots import SnapshotContent

KEPT_VERSION = 1
PROJECTS_CSV = f"{DEFAULT_TABLE}.csv"
# zlib's fastest level: a third of the time of its default for a copy 10% larger (measured).
KEPT_LEVEL = 1


def projects_csv(content: SnapshotContent) -> Iterator[bytes]:
    """Yield a snapshot's projects table as its CSV export, written from its tables."""
    return table_csv(content, DEFAULT_TABLE)


# Each export kept with a snapshot's tables, by name, and what writes it.
KEPT_WRITERS: dict[str, Callable[[SnapshotContent], Iterator[bytes]]] = {
    PROJECTS_CSV: projects_csv}


def kept_exports(content: SnapshotContent) -> dict[str, tuple[int, bytes, int]]:
    """Return the exports to keep with a snapshot's tables: name -> (version, zlib, size)."""
    return {name: _compressed(write(content)) for name, write in KEPT_WRITERS.items()}


def _compressed(chunks: Iterator[bytes]) -> tuple[int, bytes, int]:
    """Return written chunks as a kept copy: (this writer's version, zlib bytes, size)."""
    compressor = zlib.compressobj(KEPT_LEVEL)
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        parts.append(compressor.compress(chunk))
    parts.append(compressor.flush())
    return KEPT_VERSION, b"".join(parts), size


def kept_copy(content: SnapshotContent, name: str) -> bytes | None:
    """Return the kept copy of an export (zlib) if the current writer's version wrote it."""
    found = content.kept.get(name)
    return found[1] if found is not None and found[0] == KEPT_VERSION else None


def inflated(payload: bytes) -> Iterator[bytes]:
    """Yield a kept copy's bytes a chunk at a time."""
    inflater = zlib.decompressobj()
    pending = payload
    while pending:
        yield inflater.decompress(pending, CHUNK_BYTES)
        pending = inflater.unconsumed_tail
    if tail := inflater.flush():
        yield tail
    if not inflater.eof:
        raise ValueError("a kept export is truncated")
