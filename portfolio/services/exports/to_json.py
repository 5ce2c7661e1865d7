"""JSON: the whole snapshot as one document, streamed one row object per line."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from portfolio.services.exports.common import CHUNK_BYTES, snapshot_header
from portfolio.services.snapshots import (
    SnapshotContent,
)


def json_chunks(content: SnapshotContent) -> Iterator[bytes]:
    """Yield the whole snapshot as one JSON document, one row object per line."""
    dumps = orjson.dumps
    parts: list[bytes] = [b'{"snapshot": ', dumps(snapshot_header(content)), b',\n"tables": {']
    size = 0
    first_table = True
    for data in content.tables():
        parts.append((b"" if first_table else b",") + b"\n" + dumps(data.spec.name) + b": [")
        first_table = False
        columns = data.columns
        separator = b"\n"
        for row in data.rows:
            text = dumps(dict(zip(columns, row, strict=True)))
            parts.append(separator)
            parts.append(text)
            separator = b",\n"
            size += len(text)
            if size >= CHUNK_BYTES:
                yield b"".join(parts)
                parts, size = [], 0
        parts.append(b"\n]")
    parts.append(b"\n}}\n")
    yield b"".join(parts)
