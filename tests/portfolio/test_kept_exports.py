"""A kept export is sent only while its writer writes the same bytes: the version says so."""

from __future__ import annotations

import hashlib
from typing import Any

from portfolio.services.exports.kept import KEPT_VERSION, kept_exports, projects_csv
from portfolio.services.snapshots.content import SnapshotContent
from portfolio.services.snapshots.schema import CONTRIBUTION_PREFIX, PROJECTS, TABLE_BY_NAME
from portfolio.services.snapshots.writer import PayloadWriter

# The projects CSV of `fixed_content()` as the writer of KEPT_VERSION writes it. A change to
# the CSV writer that fails here must move KEPT_VERSION on (so that copies kept by the old
# writer are no longer sent) and pin the new digest beside it.
WRITTEN_BY_VERSION = {1: "05f3b406820ad2878c2b8ea01c8d83018e090aaef6ba9b9270c4ab6a462d48f8"}

# One value of each column type, twice over (the second row has the awkward ones).
VALUES: dict[str, tuple[Any, Any]] = {
    "string": ("Housing data hub", '=SUM(1) with "quotes", commas, a\nline break and é'),
    "integer": (1, None),
    "number": (41.235, -0.5),
    "boolean": (True, False),
    "date": ("2026-04-01", None),
    "datetime": ("2026-04-01T09:30:00Z", None),
    "list": (["E09000001", "E09000002"], []),
}


def fixed_content() -> SnapshotContent:
    """Return a small snapshot with two organisations and two projects, every type present."""
    writer = PayloadWriter()
    writer.header({"label": "golden", "revision": 7})
    organisations = TABLE_BY_NAME["organisations"]
    writer.table("organisations", [c.name for c in organisations.columns])
    writer.rows([["E09000001", "City of London", "borough"],
                 ["GLA", "Greater London Authority", "gla"]])
    columns = [c.name for c in PROJECTS.columns] + [f"{CONTRIBUTION_PREFIX}reach"]
    writer.table("projects", columns)
    writer.rows([_row(columns, 0), _row(columns, 1)])
    return writer.finish()


def _row(columns: list[str], which: int) -> list[Any]:
    """Return one project row: a value of each column's type (the owner an organisation)."""
    row = [VALUES[PROJECTS.column(name).type][which] for name in columns]
    row[columns.index("organisation")] = ("E09000001", "GLA")[which]
    return row


def test_the_kept_projects_csv_is_the_bytes_its_version_names() -> None:
    written = b"".join(projects_csv(fixed_content()))
    digest = hashlib.sha256(written).hexdigest()
    assert WRITTEN_BY_VERSION.get(KEPT_VERSION) == digest, (
        "the projects CSV writer now writes other bytes: move KEPT_VERSION on in "
        f"portfolio/services/exports/kept.py and pin {digest} for it here")


def test_a_kept_copy_carries_its_version_and_the_written_bytes() -> None:
    import zlib

    content = fixed_content()
    (version, payload, size), = kept_exports(content).values()
    written = b"".join(projects_csv(content))
    assert (version, zlib.decompress(payload), size) == (KEPT_VERSION, written, len(written))
