"""Load the portfolio into the plain tables the pure scoring library takes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from itertools import chain
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    NullPool,
    and_,
    case,
    create_engine,
    func,
    literal_column,
    select,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from portfolio import revision
from portfolio.errors import NotFound, Unrankable
from portfolio.models import (
    Assessment,
    Criterion,
    CriterionLevel,
    Dataset,
    Organisation,
    ProfileWeight,
    Project,
    ProjectDataset,
    ProjectDependency,
    ProjectPartner,
    SharingAgreement,
    User,
    WeightProfile,
    table_of,
)
from scoring.agreements import standing_of
from scoring.assessors import cell_medians, newest_per_assessor
from scoring.criteria import Criterion as ScoringCriterion
from scoring.weights import InvalidWeights
from scoring.weights import WeightProfile as ScoringProfile

# pandas keeps text in Arrow buffers. Arrow's own allocator (mimalloc) held on to freed
# buffers: a 100,000-project ranking peaked 30 MB higher on it than on the C library's.
pyarrow.set_memory_pool(pyarrow.system_memory_pool())


@dataclass(frozen=True)
class PortfolioFrames:
    """The whole portfolio as DataFrames, read in one consistent transaction."""

    projects: pd.DataFrame
    criteria: tuple[ScoringCriterion, ...]
    levels: pd.DataFrame
    links: pd.DataFrame
    dependencies: pd.DataFrame
    datasets: pd.DataFrame
    partners: pd.DataFrame
    organisations: pd.DataFrame
    # Every assessor's current level (slug, criterion, level) of the cells with several
    # assessors (the rest can never be disputed); `levels` is the median of every cell.
    assessments: pd.DataFrame | None = None


def _frame(session: Session, query: Any, columns: list[str]) -> pd.DataFrame:
    """Run a column query and return its rows as a DataFrame."""
    # The driver's own tuples, fetched past SQLAlchemy's row objects (half the CPU of reading
    # 100,000 projects' assessments), then each column SQLAlchemy would convert (SQLite's
    # booleans, say) converted as it would, one column at a time.
    connection = session.connection()
    result = connection.execute(query)
    try:
        cursor = result.cursor
        processors = [column.type._cached_result_processor(connection.dialect, described[1])
                      for column, described in zip(query.selected_columns, cursor.description,
                                                   strict=True)]
        rows = cursor.fetchall()
    finally:
        result.close()
    frame = pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))
    for name, process in zip(columns, processors, strict=True):
        if process is not None and len(frame):
            # An outer join's missing values come as None (or NaN once pandas has seen them).
            frame[name] = [None if value is None or value != value else process(value)
                           for value in frame[name].tolist()]
    return frame


PROJECT_COLUMNS = [
    "id", "slug", "title", "owner", "theme", "status", "cost_gbp", "effort_pm", "mandatory",
    "priority_override", "reach_people", "confidence_pct", "time_criticality",
]


def override_in_force() -> Any:
    """Return a project's priority override while it is in force (none after its expiry day)."""
    return case((col(Project.override_expires_on) < date.today(), None),
                else_=col(Project.priority_override))


