"""Snapshots: freeze the portfolio, its weights and its ranking; list, verify and compare them.

The canonical serialisation (format version 1) is UTF-8 JSON Lines, every line written with
sorted keys, no spaces, no NaN and non-ASCII characters as they are:

    {"format": "london-data-portfolio-snapshot", "format_version": 1, "meta": {...}}
    {"columns": [...], "table": "organisations"}
    ["GLA", "Greater London Authority", "gla"]
    ...

An object line starts a table; the array lines after it are its rows, in the order of the
table's columns. Tables come in the order of TABLES (every foreign key points at an earlier
table); rows are sorted by primary key in code-point order, except projects, which are in rank
order (unranked projects last, by slug). The content hash is the sha256 of these bytes.

The database keeps the first line in the snapshot's row and the rest (the tables) zlib-compressed
in `snapshot_body`, under the sha256 of those bytes (the body hash): snapshots of an unchanged
portfolio differ only in their first line, so their tables are stored once. A reader inflates
the tables a block at a time.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.db import Database
from portfolio.enums import (
    Access,
    Agreement,
    AgreementStatus,
    CriterionSource,
    Dimension,
    DpiaStatus,
    FitForTask,
    LawfulBasis,
    LinkRelation,
    OrganisationKind,
    PartnerRole,
    ProjectStatus,
    ReadinessLevel,
    SpecialCategoryCondition,
    Theme,
    UpdateFrequency,
    WeightKind,
)
from portfolio.errors import Conflict, DomainError, Invalid, NotFound
from portfolio.models import (
    Assessment,
    AuditEvent,
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
    Snapshot,
    SnapshotBody,
    User,
)
from portfolio.services import agreements as agreement_service
from portfolio.services import attachments as attachment_service
from portfolio.services import benefits as benefit_service
from portfolio.services.common import consistent_read, current_revision
from portfolio.services.frames import load_profile
from portfolio.services.ranking import ROBUSTNESS_SEED, RunInfo, ensure_ranking
from portfolio.text import control_problem
from scoring.rounding import round_total

FORMAT = "london-data-portfolio-snapshot"
FORMAT_VERSION = 1
# Level 3 compresses the canonical JSON about 7:1 at several times level 6's speed.
COMPRESS_LEVEL = 3
# Bytes of canonical text handed to zlib and sha256 at once, and compressed bytes inflated at once.
FLUSH_BYTES = 1 << 20
INFLATE_BYTES = 1 << 18
FETCH_BATCH = 5000
ENCODE_BATCH = 2000
LABEL_MAX = 200
QUOTA_WINDOW = timedelta(hours=24)
SCORE_DIGITS = 6
CONTRIBUTION_PREFIX = "contribution_"
SOURCE_TITLE = "London data portfolio"


# ---------------------------------------------------------------------------------------------
# The tables a snapshot holds


@dataclass(frozen=True)
class Column:
    """One column of a snapshot table, typed as a Frictionless Table Schema field."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] | None = None

    @property
    def is_list(self) -> bool:
        """Tell whether the column holds a list of strings (';'-joined in tabular files)."""
        return self.type == "list"


@dataclass(frozen=True)
class TableSpec:
    """A table of the canonical serialisation with its keys."""

    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()

    def column(self, name: str) -> Column:
        """Return a column by name; projects' per-criterion contribution columns are numbers."""
        for column in self.columns:
            if column.name == name:
                return column
        if name.startswith(CONTRIBUTION_PREFIX):
            key = name.removeprefix(CONTRIBUTION_PREFIX)
            return Column(name, "number", f"Points of the composite score from criterion {key}.")
        raise KeyError(name)


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _col(name: str, type_: str = "string", description: str = "", *, required: bool = False,
         enum: type[StrEnum] | None = None) -> Column:
    return Column(name, type_, description, required, _values(enum) if enum else None)


