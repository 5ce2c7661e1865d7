"""Writing a snapshot's canonical serialisation: JSON Lines, hashed and compressed as it goes."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, select
from sqlmodel import Session, col

from portfolio.models import (
    Assessment,
    Criterion,
    Dataset,
    Organisation,
    ProfileWeight,
    Project,
    ProjectDataset,
    ProjectDependency,
    ProjectPartner,
    RankingRow,
    SharingAgreement,
    User,
    table_of,
)
from portfolio.services import agreements as agreement_service
from portfolio.services import attachments as attachment_service
from portfolio.services import benefits as benefit_service
from portfolio.services.ranking import RunInfo
from portfolio.services.snapshots.content import SnapshotContent
from portfolio.services.snapshots.schema import (
    AGREEMENTS,
    COMPRESS_LEVEL,
    CONTRIBUTION_PREFIX,
    ENCODE_BATCH,
    FETCH_BATCH,
    FLUSH_BYTES,
    FORMAT,
    FORMAT_VERSION,
    PROJECTS,
    SCORE_DIGITS,
    TABLE_BY_NAME,
)
from scoring.rounding import round_each, round_total

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                            allow_nan=False)


def canonical_line(value: Any) -> bytes:
    """Return one canonical line (without its newline)."""
    return _ENCODER.encode(value).encode("utf-8")


def iso_time(moment: datetime) -> str:
    """Return a time as ISO 8601 UTC to the second ("2026-11-28T18:10:12Z")."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # SQLite hands back stored UTC timestamps without their zone: they are UTC already.
    return moment.isoformat(timespec="seconds") + "Z"


def _total(value: Any) -> float | None:
    """Return a composite as exported: the total its exported contributions add up to."""
    if value is None or value != value:
        return None
    return float(round_total(float(value), SCORE_DIGITS))


def _score(value: Any) -> float | None:
    """Return a computed figure rounded for a stable serialisation, or None."""
    if value is None:
        return None
    value = float(value)
    if value != value:  # NaN
        return None
    return round(value, SCORE_DIGITS)