def load_projects(session: Session, ids: Collection[int] | None = None) -> pd.DataFrame:
    """Return every project (or those with these ids) with its owner's code."""
    query = select(
        col(Project.id), col(Project.slug), col(Project.title), col(Organisation.code),
        col(Project.theme), col(Project.status), col(Project.cost_gbp), col(Project.effort_pm),
        col(Project.mandatory), override_in_force(), col(Project.reach_people),
        col(Project.confidence_pct), col(Project.time_criticality),
    ).join(Organisation, col(Organisation.id) == col(Project.owner_id)).order_by(col(Project.slug))
    if ids is not None:
        query = query.where(col(Project.id).in_(sorted(ids)))
    frame = _frame(session, query, PROJECT_COLUMNS)
    for column in ("priority_override", "reach_people", "confidence_pct", "time_criticality"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["mandatory"] = frame["mandatory"].astype(bool)
    return frame


def with_projects_read_again(frames: PortfolioFrames, session: Session,
                             ids: Collection[int]) -> PortfolioFrames | None:
    """Return the frames with these projects' rows and assessments read again; None when they
    cannot be patched.

    Only the projects frame and the assessments (levels) hold what a write logged as changing
    named projects changes: the other frames name a project by its slug, which such a write
    never changes (portfolio/revision.py). None when a project is gone, new or renamed, a
    column would change its type, or a criterion is assessed for the first time.
    """
    fresh = load_projects(session, ids)
    projects = frames.projects
    at = pd.Index(projects["id"]).get_indexer(fresh["id"])
    if (len(fresh) != len(ids) or (at < 0).any()
            or projects["slug"].to_numpy()[at].tolist() != fresh["slug"].tolist()
            or not fresh.dtypes.equals(projects.dtypes) or frames.assessments is None):
        return None
    patched = projects.copy()
    for column in PROJECT_COLUMNS:
        patched.iloc[at, patched.columns.get_loc(column)] = fresh[column].to_numpy()
    rows = _int_rows(session.connection(),
                     ASSESSMENT_ROWS.where(col(Assessment.project_id).in_(sorted(ids))),
                     ASSESSMENT_FIELDS)
    levels, assessments = read_levels(session, fresh, rows)
    if not set(levels.columns) <= set(frames.levels.columns):
        return None
    slugs = set(fresh["slug"])
    return replace(frames, projects=patched,
                   levels=_levels_patched(frames.levels, levels, slugs),
                   assessments=_assessments_patched(frames.assessments, assessments, slugs,
                                                    patched))


def _levels_patched(kept: pd.DataFrame, fresh: pd.DataFrame, slugs: set[str]) -> pd.DataFrame:
    """Return the levels with these projects' rows replaced, laid out as `read_levels` does."""
    others = kept.loc[~kept.index.isin(list(slugs))]
    levels = pd.concat([others, fresh.reindex(columns=kept.columns)]).sort_index()
    # `read_levels` has a column per criterion assessed anywhere, no more.
    levels = levels.loc[:, levels.notna().any().to_numpy()]
    levels.index.name, levels.columns.name = kept.index.name, kept.columns.name
    return levels


def _assessments_patched(kept: pd.DataFrame, fresh: pd.DataFrame, slugs: set[str],
                         projects: pd.DataFrame) -> pd.DataFrame:
    """Return the shared cells' assessments with these projects' replaced, in project id order
    as `read_levels` lays them out (within a project, the order it gives them)."""
    others = kept.loc[~kept["slug"].isin(list(slugs))]
    # Either part alone has the columns' types a read of it alone gives (an empty read's too).
    if others.empty or fresh.empty:
        return (fresh if others.empty else others).reset_index(drop=True)
    merged = pd.concat([others, fresh], ignore_index=True)
    id_of = pd.Series(projects["id"].to_numpy(), index=projects["slug"].to_numpy())
    order = np.argsort(id_of.reindex(merged["slug"].to_numpy()).to_numpy(), kind="stable")
    return merged.take(order).reset_index(drop=True)


def load_criteria(session: Session) -> tuple[ScoringCriterion, ...]:
    """Return the criteria in their display order."""
    rows = cast(list[tuple[str, str, int, int, str]], session.execute(
        select(col(Criterion.key), col(Criterion.dimension), col(Criterion.min_level),
               col(Criterion.max_level),
               col(Criterion.source)).order_by(col(Criterion.position), col(Criterion.key))
    ).all())
    return tuple(ScoringCriterion(key=k, dimension=d, min_level=lo, max_level=hi, source=s)
                 for k, d, lo, hi, s in rows)


def load_assessments(session: Session) -> pd.DataFrame:
    """Return each assessor's latest level per project and criterion (slug, criterion, level).

    Assessments with no assessor recorded (seeds, imports) count as one assessor.
    """
    latest = (
        select(func.max(col(Assessment.id)))
        .group_by(col(Assessment.project_id), col(Assessment.criterion_id),
                  col(Assessment.assessor_id))
        .scalar_subquery()
    )
    query = (
        select(col(Project.slug), col(Criterion.key), col(Assessment.level))
        .join(Project, col(Project.id) == col(Assessment.project_id))
        .join(Criterion, col(Criterion.id) == col(Assessment.criterion_id))
        .where(col(Assessment.id).in_(latest))
    )
    return _frame(session, query, ["slug", "criterion", "level"])


def load_levels(session: Session) -> pd.DataFrame:
    """Return the level that scores per project and criterion (the assessors' median)."""
    return read_levels(session, load_projects(session))[0]


def _int_rows(connection: Connection, query: Any, width: int) -> np.ndarray:
    """Run a query of integer columns (no NULLs); return its rows as an (n, width) array."""
    # Straight from the driver's tuples into one array: no row objects, no per-column frames
    # (a third of the time and a tenth of the memory of a DataFrame of 900,000 assessments).
    result = connection.execute(query)
    try:
        cursor = cast(Any, result.cursor)
        if connection.dialect.name == "sqlite":  # its cursor steps in C
            flat = np.fromiter(chain.from_iterable(cursor), dtype=np.int64)
        else:
            # psycopg steps its cursor in Python: batches of rows take 0.5 s of CPU for
            # 900,000 assessments, one row at a time 0.7 s (measured).
            parts = []
            while rows := cursor.fetchmany(INT_ROWS_BATCH):
                parts.append(np.fromiter(chain.from_iterable(rows), dtype=np.int64))
            flat = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    finally:
        result.close()
    return flat.reshape(-1, width)


INT_ROWS_BATCH = 50_000


# Readers beside a transaction, each on a connection of its own outside the pool: a pooled
# connection could wait for the very transactions that wait for these reads.
_BESIDE: dict[int, ThreadPoolExecutor] = {}  # per process: a forked child has no threads
_UNPOOLED: dict[str, Engine] = {}
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")
BESIDE_LOCK_TIMEOUT = "1s"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout


def _int_rows_beside(session: Session, query: Any, width: int) -> Callable[[], np.ndarray]:
    """Start `_int_rows` on a second connection that sees what this transaction sees.

    On PostgreSQL the server produces the rows while this thread reads the rest (900,000
    assessments are half a second of its work at 100,000 projects); the second connection
    imports this transaction's snapshot, so both read one state of the database (a READ
    COMMITTED transaction's statements each read their own anyway). On SQLite, in a savepoint
    (which cannot export a snapshot), or in a transaction that has written the portfolio (a
    snapshot holds no uncommitted rows), the rows are read here when asked for.
    """
    connection = session.connection()

    def here() -> np.ndarray:
        return _int_rows(connection, query, width)

    if (connection.dialect.name != "postgresql" or session.in_nested_transaction()
            or revision.made_by(session) is not None):
        return here
    snapshot = str(connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar())
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError(f"unexpected snapshot identifier {snapshot!r}")
    url = connection.engine.url.render_as_string(hide_password=False)
    pool = _BESIDE.get(os.getpid())
    if pool is None:
        pool = _BESIDE.setdefault(os.getpid(), ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="portfolio-read-beside"))
    beside = pool.submit(_int_rows_in_snapshot, url, snapshot, query, width)

    def rows() -> np.ndarray:
        found = beside.result()
        # None: the second connection did not open, or waited too long for a lock. Waiting for
        # it here instead lets PostgreSQL see the wait, and break a deadlock if it is one.
        return found if found is not None else here()

    return rows