RANKING_COLUMNS = (
    _col("rank", "integer", "Rank in the project's view (candidates or committed): its place "
         "among that view's projects in the dependency-aware order (blank: not ranked, because "
         "delivered or rejected). p_top_k, rank_p05 and rank_p95 describe this rank."),
    _col("score", "number", "Composite score, 0-100."),
    _col("score_status", "string", "scored, partial (some criteria missing), unscored (no "
         "impact assessment at all) or unweighted (impact assessed only on criteria the "
         "profile weighs at zero)."),
    _col("coverage", "number", "Share of the total weight the project has values for, 0-1."),
    _col("impact", "number", "Impact dimension score, 0-100."),
    _col("feasibility", "number", "Feasibility dimension score, 0-100."),
    _col("readiness", "number", "Data readiness dimension score, 0-100."),
    _col("priority", "number", "The score, or the override where one is set."),
    _col("effective_priority", "number", "Priority raised to that of anything it blocks."),
    _col("effective_mandatory", "boolean", "Mandatory, or a prerequisite of a mandatory project."),
    _col("p_top_k", "number", "Probability that the rank is at most k under uncertain weights."),
    _col("rank_p05", "integer", "5th percentile of the rank under uncertain weights."),
    _col("rank_p95", "integer", "95th percentile of the rank under uncertain weights."),
    _col("fragile", "boolean", "The rank interval is wide: the position depends on the weights."),
    _col("unlock_value", "number", "Portfolio value that waits on this project, transitively."),
    _col("rice", "number", "RICE score, where its inputs exist."),
    _col("wsjf", "number", "WSJF score, where its inputs exist."),
    _col("bottleneck_dataset", "string", "The required dataset that bounds data readiness."),
    _col("blocked_by", "list", "Prerequisites still in the order (';'-separated slugs)."),
    _col("unblocks", "list", "Projects waiting directly on this one (';'-separated slugs)."),
    _col("view", "string", "candidates (idea, proposed, approved) or committed (in progress, "
         "paused)."),
    _col("order", "integer", "Position in the whole dependency-aware order, both views."),
)

PROJECT_FIELD_COLUMNS = (
    _col("cost_gbp", "integer", "Cost estimate in GBP."),
    _col("effort_pm", "number", "Effort in person-months."),
    _col("start_date", "date"),
    _col("end_date", "date"),
    _col("personal_data", "boolean", "Whether personal data is involved."),
    _col("dpia_status", enum=DpiaStatus),
    _col("mandatory", "boolean", "Mandatory or statutory."),
    _col("mandatory_justification"),
    _col("priority_override", "number", "A CDO's override of the priority, 0-100."),
    _col("override_justification"),
    _col("reach_people", "integer", "Residents or service users reached."),
    _col("confidence_pct", "integer", "Confidence in the estimates, 0-100."),
    _col("time_criticality", "integer", "Time criticality, 1-5."),
    _col("version", "integer", "The project's edit version."),
    _col("description"),
)

PROJECTS = TableSpec(
    "projects", "Projects in rank order",
    "Every project with its ranking under the snapshot's weight profile, then its own fields; "
    "contribution_<criterion> columns hold each criterion's points of the score.",
    (
        RANKING_COLUMNS[0],
        _col("slug", required=True), _col("title", required=True),
        _col("organisation", "string", "Owner organisation code.", required=True),
        _col("theme", required=True, enum=Theme), _col("status", required=True, enum=ProjectStatus),
        *RANKING_COLUMNS[1:],
        *PROJECT_FIELD_COLUMNS,
    ),
    ("slug",),
    ((("organisation",), "organisations", ("code",)),
     (("bottleneck_dataset",), "datasets", ("code",))),
)

# Realised benefits beside their estimates, and how accurate estimates were (benefits service).
BENEFIT_TABLES = (
    TableSpec(
        "benefits", "Realised benefits", "What delivered projects achieved against their "
        "estimate; levels are on the reach and savings criteria's own scales.",
        (_col("project", required=True), _col("people_reached", "integer"),
         _col("savings_gbp", "integer", "Savings or avoided cost a year, GBP."),
         _col("outcome"), _col("review", "string", "The lead's post-delivery review."),
         _col("measured_on", "date"), _col("estimated_reach_people", "integer"),
         _col("estimated_reach_level", "integer"), _col("realised_reach_level", "integer"),
         _col("estimated_savings_level", "integer"), _col("realised_savings_level", "integer")),
        ("project",),
        ((("project",), "projects", ("slug",)),),
    ),
    TableSpec(
        "estimate_accuracy", "Estimate accuracy", "Estimated against realised levels by "
        "organisation and by criterion; gap = estimated - realised (positive: optimistic).",
        (_col("by", required=True), _col("group", required=True),
         _col("projects", "integer"), _col("mean_estimated_level", "number"),
         _col("mean_realised_level", "number"), _col("mean_gap", "number"),
         _col("optimistic", "number"), _col("exact", "number"), _col("pessimistic", "number"),
         _col("median_reach_ratio", "number")),
        ("by", "group"),
    ),
)

