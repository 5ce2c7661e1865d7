"""Writing a snapshot's canonical serialisation: JSON Lines, hashed and compressed as it goes."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

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
from scoring.rounding import round_total

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


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class PayloadWriter:
    """Serialise lines canonically, hashing and compressing the tables as they come."""

    def __init__(self) -> None:
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
        """Start a table."""
        self._table = name
        self.counts[name] = 0
        self._put(canonical_line({"table": name, "columns": list(columns)}) + b"\n")

    def rows(self, rows: Iterable[list[Any]]) -> None:
        """Write rows of the current table."""
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
                               row_counts=dict(self.counts), size=self.size)


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
        session, select(org.code, org.name, org.kind).order_by(*by(org.code))))

    crit = Criterion
    criteria = session.execute(
        select(crit.key, crit.dimension, crit.name, crit.source, crit.min_level, crit.max_level,
               crit.position).order_by(*by(crit.key))
    ).all()
    writer.table("criteria", [c.name for c in TABLE_BY_NAME["criteria"].columns])
    writer.rows(list(row) for row in criteria)
    criterion_keys = [key for key, *_rest in sorted(criteria, key=lambda r: (r[6], r[0]))]

    pw = ProfileWeight
    writer.table("weights", ["kind", "key", "weight"])
    writer.rows([kind, key, float(weight)] for kind, key, weight in _stream(
        session, select(pw.kind, pw.key, pw.weight).where(pw.profile_id == profile_id)
        .order_by(*by(pw.kind, pw.key))))

    ds = Dataset
    writer.table("datasets", [c.name for c in TABLE_BY_NAME["datasets"].columns])
    writer.rows(list(row) for row in _stream(
        session, select(ds.code, ds.title, org.code, ds.access, ds.licence, ds.update_frequency,
                        ds.drl, ds.version, ds.description)
        .join(org, org.id == ds.publisher_id).order_by(*by(ds.code))))

    day = date.today()
    writer.table("agreements", [c.name for c in AGREEMENTS.columns])
    writer.rows(agreement_service.snapshot_rows(session, day))

    _write_projects(session, writer, run, criterion_keys, by)

    prerequisite = Project.__table__.alias("prerequisite")
    dataset_code = Dataset.code
    pd_ = ProjectDataset
    sa_ = SharingAgreement
    writer.table("links", [c.name for c in TABLE_BY_NAME["links"].columns])
    writer.rows([row[0], row[1], row[2], bool(row[3]), row[4],
                 agreement_service.agreement_word(row[5], row[6], row[7], row[8], row[9], day),
                 row[6]] for row in _stream(
        session, select(Project.slug, dataset_code, pd_.relation, pd_.required,
                        pd_.fit_for_task, pd_.agreement, sa_.code, sa_.status, sa_.signed_on,
                        sa_.expires_on)
        .join(Project, Project.id == pd_.project_id).join(Dataset, Dataset.id == pd_.dataset_id)
        .outerjoin(sa_, sa_.id == pd_.sharing_agreement_id)
        .order_by(*by(Project.slug, dataset_code, pd_.relation))))

    dep = ProjectDependency
    writer.table("dependencies", ["project", "depends_on", "note"])
    writer.rows(list(row) for row in _stream(
        session, select(col(Project.slug), prerequisite.c.slug, dep.note)
        .join(Project, Project.id == dep.project_id)
        .join(prerequisite, prerequisite.c.id == dep.depends_on_id)
        .order_by(*by(Project.slug, prerequisite.c.slug))))

    pp = ProjectPartner
    writer.table("partners", ["project", "organisation", "role"])
    writer.rows(list(row) for row in _stream(
        session, select(col(Project.slug), org.code, pp.role)
        .join(Project, Project.id == pp.project_id).join(org, org.id == pp.organisation_id)
        .order_by(*by(Project.slug, org.code))))

    a = Assessment
    latest = (select(func.max(a.id)).group_by(a.project_id, a.criterion_id, a.assessor_id)
              .scalar_subquery())
    assessor = func.coalesce(User.email, "")
    writer.table("assessments", [c.name for c in TABLE_BY_NAME["assessments"].columns])
    writer.rows([slug, key, level, rationale, iso_time(at) if at else None, who]
                for slug, key, level, rationale, at, who in _stream(
        session, select(Project.slug, crit.key, a.level, a.rationale, a.assessed_at, assessor)
        .join(Project, Project.id == a.project_id).join(crit, crit.id == a.criterion_id)
        .outerjoin(User, User.id == a.assessor_id)
        .where(a.id.in_(latest)).order_by(*by(Project.slug, crit.key, assessor))))

    for name, rows in benefit_service.snapshot_tables(session):
        writer.table(name, [c.name for c in TABLE_BY_NAME[name].columns])
        writer.rows(rows)

    writer.table("attachments", [c.name for c in TABLE_BY_NAME["attachments"].columns])
    writer.rows([*row[:-1], iso_time(row[-1])]
                for row in attachment_service.snapshot_rows(session))


def _write_projects(session: Session, writer: PayloadWriter, run: RunInfo,
                    criterion_keys: list[str], by: Callable[..., list[Any]]) -> None:
    """Write projects in rank order with their ranking, own fields and contributions."""
    p, r = Project, RankingRow
    query = (
        select(r.position, p.slug, p.title, col(Organisation.code), p.theme, p.status,
               r.composite, r.score_status, r.coverage, r.impact, r.feasibility, r.readiness,
               r.priority, r.effective_priority, r.effective_mandatory, r.p_top_k, r.rank_p05,
               r.rank_p95, r.fragile, r.unlock_value, r.rice, r.wsjf, r.bottleneck_dataset,
               r.blocked_by, r.unblocks,
               p.cost_gbp, p.effort_pm, p.start_date, p.end_date, p.personal_data,
               p.dpia_status, p.mandatory, p.mandatory_justification, p.priority_override,
               p.override_justification, p.reach_people, p.confidence_pct, p.time_criticality,
               p.version, p.description, r.contributions, r.backlog_view, r.view_position)
        .select_from(p)
        .join(Organisation, Organisation.id == p.owner_id)
        .outerjoin(r, (r.project_id == p.id) & (r.run_id == run.id))
        .order_by(r.position.is_(None), r.position, *by(p.slug))
    )
    columns = [c.name for c in PROJECTS.columns]
    writer.table("projects", columns + [CONTRIBUTION_PREFIX + k for k in criterion_keys])
    writer.rows(_project_row(row, criterion_keys) for row in _stream(session, query))


def _project_row(row: Any, criterion_keys: list[str]) -> list[Any]:
    """Return one projects row of the canonical serialisation from the query's row."""
    ranked = row[0] is not None
    contributions = row[40] or {}
    return [
        row[42], row[1], row[2], row[3], row[4], row[5],
        _total(row[6]), row[7], _score(row[8]), _score(row[9]), _score(row[10]),
        _score(row[11]), _score(row[12]), _score(row[13]),
        bool(row[14]) if ranked else None, _score(row[15]), row[16], row[17],
        bool(row[18]) if ranked else None, _score(row[19]), _score(row[20]), _score(row[21]),
        row[22], list(row[23]) if ranked else None, list(row[24]) if ranked else None,
        row[41], row[0],
        int(row[25]), float(row[26]), _day(row[27]), _day(row[28]), bool(row[29]), row[30],
        bool(row[31]), row[32], _score(row[33]), row[34], row[35], row[36], row[37],
        row[38], row[39],
        *(_score(contributions.get(k)) for k in criterion_keys),
    ]