def _int_rows_in_snapshot(url: str, snapshot: str, query: Any,
                          width: int) -> np.ndarray | None:
    """Return `_int_rows` as read by a new REPEATABLE READ transaction importing `snapshot`.

    None when no connection can be opened (the server's max_connections, say) or a lock is not
    granted within BESIDE_LOCK_TIMEOUT: the first transaction then reads the rows itself.
    """
    engine = _UNPOOLED.get(url)
    if engine is None:
        engine = _UNPOOLED.setdefault(url, create_engine(url, poolclass=NullPool))
    try:
        opened = engine.connect()
    except DBAPIError:
        return None
    with opened.execution_options(isolation_level="REPEATABLE READ") as side:
        # Must be the transaction's first statement; the identifier cannot be a parameter.
        side.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        # PostgreSQL cannot see that the first transaction waits on this one: had a migration
        # locked `assessment` while it waits for a lock the first holds, neither would move.
        side.exec_driver_sql(f"SET LOCAL lock_timeout = '{BESIDE_LOCK_TIMEOUT}'")
        try:
            return _int_rows(side, query, width)
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                return None
            raise


ASSESSMENT_ROWS = select(
    col(Assessment.id), col(Assessment.project_id), col(Assessment.criterion_id),
    func.coalesce(col(Assessment.assessor_id), 0), col(Assessment.level))