# The agreements register, each agreement's standing on the snapshot's day (agreements service).
AGREEMENTS = TableSpec(
    "agreements", "Data-sharing agreements", "Each agreement with its parties (CODE:role), the "
    "datasets it covers, its lawful basis and dates; standing is the word the links' readiness "
    "read on the snapshot's day (a signed agreement past its expiry counts as expired).",
    (_col("code", required=True), _col("title", required=True),
     _col("status", "string", "As recorded.", enum=AgreementStatus),
     _col("standing", "string", "On the snapshot's day.", enum=Agreement),
     _col("parties", "list", "Organisation codes with their role, CODE:role."),
     _col("datasets", "list", "Codes of the datasets it covers."),
     _col("lawful_basis", enum=LawfulBasis),
     _col("special_category_condition", enum=SpecialCategoryCondition),
     _col("dpia_reference"), _col("signed_on", "date"), _col("review_on", "date"),
     _col("expires_on", "date"), _col("document_url"), _col("version", "integer"),
     _col("purpose")),
    ("code",),
)

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "organisations", "Organisations", "The GLA, boroughs (ONS GSS codes), GLA group bodies "
        "and partners.",
        (_col("code", required=True), _col("name", required=True),
         _col("kind", required=True, enum=OrganisationKind)),
        ("code",),
    ),
    TableSpec(
        "criteria", "Criteria", "Scoring criteria with their absolute ordinal scales.",
        (_col("key", required=True), _col("dimension", required=True, enum=Dimension),
         _col("name", required=True), _col("source", required=True, enum=CriterionSource),
         _col("min_level", "integer", required=True), _col("max_level", "integer", required=True),
         _col("position", "integer")),
        ("key",),
    ),
    TableSpec(
        "weights", "Weights", "The weight profile's dimension and criterion weights.",
        (_col("kind", required=True, enum=WeightKind), _col("key", required=True),
         _col("weight", "number", required=True)),
        ("kind", "key"),
    ),
    TableSpec(
        "datasets", "Datasets", "Datasets with their Data Readiness Level (bands C and B).",
        (_col("code", required=True), _col("title", required=True),
         _col("publisher", "string", "Publisher organisation code.", required=True),
         _col("access", required=True, enum=Access), _col("licence"),
         _col("update_frequency", enum=UpdateFrequency), _col("drl", enum=ReadinessLevel),
         _col("version", "integer"), _col("description")),
        ("code",),
        ((("publisher",), "organisations", ("code",)),),
    ),
    AGREEMENTS,
    PROJECTS,
    TableSpec(
        "links", "Dataset links", "Projects use or produce datasets; fit_for_task is DRL band A.",
        (_col("project", required=True), _col("dataset", required=True),
         _col("relation", required=True, enum=LinkRelation), _col("required", "boolean"),
         _col("fit_for_task", enum=FitForTask),
         _col("agreement", "string", "The agreement's standing on the snapshot's day.",
              enum=Agreement),
         _col("sharing_agreement", "string", "Code of the agreement record it rests on.")),
        ("project", "dataset", "relation"),
        ((("project",), "projects", ("slug",)), (("dataset",), "datasets", ("code",)),
         (("sharing_agreement",), "agreements", ("code",))),
    ),
    TableSpec(
        "dependencies", "Dependencies", "A project depends on (waits for) another.",
        (_col("project", required=True), _col("depends_on", required=True), _col("note")),
        ("project", "depends_on"),
        ((("project",), "projects", ("slug",)), (("depends_on",), "projects", ("slug",))),
    ),
    TableSpec(
        "partners", "Partners", "Organisations partnering in projects, with their role.",
        (_col("project", required=True), _col("organisation", required=True),
         _col("role", enum=PartnerRole)),
        ("project", "organisation"),
        ((("project",), "projects", ("slug",)), (("organisation",), "organisations", ("code",))),
    ),
    TableSpec(
        "assessments", "Assessments", "Each assessor's current level of each project on each "
        "assessed criterion; the level that scores is their median.",
        (_col("project", required=True), _col("criterion", required=True),
         _col("level", "integer", required=True), _col("rationale"),
         _col("assessed_at", "datetime"),
         _col("assessor", "string", "The assessor's email (blank: not recorded, as for "
              "seeded or imported assessments).", required=False)),
        ("project", "criterion", "assessor"),
        ((("project",), "projects", ("slug",)), (("criterion",), "criteria", ("key",))),
    ),
    *BENEFIT_TABLES,
    # Last, so that older snapshots (without it) still pair table by table when compared.
    TableSpec(
        "attachments", "Attached documents", "Documents attached to projects: their names and "
        "content hashes (sha256), never their contents.",
        (_col("owner_kind", required=True), _col("owner", "string", "The project's slug (or "
         "the record's reference).", required=True), _col("filename", required=True),
         _col("sha256", required=True), _col("kind"), _col("media_type"),
         _col("size_bytes", "integer"), _col("uploaded_by"), _col("uploaded_at", "datetime")),
        ("owner_kind", "owner", "filename", "sha256"),
    ),
)
TABLE_BY_NAME = {spec.name: spec for spec in TABLES}
TABLE_NAMES = tuple(TABLE_BY_NAME)
# Columns of projects that the ranking sets, as opposed to the project's own fields.
RANKING_NAMES = frozenset(c.name for c in RANKING_COLUMNS)