def exported_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """Return a run's `value` (composite) and `readiness` columns as a snapshot holds them."""
    # _total and _score over whole columns, so the live graph and the export graph agree.
    return figures.assign(
        value=round_total(figures["value"].to_numpy(dtype=np.float64), SCORE_DIGITS),
        readiness=round_each(figures["readiness"].to_numpy(dtype=np.float64), SCORE_DIGITS))


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class PayloadWriter:
    """Serialise lines canonically, hashing and compressing the tables as they come."""

    def __init__(self, tables: Collection[str] | None = None) -> None:
        # Only these tables (all when None): a live single-table export needs one or two.
        self._wanted = None if tables is None else frozenset(tables)
        self._skipping = False
        self._compressor = zlib.compressobj(COMPRESS_LEVEL)
        self._sha = hashlib.sha256()
        self._body_sha = hashlib.sha256()
        self._header = b""
        self._parts: list[bytes] = []
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0
        self.counts: dict[str, int] = {}
        self._table: str | None = None

    def _put(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        chunk = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        self._sha.update(chunk)
        self._body_sha.update(chunk)
        self.size += len(chunk)
        self._parts.append(self._compressor.compress(chunk))

    def header(self, meta: dict[str, Any]) -> None:
        """Write the first line: the format and the snapshot's metadata (kept apart)."""
        self._header = canonical_line({"format": FORMAT, "format_version": FORMAT_VERSION,
                                       "meta": meta}) + b"\n"
        self._sha.update(self._header)
        self.size += len(self._header)

    def table(self, name: str, columns: Sequence[str]) -> None:
        """Start a table (one not wanted is skipped, its rows never read)."""
        self._skipping = self._wanted is not None and name not in self._wanted
        if self._skipping:
            return
        self._table = name
        self.counts[name] = 0
        self._put(canonical_line({"table": name, "columns": list(columns)}) + b"\n")

    def rows(self, rows: Iterable[list[Any]]) -> None:
        """Write rows of the current table."""
        if self._skipping:
            return  # a lazy query's rows are never fetched
        assert self._table is not None
        encode = _ENCODER.encode
        lines: list[str] = []
        count = 0
        for values in rows:
            lines.append(encode(values))
            if len(lines) == ENCODE_BATCH:
                self._put(("\n".join(lines) + "\n").encode("utf-8"))
                count += len(lines)
                lines = []
        if lines:
            self._put(("\n".join(lines) + "\n").encode("utf-8"))
            count += len(lines)
        self.counts[self._table] += count

    def finish(self) -> SnapshotContent:
        """Return the content: first line, compressed tables and both hashes."""
        self._flush()
        self._parts.append(self._compressor.flush())
        return SnapshotContent(header=self._header, body=b"".join(self._parts),
                               content_hash=self._sha.hexdigest(),
                               body_hash=self._body_sha.hexdigest(),
                               row_counts=dict(self.counts), size=self.size,
                               complete=self._wanted is None)


def _bytewise(column: Any, dialect: str) -> Any:
    """Order text by code point on both databases (PostgreSQL's default collation does not)."""
    return column.collate("C") if dialect == "postgresql" else column.collate("BINARY")


def _stream(session: Session, query: Select) -> Iterator[Any]:
    """Yield a query's rows in batches without holding them all (Core rows: no ORM work)."""
    yield from session.connection().execute(query.execution_options(yield_per=FETCH_BATCH))


def write_tables(session: Session, writer: PayloadWriter, run: RunInfo,
                 profile_id: int) -> None:
    """Write every table of the portfolio as read in this session."""
    dialect = session.get_bind().dialect.name

    def by(*columns: Any) -> list[Any]:
        return [_bytewise(c, dialect) for c in columns]

    org = Organisation
    writer.table("organisations", ["code", "name", "kind"])
    writer.rows(list(row) for row in _stream(
        session, select(col(org.code), col(org.name), col(org.kind)).order_by(*by(org.code))))

    crit = Criterion
    criteria = cast(list[tuple[str, str, str, str, int, int, int]], session.execute(
        select(col(crit.key), col(crit.dimension), col(crit.name), col(crit.source),
               col(crit.min_level), col(crit.max_level), col(crit.position))
        .order_by(*by(crit.key))
    ).all())
    writer.table("criteria", [c.name for c in TABLE_BY_NAME["criteria"].columns])
    writer.rows(list(row) for row in criteria)
    criterion_keys = [key for _position, key in sorted(
        (position, key) for key, *_rest, position in criteria)]

    pw = ProfileWeight
    writer.table("weights", ["kind", "key", "weight"])
    writer.rows([kind, key, float(weight)] for kind, key, weight in _stream(
        session, select(col(pw.kind), col(pw.key), col(pw.weight))
        .where(col(pw.profile_id) == profile_id).order_by(*by(pw.kind, pw.key))))

    ds = Dataset
    writer.table("datasets", [c.name for c in TABLE_BY_NAME["datasets"].columns])
    writer.rows(list(row) for row in _stream(
        session, select(col(ds.code), col(ds.title), col(org.code), col(ds.access),
                        col(ds.licence), col(ds.update_frequency), col(ds.drl), col(ds.version),
                        col(ds.description))
        .join(org, col(org.id) == col(ds.publisher_id)).order_by(*by(ds.code))))

    day = date.today()
    writer.table("agreements", [c.name for c in AGREEMENTS.columns])
    writer.rows(agreement_service.snapshot_rows(session, day))

    _write_projects(session, writer, run, criterion_keys, by)

    prerequisite = table_of(Project).alias("prerequisite")
    dataset_code = Dataset.code
    pd_ = ProjectDataset
    sa_ = SharingAgreement
    writer.table("links", [c.name for c in TABLE_BY_NAME["links"].columns])
    writer.rows([slug, dataset, relation, bool(required), fit,
                 agreement_service.agreement_word(word, code, status, signed_on, expires_on, day),
                 code]
                for (slug, dataset, relation, required, fit, word, code, status, signed_on,
                     expires_on) in _stream(
        session, select(col(Project.slug), col(dataset_code), col(pd_.relation),
                        col(pd_.required), col(pd_.fit_for_task), col(pd_.agreement),
                        col(sa_.code), col(sa_.status), col(sa_.signed_on), col(sa_.expires_on))
        .join(Project, col(Project.id) == col(pd_.project_id))
        .join(Dataset, col(Dataset.id) == col(pd_.dataset_id))
        .outerjoin(sa_, col(sa_.id) == col(pd_.sharing_agreement_id))
        .order_by(*by(Project.slug, dataset_code, pd_.relation))))

    dep = ProjectDependency
    writer.table("dependencies", ["project", "depends_on", "note"])
    writer.rows(list(row) for row in _stream(
        session, select(col(Project.slug), prerequisite.c.slug, col(dep.note))
        .join(Project, col(Project.id) == col(dep.project_id))
        .join(prerequisite, prerequisite.c.id == col(dep.depends_on_id))
        .order_by(*by(Project.slug, prerequisite.c.slug))))

    pp = ProjectPartner
    writer.table("partners", ["project", "organisation", "role"])
    writer.rows(list(row) for row in _stream(
        session, select(col(Project.slug), col(org.code), col(pp.role))
        .join(Project, col(Project.id) == col(pp.project_id))
        .join(org, col(org.id) == col(pp.organisation_id))
        .order_by(*by(Project.slug, org.code))))

    a = Assessment
    latest = (select(func.max(col(a.id)))
              .group_by(col(a.project_id), col(a.criterion_id), col(a.assessor_id))
              .scalar_subquery())
    assessor = func.coalesce(col(User.email), "")
    writer.table("assessments", [c.name for c in TABLE_BY_NAME["assessments"].columns])
    writer.rows([slug, key, level, rationale, iso_time(at) if at else None, who]
                for slug, key, level, rationale, at, who in _stream(
        session, select(col(Project.slug), col(crit.key), col(a.level), col(a.rationale),
                        col(a.assessed_at), assessor)
        .join(Project, col(Project.id) == col(a.project_id))
        .join(crit, col(crit.id) == col(a.criterion_id))
        .outerjoin(User, col(User.id) == col(a.assessor_id))
        .where(col(a.id).in_(latest)).order_by(*by(Project.slug, crit.key, assessor))))

    for name, rows in benefit_service.snapshot_tables(session):
        writer.table(name, [c.name for c in TABLE_BY_NAME[name].columns])
        writer.rows(rows)

    writer.table("attachments", [c.name for c in TABLE_BY_NAME["attachments"].columns])
    writer.rows([*rest, iso_time(uploaded_at)]
                for *rest, uploaded_at in attachment_service.snapshot_rows(session))


def _write_projects(session: Session, writer: PayloadWriter, run: RunInfo,
                    criterion_keys: list[str], by: Callable[..., list[Any]]) -> None:
    """Write projects in rank order with their ranking, own fields and contributions."""
    p, r = Project, RankingRow
    # Line for line as _project_row unpacks them.
    query = (
        select(col(r.position), col(p.slug), col(p.title), col(Organisation.code),
               col(p.theme), col(p.status), col(r.composite), col(r.score_status),
               col(r.coverage), col(r.impact), col(r.feasibility), col(r.readiness),
               col(r.priority), col(r.effective_priority), col(r.effective_mandatory),
               col(r.p_top_k), col(r.rank_p05), col(r.rank_p95), col(r.fragile),
               col(r.unlock_value), col(r.rice), col(r.wsjf), col(r.bottleneck_dataset),
               col(r.blocked_by), col(r.unblocks), col(p.cost_gbp), col(p.effort_pm),
               col(p.start_date), col(p.end_date), col(p.personal_data), col(p.dpia_status),
               col(p.mandatory), col(p.mandatory_justification), col(p.priority_override),
               col(p.override_justification), col(p.reach_people), col(p.confidence_pct),
               col(p.time_criticality), col(p.version), col(p.description),
               col(r.contributions), col(r.backlog_view), col(r.view_position))
        .select_from(p)
        .join(Organisation, col(Organisation.id) == col(p.owner_id))
        .outerjoin(r, (col(r.project_id) == col(p.id)) & (col(r.run_id) == run.rows_id))
        .order_by(col(r.position).is_(None), col(r.position), *by(p.slug))
    )
    columns = [c.name for c in PROJECTS.columns]
    writer.table("projects", columns + [CONTRIBUTION_PREFIX + k for k in criterion_keys])
    writer.rows(_project_row(row, criterion_keys) for row in _stream(session, query))


def _project_row(row: Any, criterion_keys: list[str]) -> list[Any]:
    """Return one projects row of the canonical serialisation from the query's row."""
    # Unpacked into names at once: row.name or row._mapping, a lookup per cell, builds a row in
    # 1.1 to 2 times as long, and a snapshot builds one per project (100,000 of them).
    (position, slug, title, organisation,
     theme, status, composite, score_status,
     coverage, impact, feasibility, readiness,
     priority, effective_priority, effective_mandatory,
     p_top_k, rank_p05, rank_p95, fragile,
     unlock_value, rice, wsjf, bottleneck_dataset,
     blocked_by, unblocks, cost_gbp, effort_pm,
     start_date, end_date, personal_data, dpia_status,
     mandatory, mandatory_justification, priority_override,
     override_justification, reach_people, confidence_pct,
     time_criticality, version, description,
     contributions, view, view_position) = row
    ranked = position is not None
    points = contributions or {}
    return [
        view_position, slug, title, organisation, theme, status,
        _total(composite), score_status, _score(coverage), _score(impact), _score(feasibility),
        _score(readiness), _score(priority), _score(effective_priority),
        bool(effective_mandatory) if ranked else None, _score(p_top_k), rank_p05, rank_p95,
        bool(fragile) if ranked else None, _score(unlock_value), _score(rice), _score(wsjf),
        bottleneck_dataset, list(blocked_by) if ranked else None,
        list(unblocks) if ranked else None,
        view, position,
        int(cost_gbp), float(effort_pm), _day(start_date), _day(end_date), bool(personal_data),
        dpia_status, bool(mandatory), mandatory_justification, _score(priority_override),
        override_justification, reach_people, confidence_pct, time_criticality,
        version, description,
        *(_score(points.get(k)) for k in criterion_keys),
    ]