ASSESSMENT_FIELDS = 5


@dataclass(frozen=True)
class PackedAssessments:
    """ASSESSMENT_ROWS as one integer per row, each field in its own bits (`packed_query`).

    The driver builds one Python int per row instead of five: at 100,000 projects reading
    900,000 assessments took 0.25 s instead of 0.5 s on SQLite, in a fifth of the memory.
    """

    bits: tuple[int, ...]  # per field of ASSESSMENT_ROWS, lowest last
    lowest_level: int

    @property
    def shifts(self) -> list[int]:
        """Return where each field starts, counted from the lowest bit."""
        return [sum(self.bits[i + 1:]) for i in range(len(self.bits))]

    def query(self, bounds: tuple[int, ...]) -> Any:
        """Return the query of packed rows; a row outside `bounds` reads as -1."""
        record, project, criterion, assessor, level = ASSESSMENT_ROWS.selected_columns
        fields = [record, project, criterion, assessor, level - self.lowest_level]
        packed = None
        for field, shift in zip(fields, self.shifts, strict=True):
            # The shift written out: PostgreSQL has no bigint << bigint for a bound parameter.
            part = (cast_bigint(field).op("<<")(literal_column(str(int(shift)))) if shift
                    else cast_bigint(field))
            packed = part if packed is None else packed.op("|")(part)
        top_record, top_project, top_criterion, top_assessor, top_level = bounds
        # Bounds read before the rows: a row committed between the two (a transaction that
        # reads commit by commit) may not fit its bits, and then everything is read unpacked.
        inside = and_(record <= top_record, project <= top_project,
                      criterion <= top_criterion, assessor <= top_assessor,
                      level.between(self.lowest_level, top_level))
        return select(case((inside, packed), else_=-1)).select_from(table_of(Assessment))

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        """Return the packed rows as ASSESSMENT_ROWS gives them, (n, 5)."""
        rows = np.empty((packed.size, ASSESSMENT_FIELDS), dtype=np.int64)
        for i, (bits, shift) in enumerate(zip(self.bits, self.shifts, strict=True)):
            rows[:, i] = (packed >> shift) & ((1 << bits) - 1)
        rows[:, ASSESSMENT_FIELDS - 1] += self.lowest_level
        return rows


def cast_bigint(value: Any) -> Any:
    """Return a column as a 64-bit integer (PostgreSQL's shifts keep a 32-bit column's width)."""
    return sa_cast(value, BigInteger)


PACKED_BITS = 63  # a signed 64-bit integer's, the sign left for the -1 of a row out of bounds


def assessment_reader(session: Session) -> tuple[Any, int, Callable[[np.ndarray], np.ndarray]]:
    """Return (query, width, unpack) that read ASSESSMENT_ROWS, packed where the ids fit."""
    bounds_query = select(
        select(func.max(col(Assessment.id))).scalar_subquery(),
        select(func.max(col(Project.id))).scalar_subquery(),
        select(func.max(col(Criterion.id))).scalar_subquery(),
        select(func.max(col(User.id))).scalar_subquery(),
        select(func.min(col(CriterionLevel.level))).scalar_subquery(),
        select(func.max(col(CriterionLevel.level))).scalar_subquery())
    found = session.execute(bounds_query).one()
    record, project, criterion, assessor, low, high = (int(v or 0) for v in found)
    bits = tuple(max(1, int(v).bit_length()) for v in (record, project, criterion, assessor))
    packing = PackedAssessments((*bits, max(1, (high - low).bit_length())), low)
    if min(record, project, criterion, assessor) < 0 or sum(packing.bits) > PACKED_BITS:
        return ASSESSMENT_ROWS, ASSESSMENT_FIELDS, lambda rows: rows
    return packing.query((record, project, criterion, assessor, high)), 1, packing.unpack