def is_ranking_column(name: str) -> bool:
    """Tell whether a projects column comes from the ranking rather than the project."""
    return name in RANKING_NAMES or name.startswith(CONTRIBUTION_PREFIX)


# ---------------------------------------------------------------------------------------------
# Writing the canonical serialisation

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


# ---------------------------------------------------------------------------------------------
# Reading it back


@dataclass
class TableData:
    """One table of a snapshot: its spec, its column names and an iterator over its rows."""

    spec: TableSpec
    columns: list[str]
    rows: Iterator[list[Any]]

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


class _Peekable:
    """An iterator with one item of look-ahead."""

    def __init__(self, source: Iterator[tuple[str, Any]]) -> None:
        self._source = source
        self.peek = next(source, None)

    def take(self) -> tuple[str, Any] | None:
        item = self.peek
        self.peek = next(self._source, None)
        return item


def _table_rows(events: _Peekable, loads: Callable[[bytes], Any]) -> Iterator[list[Any]]:
    """Yield the rows of the current table, parsing each run of lines with one call."""
    while events.peek is not None and events.peek[0] == "rows":
        item = events.take()
        assert item is not None
        yield from loads(b"[" + item[1].replace(b"\n", b",") + b"]")


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
        loads = _numbers_as_text if numbers_as_text else orjson.loads
        events = _Peekable(_events(self.body))
        while events.peek is not None:
            kind, value = events.take()  # type: ignore[misc]
            if kind == "header":
                yield TableData(TABLE_BY_NAME[value["table"]], value["columns"],
                                _table_rows(events, loads))
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


# ---------------------------------------------------------------------------------------------
# Use cases


def _clean_label(label: str) -> str:
    if problem := control_problem(label or ""):
        raise Invalid({"label": problem})
    text = " ".join((label or "").split())
    if not text:
        raise Invalid({"label": "give the snapshot a label"})
    if len(text) > LABEL_MAX:
        raise Invalid({"label": f"at most {LABEL_MAX} characters"})
    return text


def build_content(db: Database, *, actor: Actor, label: str, profile: str | None = None,
                  at: datetime | None = None) -> tuple[SnapshotContent, RunInfo]:
    """Serialise the portfolio, its weights and its current ranking, without storing them."""
    label = _clean_label(label)
    for _attempt in range(3):
        run = ensure_ranking(db, profile)
        with db.read() as session:
            consistent_read(session)
            stored = load_profile(session, run.profile)
            if current_revision(session) != run.revision or stored.version != run.profile_version:
                continue  # a write landed after the ranking was computed: rank again
            moment = (at or datetime.now(UTC)).replace(microsecond=0)
            writer = PayloadWriter()
            writer.header({
                "label": label,
                "author": actor.email,
                "created_at": iso_time(moment),
                "profile": {"name": stored.name, "version": stored.version,
                            "description": stored.description},
                "method_version": run.method_version,
                "revision": run.revision,
                "ranking": {"samples": run.samples, "top_k": run.top_k,
                            "seed": ROBUSTNESS_SEED},
                "source": SOURCE_TITLE,
            })
            write_tables(session, writer, run, stored.id)
        return writer.finish(), run
    raise Conflict("the portfolio kept changing while the snapshot was being taken; try again")


class QuotaExceeded(DomainError):
    """A user has taken as many snapshots as a day allows."""

    status_code = 429

    def __init__(self, quota: int, retry_after: int) -> None:
        super().__init__(f"you have taken {quota} snapshots in the last 24 hours, the most a "
                         f"day allows; try again in {max(1, retry_after // 60)} minutes")
        self.retry_after = retry_after


