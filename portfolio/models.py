"""Tables of the portfolio: organisations, projects, datasets, links, criteria, assessments."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from portfolio.enums import (
    Access,
    Agreement,
    CriterionSource,
    Decision,
    Dimension,
    DpiaStatus,
    FitForTask,
    LinkRelation,
    OrganisationKind,
    PartnerRole,
    ProjectStatus,
    ReadinessLevel,
    Role,
    Theme,
    UpdateFrequency,
    WeightKind,
    WeightMethod,
    check_in,
)

# Named constraints keep Alembic's batch mode on SQLite and autogenerate comparisons stable.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def timestamp_column(nullable: bool = False) -> Column:
    """Return a timezone-aware timestamp column."""
    return Column(DateTime(timezone=True), nullable=nullable)


def row_id(row: SQLModel) -> int:
    """Return a saved row's id (SQLModel types it optional until the row is flushed)."""
    value = getattr(row, "id", None)
    assert isinstance(value, int), f"{type(row).__name__} not saved yet"
    return value


class Organisation(SQLModel, table=True):
    """The GLA, a borough, a GLA group body or a partner."""

    __tablename__ = "organisation"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint(check_in("kind", OrganisationKind), name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32)


class OrganisationCapacity(SQLModel, table=True):
    """An organisation's capacity in person-months a quarter, from a quarter until restated."""

    __tablename__ = "organisation_capacity"
    __table_args__ = (
        UniqueConstraint("organisation_id", "quarter_start"),
        CheckConstraint("person_months >= 0", name="person_months_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    quarter_start: date  # the first day of a calendar quarter
    person_months: float


class User(SQLModel, table=True):
    """A person who signs in, with one role and, for leads, one organisation."""

    __tablename__ = "user_account"
    __table_args__ = (
        UniqueConstraint("email"),
        CheckConstraint(check_in("role", Role), name="role"),
        CheckConstraint("role <> 'lead' OR organisation_id IS NOT NULL", name="lead_has_org"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class Project(SQLModel, table=True):
    """A data project owned by one organisation."""

    __tablename__ = "project"
    __table_args__ = (
        UniqueConstraint("slug"),
        CheckConstraint(check_in("status", ProjectStatus), name="status"),
        CheckConstraint(check_in("theme", Theme), name="theme"),
        CheckConstraint(check_in("dpia_status", DpiaStatus), name="dpia_status"),
        CheckConstraint("cost_gbp >= 0", name="cost_non_negative"),
        CheckConstraint("effort_pm >= 0", name="effort_non_negative"),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_ordered"
        ),
        CheckConstraint(
            "NOT mandatory OR length(mandatory_justification) > 0", name="mandatory_justified"
        ),
        CheckConstraint("reach_people IS NULL OR reach_people >= 0", name="reach_non_negative"),
        CheckConstraint(
            "confidence_pct IS NULL OR (confidence_pct >= 0 AND confidence_pct <= 100)",
            name="confidence_range",
        ),
        CheckConstraint(
            "time_criticality IS NULL OR (time_criticality >= 1 AND time_criticality <= 5)",
            name="time_criticality_range",
        ),
        CheckConstraint(
            "priority_override IS NULL OR (priority_override >= 0 AND priority_override <= 100)",
            name="override_range",
        ),
        CheckConstraint(
            "priority_override IS NULL OR length(override_justification) > 0",
            name="override_justified",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_project_owner_status", "owner_id", "status"),
        Index("ix_project_theme_status", "theme", "status"),
        Index("ix_project_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=Text)
    owner_id: int = Field(foreign_key="organisation.id")
    theme: str = Field(max_length=32)
    status: str = Field(default=ProjectStatus.IDEA.value, max_length=16)
    cost_gbp: int = Field(default=0)
    effort_pm: float = Field(default=0.0)
    start_date: date | None = None
    end_date: date | None = None
    personal_data: bool = Field(default=False)
    dpia_status: str = Field(default=DpiaStatus.NOT_NEEDED.value, max_length=16)
    mandatory: bool = Field(default=False)
    mandatory_justification: str = Field(default="", sa_type=Text)
    reach_people: int | None = None
    confidence_pct: int | None = None
    time_criticality: int | None = None
    priority_override: float | None = None
    override_justification: str = Field(default="", sa_type=Text)
    override_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    override_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    # The override stops counting after this day (None: until someone clears it).
    override_expires_on: date | None = None
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class Dataset(SQLModel, table=True):
    """A dataset with its publisher, access and Data Readiness Level (bands C and B)."""

    __tablename__ = "dataset"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint(check_in("access", Access), name="access"),
        CheckConstraint(check_in("update_frequency", UpdateFrequency), name="update_frequency"),
        CheckConstraint(check_in("drl", ReadinessLevel), name="drl"),
        Index("ix_dataset_publisher", "publisher_id"),
        Index("ix_dataset_source_identifier", "source_identifier"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=120)
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_type=Text)
    publisher_id: int = Field(foreign_key="organisation.id")
    access: str = Field(max_length=16)
    licence: str = Field(default="", max_length=120)
    update_frequency: str = Field(default=UpdateFrequency.ADHOC.value, max_length=16)
    drl: str = Field(default=ReadinessLevel.C4.value, max_length=2)
    # Where the catalogue entry was published: the portal's own identifier, the page, the
    # formats it is offered in and when the portal last saw it change (set by a harvest).
    source_identifier: str | None = Field(default=None, max_length=300)
    url: str = Field(default="", max_length=1000)
    formats: str = Field(default="", max_length=300)
    source_modified: date | None = Field(default=None)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ProjectDataset(SQLModel, table=True):
    """A project uses or produces a dataset; fitness for the task is band A of the DRL."""

    __tablename__ = "project_dataset"
    __table_args__ = (
        UniqueConstraint("project_id", "dataset_id", "relation"),
        CheckConstraint(check_in("relation", LinkRelation), name="relation"),
        CheckConstraint(check_in("fit_for_task", FitForTask), name="fit_for_task"),
        CheckConstraint(check_in("agreement", Agreement), name="agreement"),
        Index("ix_project_dataset_dataset", "dataset_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    dataset_id: int = Field(foreign_key="dataset.id", ondelete="CASCADE")
    relation: str = Field(default=LinkRelation.USES.value, max_length=16)
    required: bool = Field(default=True)
    fit_for_task: str = Field(default=FitForTask.UNKNOWN.value, max_length=16)
    agreement: str = Field(default=Agreement.NONE.value, max_length=16)


class ProjectDependency(SQLModel, table=True):
    """A project depends on (waits for) another project."""

    __tablename__ = "project_dependency"
    __table_args__ = (
        UniqueConstraint("project_id", "depends_on_id"),
        CheckConstraint("project_id <> depends_on_id", name="not_self"),
        Index("ix_project_dependency_depends_on", "depends_on_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    depends_on_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    note: str = Field(default="", sa_type=Text)


class ProjectPartner(SQLModel, table=True):
    """An organisation partners in a project with a role."""

    __tablename__ = "project_partner"
    __table_args__ = (
        UniqueConstraint("project_id", "organisation_id"),
        CheckConstraint(check_in("role", PartnerRole), name="role"),
        Index("ix_project_partner_organisation", "organisation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    role: str = Field(default=PartnerRole.PARTNER.value, max_length=16)


class Criterion(SQLModel, table=True):
    """A criterion of one dimension with an absolute ordinal scale."""

    __tablename__ = "criterion"
    __table_args__ = (
        UniqueConstraint("key"),
        CheckConstraint(check_in("dimension", Dimension), name="dimension"),
        CheckConstraint(check_in("source", CriterionSource), name="source"),
        CheckConstraint("min_level < max_level", name="scale_ordered"),
        CheckConstraint("default_weight >= 0", name="weight_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    dimension: str = Field(max_length=16)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    source: str = Field(default=CriterionSource.ASSESSED.value, max_length=16)
    min_level: int = Field(default=1)
    max_level: int = Field(default=5)
    default_weight: float = Field(default=1.0)
    position: int = Field(default=0)


class CriterionLevel(SQLModel, table=True):
    """One level of a criterion's scale with its descriptor."""

    __tablename__ = "criterion_level"
    __table_args__ = (UniqueConstraint("criterion_id", "level"),)

    id: int | None = Field(default=None, primary_key=True)
    criterion_id: int = Field(foreign_key="criterion.id", ondelete="CASCADE")
    level: int
    descriptor: str = Field(sa_type=Text)


class Assessment(SQLModel, table=True):
    """A project's level on a criterion; rows are appended, never overwritten."""

    __tablename__ = "assessment"
    __table_args__ = (
        # The level must be one of the criterion's defined levels: the scale lives in the database.
        ForeignKeyConstraint(
            ["criterion_id", "level"],
            ["criterion_level.criterion_id", "criterion_level.level"],
            name="fk_assessment_level_criterion_level",
        ),
        Index("ix_assessment_project_criterion", "project_id", "criterion_id", "id"),
        # A project's history, newest first: without it PostgreSQL walked the primary key
        # backwards through every project's assessments (64 ms at 100,000 projects).
        Index("ix_assessment_project_id", "project_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    criterion_id: int = Field(foreign_key="criterion.id")
    level: int
    rationale: str = Field(default="", sa_type=Text)
    assessor_id: int | None = Field(default=None, foreign_key="user_account.id")
    assessed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class WeightProfile(SQLModel, table=True):
    """A named set of dimension and criterion weights, direct or from AHP comparisons."""

    __tablename__ = "weight_profile"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint(check_in("method", WeightMethod), name="method"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", sa_type=Text)
    method: str = Field(default=WeightMethod.DIRECT.value, max_length=16)
    ahp_matrix: dict | None = Field(default=None, sa_type=JSON)
    consistency_ratio: float | None = None
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    retired_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))


class ProfileWeight(SQLModel, table=True):
    """One weight of a profile, for a dimension or a criterion."""

    __tablename__ = "profile_weight"
    __table_args__ = (
        UniqueConstraint("profile_id", "kind", "key"),
        CheckConstraint(check_in("kind", WeightKind), name="kind"),
        CheckConstraint("weight >= 0", name="weight_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="weight_profile.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    key: str = Field(max_length=64)
    weight: float


class ProfileRevision(SQLModel, table=True):
    """A past state of a weight profile, kept when the profile changes."""

    __tablename__ = "profile_revision"
    __table_args__ = (
        UniqueConstraint("profile_id", "version"),
        CheckConstraint(check_in("method", WeightMethod), name="method"),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="weight_profile.id", ondelete="CASCADE")
    version: int
    weights: dict = Field(sa_type=JSON)
    method: str = Field(default=WeightMethod.DIRECT.value, max_length=16)
    ahp_matrix: dict | None = Field(default=None, sa_type=JSON)
    consistency_ratio: float | None = None
    changed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    changed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class Scenario(SQLModel, table=True):
    """A saved plan request: a profile, a budget, a capacity and projects forced in or out."""

    __tablename__ = "scenario"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("budget_gbp >= 0", name="budget_non_negative"),
        CheckConstraint("capacity_pm >= 0", name="capacity_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", sa_type=Text)
    profile_id: int | None = Field(default=None, foreign_key="weight_profile.id",
                                   ondelete="SET NULL")
    budget_gbp: float
    capacity_pm: float
    force_in: list = Field(default_factory=list, sa_type=JSON)
    force_out: list = Field(default_factory=list, sa_type=JSON)
    version: int = Field(default=1)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ReviewDecision(SQLModel, table=True):
    """A CDO's decision on a project, with a rationale."""

    __tablename__ = "review_decision"
    __table_args__ = (
        CheckConstraint(check_in("decision", Decision), name="decision"),
        CheckConstraint("length(rationale) > 0", name="rationale_given"),
        Index("ix_review_decision_project", "project_id", "decided_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    decision: str = Field(max_length=24)
    rationale: str = Field(sa_type=Text)
    decided_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    # A "needs information" decision's question is its rationale; the lead's answer goes here.
    answer: str | None = Field(default=None, sa_type=Text)
    answered_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    answered_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))


class AuditEvent(SQLModel, table=True):
    """Who changed what and when, with the fields before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity", "entity_id", "id"),
        Index("ix_audit_event_project", "project_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    action: str = Field(max_length=32)
    entity: str = Field(max_length=32)
    entity_id: int | None = None
    # The project an event concerns (itself or one of its links), for the project's history.
    # No foreign key: the trail outlives what it describes.
    project_id: int | None = None
    before: dict | None = Field(default=None, sa_type=JSON)
    after: dict | None = Field(default=None, sa_type=JSON)


class PortfolioRevision(SQLModel, table=True):
    """A counter every write moves on, so stored rankings know when they are stale."""

    __tablename__ = "portfolio_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = Field(default=0)


class RankingRun(SQLModel, table=True):
    """The engine's results for one weight profile at one portfolio revision."""

    __tablename__ = "ranking_run"
    __table_args__ = (
        UniqueConstraint("profile_id", "profile_version", "revision", "method_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(foreign_key="weight_profile.id", ondelete="CASCADE")
    profile_version: int
    revision: int
    method_version: str = Field(max_length=32)
    samples: int = Field(default=0)
    top_k: int = Field(default=10)
    seconds: float = Field(default=0.0)
    computed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    # Rows go in by short batches so edits never wait long for SQLite's one write lock;
    # readers see a run only once it is complete (marked last).
    complete: bool = Field(default=False)
    rows_stored: int = Field(default=0)


class RankingRow(SQLModel, table=True):
    """One project's place in a ranking run, with everything that explains it."""

    __tablename__ = "ranking_row"
    __table_args__ = (
        Index("ix_ranking_row_run_position", "run_id", "position", unique=True),
        Index("ix_ranking_row_run_view_position", "run_id", "backlog_view", "view_position",
              unique=True),
        CheckConstraint("backlog_view IN ('candidates', 'committed')", name="view"),
    )

    run_id: int = Field(foreign_key="ranking_run.id", primary_key=True, ondelete="CASCADE")
    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    position: int  # in the whole dependency-aware order
    backlog_view: str = Field(max_length=16)  # candidates or committed
    view_position: int  # the rank shown: the place among the same view's projects
    composite: float | None = None
    impact: float | None = None
    feasibility: float | None = None
    readiness: float | None = None
    coverage: float = Field(default=0.0)
    score_status: str = Field(max_length=16)
    priority: float | None = None
    effective_priority: float | None = None
    effective_mandatory: bool = Field(default=False)
    p_top_k: float | None = None
    rank_p05: int | None = None
    rank_p95: int | None = None
    fragile: bool = Field(default=False)
    unlock_value: float = Field(default=0.0)
    rice: float | None = None
    wsjf: float | None = None
    bottleneck_dataset: str | None = Field(default=None, max_length=120)
    blocked_by: list = Field(default_factory=list, sa_type=JSON)
    unblocks: list = Field(default_factory=list, sa_type=JSON)
    blocked_by_other_view: list = Field(default_factory=list, sa_type=JSON)
    contributions: dict = Field(default_factory=dict, sa_type=JSON)


class Snapshot(SQLModel, table=True):
    """A frozen copy of the portfolio, its weights and its ranking; never changed once written."""

    __tablename__ = "snapshot"
    __table_args__ = (
        UniqueConstraint("content_hash"),
        CheckConstraint("length(content_hash) = 64", name="hash_length"),
        Index("ix_snapshot_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=200)
    author_id: int | None = Field(default=None, foreign_key="user_account.id")
    author: str = Field(max_length=254)
    created_at: datetime = Field(sa_column=timestamp_column())
    profile_name: str = Field(max_length=120)
    profile_version: int
    method_version: str = Field(max_length=32)
    revision: int
    # sha256 (hex) of the canonical serialisation before compression; it seals the payload.
    content_hash: str = Field(max_length=64)
    payload: bytes = Field(sa_type=LargeBinary)
    payload_bytes: int = Field(sa_type=BigInteger)
    row_counts: dict = Field(default_factory=dict, sa_type=JSON)


class ApiToken(SQLModel, table=True):
    """A token a script presents instead of a password; it carries its owner's permissions."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"), Index("ix_api_token_user", "user_id"))

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=12)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    last_used_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    # Chosen at creation (90 days by default); a token past it is refused like a revoked one.
    expires_at: datetime = Field(sa_column=timestamp_column())


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random secret, the table its hash and its life.

    Signing out, signing out everywhere and deactivating the user end the row; a copied cookie
    then signs nobody in.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user", "user_id", "ended_at"),)

    # sha256 (hex) of the cookie's secret: a leaked table cannot be replayed as cookies.
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    ended_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    client: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)


class LoginAttempt(SQLModel, table=True):
    """A sign-in attempt, kept to rate-limit guessing across every worker."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=254)
    at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    success: bool = Field(default=False)


class ImportRun(SQLModel, table=True):
    """One spreadsheet import: who ran it, when, from where, and its report (kept to read later)."""

    __tablename__ = "import_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'imported', 'unchanged', 'checked', 'refused', "
                        "'failed')", name="status"),
        CheckConstraint("source IN ('page', 'api', 'cli')", name="source"),
        Index("ix_import_run_started", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id",
                                 ondelete="SET NULL")
    filename: str = Field(max_length=255)
    source: str = Field(max_length=8)
    dry_run: bool = Field(default=False)
    status: str = Field(default="running", max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    finished_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    rows: int = Field(default=0)
    created: int = Field(default=0)
    updated: int = Field(default=0)
    unchanged: int = Field(default=0)
    errors: int = Field(default=0)
    # The whole report (created and updated slugs, every error) or why the import failed.
    report: dict | None = Field(default=None, sa_type=JSON)
    failure: str | None = Field(default=None, sa_type=Text)


class BenefitRealisation(SQLModel, table=True):
    """What a delivered project achieved against its estimate, with the lead's review."""

    __tablename__ = "benefit_realisation"
    __table_args__ = (
        UniqueConstraint("project_id"),
        CheckConstraint("people_reached IS NULL OR people_reached >= 0",
                        name="reach_non_negative"),
        CheckConstraint("savings_gbp IS NULL OR savings_gbp >= 0", name="savings_non_negative"),
        CheckConstraint("length(outcome) > 0", name="outcome_given"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    people_reached: int | None = None
    savings_gbp: int | None = Field(default=None, sa_type=BigInteger)
    outcome: str = Field(sa_type=Text)
    review: str = Field(default="", sa_type=Text)
    measured_on: date
    # The estimate as it stood when the result was recorded: editing it later cannot flatter
    # the accuracy shown.
    estimated_reach_people: int | None = None
    estimated_reach_level: int | None = None
    estimated_savings_level: int | None = None
    recorded_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    version: int = Field(default=1)


class DismissedSuggestion(SQLModel, table=True):
    """A collaboration suggestion someone set aside, with why, so it does not come back."""

    __tablename__ = "dismissed_suggestion"
    __table_args__ = (
        UniqueConstraint("members"),
        CheckConstraint("length(reason) > 0", name="reason_given"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The project ids of the group, sorted and comma-separated: a group with a new member is a
    # new suggestion.
    members: str = Field(max_length=2000)
    reason: str = Field(sa_type=Text)
    dismissed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    dismissed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