def _assessment_rows(read: Callable[[], np.ndarray], session: Session,
                     unpack: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Return ASSESSMENT_ROWS from a packed read, read again unpacked if a row did not fit."""
    packed = read()
    if packed.shape[1] == ASSESSMENT_FIELDS:
        return packed
    if (packed < 0).any():
        return _int_rows(session.connection(), ASSESSMENT_ROWS, ASSESSMENT_FIELDS)
    return unpack(packed.reshape(-1))


def read_levels(session: Session, projects: pd.DataFrame, rows: np.ndarray | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the levels that score (as `aggregate_levels`) and the shared cells' assessments.

    The second table (slug, criterion, level) holds every current level of the cells with
    several assessors: the only cells whose levels robustness may draw (`disputes`).
    `projects` is `load_projects`'s table (ids and slugs); `rows`, ASSESSMENT_ROWS already read.
    """
    if rows is None:
        query, width, unpack = assessment_reader(session)
        rows = _assessment_rows(lambda: _int_rows(session.connection(), query, width), session,
                                unpack)
    key_of = {int(cast(int, i)): str(k) for i, k in session.execute(
        select(col(Criterion.id), col(Criterion.key))).all()}
    current = rows[newest_per_assessor(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])]
    project, criterion, median, shared = cell_medians(current[:, 1], current[:, 2], current[:, 4])
    slug_of = pd.Series(projects["slug"].to_numpy(dtype=object),
                        index=projects["id"].to_numpy(dtype=np.int64))
    # As pivot lays it out: a row per assessed project and a column per assessed criterion.
    project_ids, criterion_ids = np.unique(project), np.unique(criterion)
    table = np.full((project_ids.size, criterion_ids.size), np.nan)
    table[np.searchsorted(project_ids, project), np.searchsorted(criterion_ids, criterion)] = median
    levels = pd.DataFrame(
        table, index=pd.Index(slug_of.reindex(project_ids).to_numpy(), name="slug"),
        columns=pd.Index([key_of[int(c)] for c in criterion_ids], name="criterion"),
    ).sort_index().sort_index(axis=1)
    shared_rows = current[shared]
    assessments = pd.DataFrame({
        "slug": slug_of.reindex(shared_rows[:, 1]).to_numpy(),
        "criterion": [key_of[int(c)] for c in shared_rows[:, 2]],
        "level": shared_rows[:, 4]})
    return levels, assessments


LINK_COLUMNS = ["project", "dataset", "relation", "required", "fit_for_task", "agreement", "drl",
                "agreement_code", "agreement_status", "signed_on", "expires_on"]


def load_links(session: Session, as_of: date | None = None) -> pd.DataFrame:
    """Return every project-dataset link with its agreement word as it stands on a day.

    A link that refers to an agreement record takes the record's standing on `as_of` (today
    by default); one that does not keeps its own word (DESIGN.md, "Data-sharing agreements").
    """
    links = _frame(
        session,
        select(col(Project.slug), col(Dataset.code), col(ProjectDataset.relation),
               col(ProjectDataset.required), col(ProjectDataset.fit_for_task),
               col(ProjectDataset.agreement), col(Dataset.drl), col(SharingAgreement.code),
               col(SharingAgreement.status), col(SharingAgreement.signed_on),
               col(SharingAgreement.expires_on))
        .join(Project, col(Project.id) == col(ProjectDataset.project_id))
        .join(Dataset, col(Dataset.id) == col(ProjectDataset.dataset_id))
        .outerjoin(SharingAgreement,
                   col(SharingAgreement.id) == col(ProjectDataset.sharing_agreement_id)),
        LINK_COLUMNS,
    )
    links["required"] = links["required"].astype(bool)
    recorded = links["agreement_code"].notna()
    if recorded.any():
        sub = links.loc[recorded]
        links.loc[recorded, "agreement"] = standing_of(
            sub["agreement_status"], sub["signed_on"], sub["expires_on"],
            as_of or date.today()).to_numpy()
    return links.drop(columns=["agreement_status", "signed_on", "expires_on"])