def check_quota(session: Session, actor: Actor, quota: int) -> None:
    """Refuse a user's snapshot past their daily quota (the system's own are not counted)."""
    if actor.id is None:
        return
    since = datetime.now(UTC) - QUOTA_WINDOW
    taken, oldest = session.execute(
        select(func.count(), func.min(Snapshot.created_at))
        .where(col(Snapshot.author_id) == actor.id, col(Snapshot.created_at) > since)).one()
    if taken >= quota:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        raise QuotaExceeded(quota, int((oldest + QUOTA_WINDOW - datetime.now(UTC))
                                       .total_seconds()) + 1)


def store_body(session: Session, content: SnapshotContent) -> bool:
    """Store a snapshot's tables under their hash unless already kept; tell whether stored."""
    if session.get(SnapshotBody, content.body_hash) is not None:
        return False
    size = (content.size or 0) - len(content.header)
    session.add(SnapshotBody(body_hash=content.body_hash, payload=content.body,
                             payload_bytes=size))
    session.flush()
    return True


def _store(db: Database, actor: Actor, content: SnapshotContent, run: RunInfo,
           quota: int) -> int:
    """Store a snapshot's row (and its tables, unless kept already); return its id."""
    meta = content.meta
    with db.write() as session:
        check_quota(session, actor, quota)
        store_body(session, content)
        row = Snapshot(
            label=meta["label"], author_id=actor.id, author=actor.email,
            created_at=content.created_at, profile_name=run.profile,
            profile_version=run.profile_version, method_version=run.method_version,
            revision=run.revision, content_hash=content.content_hash,
            header=content.header, body_hash=content.body_hash,
            payload_bytes=content.size or 0, row_counts=content.row_counts,
        )
        session.add(row)
        session.flush()
        # A snapshot changes no project, so it leaves the portfolio revision alone.
        session.add(AuditEvent(actor_id=actor.id, action="create", entity="snapshot",
                               entity_id=row.id,
                               after={"label": row.label, "content_hash": row.content_hash}))
        return int(row.id or 0)


def create_snapshot(db: Database, *, actor: Actor, label: str,
                    profile: str | None = None) -> dict[str, Any]:
    """Freeze the portfolio, the weight profile, the method version and the ranking.

    Each user may take `snapshots_per_user_per_day` (settings) in any 24 hours. The tables
    are stored once per body hash, so a snapshot of an unchanged portfolio adds only its row.
    """
    require(actor, Capability.CREATE_SNAPSHOT)
    quota = db.settings.snapshots_per_user_per_day
    with db.read() as session:
        check_quota(session, actor, quota)  # before the work of serialising the portfolio
    content, run = build_content(db, actor=actor, label=label, profile=profile)
    snapshot_id = None
    # Two at once may store the same tables: the second's write fails, and its retry finds them.
    for _attempt in range(2):
        try:
            snapshot_id = _store(db, actor, content, run, quota)
            break
        except IntegrityError:
            # The same label, author, second and content: that snapshot already exists.
            with db.read() as session:
                snapshot_id = session.execute(select(Snapshot.id).where(
                    Snapshot.content_hash == content.content_hash)).scalar()
            if snapshot_id is not None:
                break
    if snapshot_id is None:
        raise Conflict("the snapshot could not be stored; try again")
    with db.read() as session:
        return get_snapshot(session=session, snapshot_id=snapshot_id)


SUMMARY_COLUMNS = (Snapshot.id, Snapshot.label, Snapshot.author, Snapshot.created_at,
                   Snapshot.profile_name, Snapshot.profile_version, Snapshot.method_version,
                   Snapshot.revision, Snapshot.content_hash, Snapshot.payload_bytes,
                   Snapshot.row_counts, Snapshot.body_hash)


def _summary(row: Any) -> dict[str, Any]:
    (sid, label, author, created_at, profile_name, profile_version, method_version, revision,
     content_hash, payload_bytes, row_counts, body_hash) = row
    return {
        "id": sid, "label": label, "author": author, "created_at": iso_time(created_at),
        "profile": profile_name, "profile_version": profile_version,
        "method_version": method_version, "revision": revision,
        "content_hash": content_hash, "bytes": payload_bytes, "row_counts": row_counts,
        "body_hash": body_hash,
    }


def list_snapshots(*, session: Session) -> list[dict[str, Any]]:
    """List snapshots, newest first (without their payloads)."""
    rows = session.execute(select(*SUMMARY_COLUMNS).order_by(col(Snapshot.id).desc())).all()
    return [_summary(row) for row in rows]


def get_snapshot(*, session: Session, snapshot_id: int) -> dict[str, Any]:
    """Return one snapshot's summary."""
    row = session.execute(select(*SUMMARY_COLUMNS).where(col(Snapshot.id) == snapshot_id)).first()
    if row is None:
        raise NotFound("snapshot", snapshot_id)
    return _summary(row)


def load_content(*, session: Session, snapshot_id: int) -> SnapshotContent:
    """Return a stored snapshot's content for export or comparison."""
    row = session.execute(
        select(Snapshot.header, SnapshotBody.payload, Snapshot.content_hash, Snapshot.body_hash,
               Snapshot.row_counts)
        .join(SnapshotBody, SnapshotBody.body_hash == Snapshot.body_hash)
        .where(Snapshot.id == snapshot_id)
    ).first()
    if row is None:
        raise NotFound("snapshot", snapshot_id)
    return SnapshotContent(header=bytes(row[0]), body=bytes(row[1]), content_hash=row[2],
                           body_hash=row[3], id=snapshot_id, row_counts=dict(row[4] or {}))


def verify_snapshot(*, session: Session, snapshot_id: int) -> dict[str, Any]:
    """Recompute a snapshot's hash and check its recorded facts against its payload."""
    summary = get_snapshot(session=session, snapshot_id=snapshot_id)
    content = load_content(session=session, snapshot_id=snapshot_id)
    problems: list[str] = []
    digest, body_digest = hashlib.sha256(), hashlib.sha256()
    try:
        for chunk in content.canonical_bytes():
            digest.update(chunk)
            if chunk is not content.header:
                body_digest.update(chunk)
        meta = content.meta
    except (zlib.error, ValueError, KeyError) as exc:
        return {"id": snapshot_id, "valid": False, "content_hash": summary["content_hash"],
                "computed_hash": None, "problems": [f"the payload cannot be read: {exc}"]}
    computed = digest.hexdigest()
    if computed != summary["content_hash"]:
        problems.append("the payload does not match its content hash")
    if body_digest.hexdigest() != content.body_hash:
        problems.append("the stored tables do not match their body hash")
    recorded = {"label": summary["label"], "author": summary["author"],
                "created_at": summary["created_at"], "method_version": summary["method_version"],
                "revision": summary["revision"], "profile": summary["profile"],
                "profile_version": summary["profile_version"]}
    sealed = {"label": meta["label"], "author": meta["author"],
              "created_at": meta["created_at"], "method_version": meta["method_version"],
              "revision": meta["revision"], "profile": meta["profile"]["name"],
              "profile_version": meta["profile"]["version"]}
    for key, value in recorded.items():
        if sealed[key] != value:
            problems.append(f"{key} is recorded as {value!r} but the sealed payload says "
                            f"{sealed[key]!r}")
    return {"id": snapshot_id, "valid": not problems, "content_hash": summary["content_hash"],
            "computed_hash": computed, "problems": problems}


# ---------------------------------------------------------------------------------------------
# Comparing two snapshots

DIFF_TABLES = ("organisations", "datasets", "links", "dependencies", "partners", "assessments")


def _key_index(data: TableData) -> list[int]:
    # A key column added since an older snapshot (assessments' assessor) reads as blank there.
    return [data.columns.index(k) if k in data.columns else -1
            for k in data.spec.primary_key]


def _merge_diff(old: TableData, new: TableData) -> dict[str, list[dict[str, Any]]]:
    """Compare two tables sorted by primary key in one pass (no table held whole)."""
    old_key, new_key = _key_index(old), _key_index(new)
    shared = [c for c in new.columns if c in old.columns and c not in new.spec.primary_key]
    old_pos = {c: old.columns.index(c) for c in shared}
    new_pos = {c: new.columns.index(c) for c in shared}
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    names = new.spec.primary_key

    def key_of(row: list[Any], index: list[int]) -> tuple:
        return tuple(row[i] if i >= 0 else "" for i in index)

    a, b = next(old.rows, None), next(new.rows, None)
    while a is not None or b is not None:
        ka = key_of(a, old_key) if a is not None else None
        kb = key_of(b, new_key) if b is not None else None
        if kb is None or (ka is not None and ka < kb):
            removed.append(dict(zip(names, ka, strict=True)))  # type: ignore[arg-type]
            a = next(old.rows, None)
        elif ka is None or kb < ka:
            added.append(dict(zip(names, kb, strict=True)))
            b = next(new.rows, None)
        else:
            fields = {c: {"from": a[old_pos[c]], "to": b[new_pos[c]]}  # type: ignore[index]
                      for c in shared if a[old_pos[c]] != b[new_pos[c]]}  # type: ignore[index]
            if fields:
                changed.append({**dict(zip(names, kb, strict=True)), "fields": fields})
            a, b = next(old.rows, None), next(new.rows, None)
    return {"added": added, "removed": removed, "changed": changed}