def load_portfolio(session: Session, as_of: date | None = None) -> PortfolioFrames:
    """Read the whole portfolio into DataFrames, agreements as they stand on a day (today)."""
    query, width, unpack = assessment_reader(session)
    assessment_rows = _int_rows_beside(session, query, width)
    links = load_links(session, as_of)
    prerequisite = table_of(Project).alias("prerequisite")
    dependencies = _frame(
        session,
        select(col(Project.slug), prerequisite.c.slug)
        .join(ProjectDependency, col(ProjectDependency.project_id) == col(Project.id))
        .join(prerequisite, prerequisite.c.id == col(ProjectDependency.depends_on_id)),
        ["project", "depends_on"],
    )
    datasets = _frame(
        session,
        select(col(Dataset.code), col(Dataset.title), col(Organisation.code), col(Dataset.access),
               col(Dataset.drl), col(Dataset.update_frequency))
        .join(Organisation, col(Organisation.id) == col(Dataset.publisher_id)),
        ["code", "title", "publisher", "access", "drl", "update_frequency"],
    )
    partners = _frame(
        session,
        select(col(Project.slug), col(Organisation.code), col(ProjectPartner.role))
        .join(Project, col(Project.id) == col(ProjectPartner.project_id))
        .join(Organisation, col(Organisation.id) == col(ProjectPartner.organisation_id)),
        ["project", "organisation", "role"],
    )
    organisations = _frame(
        session, select(col(Organisation.code), col(Organisation.name), col(Organisation.kind)),
        ["code", "name", "kind"],
    )
    projects = load_projects(session)
    levels, assessments = read_levels(session, projects,
                                      _assessment_rows(assessment_rows, session, unpack))
    return PortfolioFrames(
        projects=projects, criteria=load_criteria(session),
        levels=levels, links=links, dependencies=dependencies,
        datasets=datasets, partners=partners, organisations=organisations,
        assessments=assessments,
    )


@dataclass(frozen=True)
class StoredProfile:
    """A weight profile as stored, with the weights the scoring library takes."""

    id: int
    name: str
    version: int
    description: str
    weights: ScoringProfile


def load_profile(session: Session, name: str | None) -> StoredProfile:
    """Return a profile by name (the first one when no name is given)."""
    query = select(WeightProfile)
    # With no name, the first profile still in use.
    query = (query.where(col(WeightProfile.name) == name) if name else query.order_by(
        col(WeightProfile.retired_at).is_not(None), col(WeightProfile.id)))
    row = session.execute(query).scalars().first()
    if row is None:
        # Unnamed, the refusal said "no weight profile None": the portfolio has none at all.
        raise NotFound("weight profile", name, message=None if name else (
            "no weight profile yet: the CDO or an admin adds one on the Profiles page "
            "(portfolio seed london loads the demo's)"))
    weights = session.execute(
        select(col(ProfileWeight.kind), col(ProfileWeight.key), col(ProfileWeight.weight))
        .where(col(ProfileWeight.profile_id) == row.id)
    ).all()
    dimension = {k: w for kind, k, w in weights if kind == "dimension"}
    criterion = {k: w for kind, k, w in weights if kind == "criterion"}
    try:
        scoring = ScoringProfile(name=row.name, dimension_weights=dimension,
                                 criterion_weights=criterion)
    except InvalidWeights as exc:
        # Stored before weights were checked as they are now: one profile, not every page.
        raise Unrankable(f"the weight profile {row.name!r} cannot rank projects ({exc}); the "
                         "CDO or an administrator must set its weights again") from None
    return StoredProfile(id=row.id, name=row.name, version=row.version,
                         description=row.description, weights=scoring)