def _projects_of(data: TableData) -> dict[str, dict[str, Any]]:
    return {row[1]: dict(zip(data.columns, row, strict=True)) for row in data.rows}


@dataclass
class _Read:
    """Two snapshots read side by side for a comparison."""

    tables: dict[str, dict[str, list[dict[str, Any]]]]
    old_projects: dict[str, dict[str, Any]]
    new_projects: dict[str, dict[str, Any]]
    weights_old: dict[tuple[str, str], float]
    weights_new: dict[tuple[str, str], float]


def _read_side_by_side(old: SnapshotContent, new: SnapshotContent) -> _Read:
    """Read both snapshots' projects and weights, and merge-diff every other table."""
    read = _Read({}, {}, {}, {}, {})
    # Not strict: a table added since the older snapshot comes last and is left out.
    for old_table, new_table in zip(old.tables(), new.tables(), strict=False):
        name = new_table.spec.name
        if name == "projects":
            read.old_projects, read.new_projects = (_projects_of(old_table),
                                                    _projects_of(new_table))
        elif name == "weights":
            read.weights_old = {(k, key): w for k, key, w in old_table.rows}
            read.weights_new = {(k, key): w for k, key, w in new_table.rows}
        else:
            read.tables[name] = _merge_diff(old_table, new_table)
    return read


def _weight_changes(read: _Read) -> list[dict[str, Any]]:
    """Return each weight that differs between the snapshots."""
    old, new = read.weights_old, read.weights_new
    return [{"kind": kind, "key": key, "from": old.get((kind, key)), "to": new.get((kind, key))}
            for kind, key in sorted(set(old) | set(new))
            if old.get((kind, key)) != new.get((kind, key))]


def _field_changes_and_moves(read: _Read, touched: set[str]
                             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return projects in both snapshots whose fields changed, and those whose rank or score
    moved; a project with changed fields joins `touched`."""
    field_changes: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for slug, after in read.new_projects.items():
        before = read.old_projects.get(slug)
        if before is None:
            continue
        # The edit version counts edits, it is not a change people look for.
        fields = {c: {"from": before.get(c), "to": after[c]} for c in after
                  if not is_ranking_column(c) and c not in ("slug", "version")
                  and before.get(c) != after[c]}
        if fields:
            field_changes.append({"slug": slug, "title": after["title"], "fields": fields,
                                  "organisation": after["organisation"]})
            touched.add(slug)
        if before.get("rank") != after["rank"] or before.get("score") != after["score"]:
            moves.append({"slug": slug, "title": after["title"], "rank_from": before.get("rank"),
                          "rank_to": after["rank"], "score_from": before.get("score"),
                          "score_to": after["score"], "status_from": before.get("status"),
                          "status_to": after.get("status"), "organisation": after["organisation"]})
    return field_changes, moves


def _difference(a: Any, b: Any, digits: int | None = None) -> Any:
    """Return b - a (rounded), or None when either is missing."""
    if a is None or b is None:
        return None
    return b - a if digits is None else round(b - a, digits)


def _causes(slug: str, shared: list[str], touched: set[str], data_touched: set[str]) -> list[str]:
    """Say why a project moved: shared changes first, then its own or its datasets'."""
    own = [cause for cause, hit in (("project", slug in touched),
                                    ("datasets", slug in data_touched)) if hit]
    return [*shared, *(own or ["other projects"])]


def diff_contents(old: SnapshotContent, new: SnapshotContent) -> dict[str, Any]:
    """Compare two snapshots: projects, fields, ranks, scores, and weight or method changes."""
    old_meta, new_meta = old.meta, new.meta
    read = _read_side_by_side(old, new)
    tables = read.tables
    method_changed = old_meta["method_version"] != new_meta["method_version"]
    criteria_changed = bool(sum(len(v) for v in tables["criteria"].values()))
    weight_changes = _weight_changes(read)
    old_profile, new_profile = old_meta["profile"], new_meta["profile"]
    profile_changed = (old_profile["name"], old_profile["version"]) != (
        new_profile["name"], new_profile["version"])
    weights_changed = bool(weight_changes) or profile_changed

    touched = _projects_touched(tables)
    data_touched = _projects_using(new, {d["code"] for d in tables["datasets"]["changed"]})
    added = [s for s in read.new_projects if s not in read.old_projects]
    removed = [s for s in read.old_projects if s not in read.new_projects]
    field_changes, moves = _field_changes_and_moves(read, touched)
    shared = [cause for cause, hit in (("method", method_changed), ("weights", weights_changed),
                                       ("criteria", criteria_changed)) if hit]
    for move in moves:
        move["rank_change"] = _difference(move["rank_to"], move["rank_from"])
        move["score_change"] = _difference(move["score_from"], move["score_to"], SCORE_DIGITS)
        move["causes"] = _causes(move["slug"], shared, touched, data_touched)
    moves.sort(key=lambda m: (-abs(m["rank_change"] or 0), m["rank_to"] or 10**9, m["slug"]))
    new_names = organisation_names(new) if added or moves or field_changes else {}
    old_names = organisation_names(old) if removed else {}
    for item in (*moves, *field_changes):
        item["organisation_name"] = new_names.get(item["organisation"], item["organisation"])
    return {
        "from": _content_summary(old), "to": _content_summary(new),
        "method": {"changed": method_changed, "from": old_meta["method_version"],
                   "to": new_meta["method_version"]},
        "weights": {"changed": weights_changed, "profile_changed": profile_changed,
                    "from": f"{old_profile['name']} v{old_profile['version']}",
                    "to": f"{new_profile['name']} v{new_profile['version']}",
                    "changes": weight_changes},
        "criteria": {"changed": criteria_changed, **tables.pop("criteria")},
        "projects": {
            "added": [_brief(read.new_projects[s], new_names) for s in added],
            "removed": [_brief(read.old_projects[s], old_names) for s in removed],
            "changed": field_changes,
        },
        "rank_moves": moves,
        "tables": tables,
        "note": _note(method_changed, weights_changed, criteria_changed),
    }


def organisation_names(content: SnapshotContent) -> dict[str, str]:
    """Return the snapshot's organisation names by code (its first table: quick to read)."""
    data = content.table("organisations")
    code, name = data.columns.index("code"), data.columns.index("name")
    return {row[code]: row[name] for row in data.rows}


def _brief(project: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {"slug": project["slug"], "title": project["title"],
            "organisation": project["organisation"],
            "organisation_name": names.get(project["organisation"], project["organisation"]),
            "rank": project["rank"], "score": project["score"]}


def _projects_touched(tables: dict[str, dict[str, list[dict[str, Any]]]]) -> set[str]:
    """Return the projects whose links, dependencies, partners or assessments changed."""
    touched: set[str] = set()
    for name in ("links", "dependencies", "partners", "assessments"):
        for kind in ("added", "removed", "changed"):
            touched.update(item["project"] for item in tables[name][kind])
    return touched


def _projects_using(content: SnapshotContent, datasets: set[str]) -> set[str]:
    """Return the projects linked to any of these datasets."""
    if not datasets:
        return set()
    return {row[0] for row in content.table("links").rows if row[1] in datasets}


def _note(method: bool, weights: bool, criteria: bool) -> str:
    reasons = [w for w, on in (("the scoring method", method), ("the weights", weights),
                               ("the criteria", criteria)) if on]
    if not reasons:
        return "Same method, weights and criteria: rank moves come from changes to the portfolio."
    return ("Changed between the snapshots: " + " and ".join(reasons) + ". Ranks may have moved "
            "because of that, not because the projects changed; each move lists its causes.")


def _content_summary(content: SnapshotContent) -> dict[str, Any]:
    meta = content.meta
    return {"id": content.id, "label": meta["label"], "created_at": meta["created_at"],
            "content_hash": content.content_hash, "method_version": meta["method_version"],
            "profile": meta["profile"]["name"], "profile_version": meta["profile"]["version"],
            "revision": meta["revision"]}


def diff_snapshots(*, session: Session, old_id: int, new_id: int) -> dict[str, Any]:
    """Compare two stored snapshots (old first)."""
    old = load_content(session=session, snapshot_id=old_id)
    new = load_content(session=session, snapshot_id=new_id)
    return diff_contents(old, new)

