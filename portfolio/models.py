"""Tables of the portfolio: organisations, projects, datasets, links, criteria, assessments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

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
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
)
from sqlmodel import Field, SQLModel

from portfolio.enums import (
    Access,
    Agreement,
    AgreementStatus,
    AttachmentOwner,
    CriterionSource,
    Decision,
    Dimension,
    DocumentKind,
    DpiaStatus,
    FitForTask,
    IgStage,
    IgStatus,
    LawfulBasis,
    LinkRelation,
    OrganisationKind,
    PartnerRole,
    PartyRole,
    ProjectStatus,
    ReadinessLevel,
    Role,
    SpecialCategoryCondition,
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


def table_of(model: type[SQLModel]) -> Table:
    """Return a table model's Core table (for bulk inserts and aliases)."""
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp read back in UTC with its zone on every database."""

    # SQLite keeps no zone: its times came back naive where PostgreSQL's are aware, so the
    # API answered one scenario's created_at with +00:00 from POST and without from GET.
    impl = DateTime(timezone=True)
    cache_ok = True

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        """Type a value beside the column as the timestamp type would (a timedelta: interval)."""
        # The decorator's default types it as itself, which binds `updated_at + timedelta`'s
        # timedelta as a timestamp: SQLite's driver refuses it, PostgreSQL cannot cast it.
        return self.impl.coerce_compared_value(op, value)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        """Read a stored time without a zone as the UTC it was written in (utcnow)."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def timestamp_column(nullable: bool = False) -> Column:
    """Return a timezone-aware timestamp column."""
    return Column(UtcDateTime(), nullable=nullable)


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
    # None: first signed in through the identity provider with no mapped group, waiting for
    # an admin to give a role.
    role: str | None = Field(default=None, max_length=16)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    # Set when an admin chose the password (a new user, a reset): the user picks their own first.
    must_change_password: bool = Field(default=False)
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
    # Archived: out of lists and the ranking, still reachable at its URL (never deleted).
    archived_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
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
        Index("ix_project_dataset_sharing_agreement", "sharing_agreement_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    dataset_id: int = Field(foreign_key="dataset.id", ondelete="CASCADE")
    relation: str = Field(default=LinkRelation.USES.value, max_length=16)
    required: bool = Field(default=True)
    fit_for_task: str = Field(default=FitForTask.UNKNOWN.value, max_length=16)
    # The link's own word, read only when it refers to no agreement record: `not_needed` or
    # `none` (bulk loads may still write the older words; DESIGN.md, "Data-sharing agreements").
    agreement: str = Field(default=Agreement.NONE.value, max_length=16)
    sharing_agreement_id: int | None = Field(default=None, foreign_key="sharing_agreement.id",
                                             ondelete="SET NULL")


class SharingAgreement(SQLModel, table=True):
    """A data-sharing agreement: its parties, the datasets it covers, its basis and dates."""

    __tablename__ = "sharing_agreement"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint(check_in("status", AgreementStatus), name="status"),
        CheckConstraint(f"lawful_basis IS NULL OR {check_in('lawful_basis', LawfulBasis)}",
                        name="lawful_basis"),
        CheckConstraint(f"special_category_condition IS NULL OR "
                        f"{check_in('special_category_condition', SpecialCategoryCondition)}",
                        name="special_category_condition"),
        CheckConstraint("expires_on IS NULL OR signed_on IS NULL OR expires_on >= signed_on",
                        name="expiry_after_signing"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_sharing_agreement_expires_on", "expires_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=120)
    title: str = Field(max_length=300)
    purpose: str = Field(default="", sa_type=Text)
    lawful_basis: str | None = Field(default=None, max_length=32)
    special_category_condition: str | None = Field(default=None, max_length=40)
    dpia_reference: str = Field(default="", max_length=200)
    signed_on: date | None = None
    review_on: date | None = None
    expires_on: date | None = None
    status: str = Field(default=AgreementStatus.DRAFTING.value, max_length=16)
    document_url: str = Field(default="", max_length=1000)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class AgreementParty(SQLModel, table=True):
    """An organisation party to an agreement, as controller, processor or recipient."""

    __tablename__ = "agreement_party"
    __table_args__ = (
        UniqueConstraint("agreement_id", "organisation_id"),
        CheckConstraint(check_in("role", PartyRole), name="role"),
        Index("ix_agreement_party_organisation", "organisation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="sharing_agreement.id", ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    role: str = Field(max_length=16)


class AgreementSignature(SQLModel, table=True):
    """One party's signature of an agreement's terms: when, and who recorded it.

    A party's lead records only their own organisation's; the agreement is signed when every
    party has signed (DESIGN.md, "Data-sharing agreements"). A change of terms clears them.
    """

    __tablename__ = "agreement_signature"
    __table_args__ = (UniqueConstraint("agreement_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="sharing_agreement.id", ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    # None: signed on a day not recorded (an agreement recorded as signed without its date
    # before signatures were kept per party, migration 0031).
    signed_on: date | None = None
    # None: recorded by the system, or before signatures were kept per party.
    signed_by_id: int | None = Field(default=None, foreign_key="user_account.id",
                                     ondelete="SET NULL")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class AgreementDataset(SQLModel, table=True):
    """A dataset an agreement covers."""

    __tablename__ = "agreement_dataset"
    __table_args__ = (
        UniqueConstraint("agreement_id", "dataset_id"),
        Index("ix_agreement_dataset_dataset", "dataset_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="sharing_agreement.id", ondelete="CASCADE")
    dataset_id: int = Field(foreign_key="dataset.id", ondelete="CASCADE")


class ProjectIgStage(SQLModel, table=True):
    """One information governance stage of a project, with its status and date."""

    __tablename__ = "project_ig_stage"
    __table_args__ = (
        UniqueConstraint("project_id", "stage"),
        CheckConstraint(check_in("stage", IgStage), name="stage"),
        CheckConstraint(check_in("status", IgStatus), name="status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    stage: str = Field(max_length=24)
    status: str = Field(default=IgStatus.NOT_STARTED.value, max_length=16)
    dated_on: date | None = None
    note: str = Field(default="", sa_type=Text)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class DatasetReadinessAssessment(SQLModel, table=True):
    """A dataset's readiness level as someone assessed it, with the evidence; never overwritten."""

    __tablename__ = "dataset_readiness_assessment"
    __table_args__ = (
        CheckConstraint(check_in("drl", ReadinessLevel), name="drl"),
        CheckConstraint("length(evidence) > 0", name="evidence_given"),
        Index("ix_dataset_readiness_assessment_dataset", "dataset_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", ondelete="CASCADE")
    drl: str = Field(max_length=2)
    previous_drl: str | None = Field(default=None, max_length=2)
    evidence: str = Field(sa_type=Text)
    assessor_id: int | None = Field(default=None, foreign_key="user_account.id",
                                    ondelete="SET NULL")
    assessed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


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


class PartnerRequest(SQLModel, table=True):
    """An organisation asking to partner in another's project, until the owning side answers.

    Not a partner yet: only `project_partner` rows are partners (who may assess, who counts as
    working together), so a request grants nothing until a lead of the owner accepts it.
    """

    __tablename__ = "partner_request"
    __table_args__ = (
        UniqueConstraint("project_id", "organisation_id"),
        Index("ix_partner_request_organisation", "organisation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE")
    requested_by_id: int | None = Field(default=None, foreign_key="user_account.id",
                                        ondelete="SET NULL")
    requested_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


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
        # Each assessor's newest level per project and criterion, read by an index-only scan.
        Index("ix_assessment_by_assessor", "project_id", "criterion_id", "assessor_id", "id"),
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
        CheckConstraint("kind IN ('plan', 'roadmap')", name="kind"),
        CheckConstraint("kind = 'plan' OR (horizon >= 1 AND horizon <= 40)",
                        name="roadmap_horizon"),
        # Deleted outright and named by id in pages and calls: SQLite would hand a deleted
        # scenario's id to the next one saved, which a stale page would then change (0030).
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", sa_type=Text)
    # `plan`: one budget and capacity for all time; `roadmap`: a budget per quarter over a
    # horizon, an optional overall capacity per quarter, a discount rate and deadlines.
    kind: str = Field(default="plan", max_length=16, sa_column_kwargs={"server_default": "plan"})
    profile_id: int | None = Field(default=None, foreign_key="weight_profile.id",
                                   ondelete="SET NULL")
    budget_gbp: float
    capacity_pm: float | None = None
    horizon: int | None = None
    discount_rate: float | None = None
    deadlines: dict | None = Field(default=None, sa_type=JSON)
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
    # The revision of the last write the ranking reads (portfolio/revision.py): a stored run of
    # any revision from this one to `revision` ranks the current portfolio.
    ranked_revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class PortfolioChange(SQLModel, table=True):
    """Which projects one portfolio write changed, so kept frames can be patched, not read again.

    One row per revision (portfolio/revision.py); `projects` holds the ids, as a JSON list, when
    the write only updated those projects' own fields (never a slug), and NULL otherwise.
    """

    __tablename__ = "portfolio_change"

    revision: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    projects: str | None = Field(default=None, sa_type=Text)


class RankingRun(SQLModel, table=True):
    """The engine's results for one weight profile at one portfolio revision."""

    __tablename__ = "ranking_run"
    __table_args__ = (
        UniqueConstraint("profile_id", "profile_version", "revision", "method_version"),
        # SQLite would hand a removed run's id to the next run: a storer still at work on the
        # removed one must find it gone (ranking._store_rows), not write into the new one.
        {"sqlite_autoincrement": True},
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
    # A run carried forward stores no rows: it reads this run's, kept while it is referenced.
    rows_run_id: int | None = Field(default=None)


class RankingRow(SQLModel, table=True):
    """One project's place in a ranking run, with everything that explains it."""

    __tablename__ = "ranking_row"
    __table_args__ = (
        Index("ix_ranking_row_run_position", "run_id", "position", unique=True),
        Index("ix_ranking_row_run_view_position", "run_id", "backlog_view", "view_position",
              unique=True),
        CheckConstraint("backlog_view IN ('candidates', 'committed')", name="view"),
    )

    # No foreign keys: checking them cost PostgreSQL a row lock per project and a check per row
    # for every run stored (0.9 s of 2 s at 100,000 projects). Projects are never deleted, and
    # a run's rows are deleted with it (ranking._remove_run); see migration 0024.
    run_id: int = Field(primary_key=True)
    project_id: int = Field(primary_key=True)
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
        Index("ix_snapshot_body_hash", "body_hash"),
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
    # The serialisation's first line (format and metadata), then its tables, kept once by hash.
    header: bytes = Field(sa_type=LargeBinary)
    body_hash: str = Field(max_length=64, foreign_key="snapshot_body.body_hash")
    payload_bytes: int = Field(sa_type=BigInteger)
    row_counts: dict = Field(default_factory=dict, sa_type=JSON)


class SnapshotBody(SQLModel, table=True):
    """The tables of one or more snapshots, stored once however many snapshots share them."""

    __tablename__ = "snapshot_body"
    __table_args__ = (CheckConstraint("length(body_hash) = 64", name="hash_length"),)

    # sha256 (hex) of the tables' canonical bytes (every line after the first).
    body_hash: str = Field(max_length=64, primary_key=True)
    payload: bytes = Field(sa_type=LargeBinary)  # zlib
    payload_bytes: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class SnapshotExport(SQLModel, table=True):
    """An export of a snapshot's tables, written once when they were stored (zlib)."""

    __tablename__ = "snapshot_export"

    body_hash: str = Field(max_length=64, primary_key=True,
                           foreign_key="snapshot_body.body_hash", ondelete="CASCADE")
    name: str = Field(max_length=64, primary_key=True)  # the file it is, e.g. projects.csv
    # The writer's version when it was written: a copy another version wrote is not sent.
    version: int
    payload: bytes = Field(sa_type=LargeBinary)
    size: int = Field(sa_type=BigInteger)  # bytes before compression


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


class Attachment(SQLModel, table=True):
    """A document attached to a project or an agreement; its bytes live on disk by hash."""

    __tablename__ = "attachment"
    __table_args__ = (
        CheckConstraint(check_in("owner_kind", AttachmentOwner), name="owner_kind_valid"),
        CheckConstraint(check_in("kind", DocumentKind), name="kind_valid"),
        CheckConstraint("length(sha256) = 64", name="hash_length"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        # No foreign key to the owner: one table serves every kind of owner.
        Index("ix_attachment_owner", "owner_kind", "owner_id", "id"),
        Index("ix_attachment_sha256", "sha256"),
        # A stale link must not download or remove the next document attached (0030).
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_kind: str = Field(max_length=20)
    owner_id: int
    kind: str = Field(max_length=20)
    filename: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    size_bytes: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    uploaded_by_id: int | None = Field(default=None, foreign_key="user_account.id",
                                       ondelete="SET NULL")
    uploaded_by: str = Field(max_length=254)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ExternalIdentity(SQLModel, table=True):
    """A user as an OpenID Connect provider knows them: its issuer and their subject there."""

    __tablename__ = "external_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=500)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    # As last signed in: a JSON list, every name whole (names may hold commas: LDAP DNs).
    groups: str = Field(default="[]", sa_type=Text)
    last_sign_in_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    # The role and organisation the group mappings gave at the last sign-in (none: none did).
    # Only what they gave is taken away when no group gives it any more; an organisation
    # compared, never joined, so no foreign key.
    mapped_role: str | None = Field(default=None, max_length=16)
    mapped_organisation_id: int | None = Field(default=None)


class GroupMapping(SQLModel, table=True):
    """An identity provider's group whose members get a role (and an organisation) here."""

    __tablename__ = "group_mapping"
    __table_args__ = (
        UniqueConstraint("group_name"),
        CheckConstraint(check_in("role", Role), name="role"),
        CheckConstraint("role <> 'lead' OR organisation_id IS NOT NULL", name="lead_has_org"),
        # A stale groups page must not remove the next mapping added (0030).
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    group_name: str = Field(max_length=255)
    role: str = Field(max_length=16)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class JobOutcome(SQLModel, table=True):
    """What became of a queued job's attempt: its failure (and whether it gave up) or success."""

    __tablename__ = "job_outcome"
    __table_args__ = (Index("ix_job_outcome_at", "at"), Index("ix_job_outcome_job", "job_id"))

    id: int | None = Field(default=None, primary_key=True)
    job_id: int | None = Field(default=None)
    task: str = Field(max_length=100)
    lock: str = Field(default="", max_length=255)
    attempt: int = Field(default=1)
    succeeded: bool = Field(default=False)
    gave_up: bool = Field(default=False)
    error: str = Field(default="", max_length=2000)
    summary: str = Field(default="", max_length=2000)
    at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ImportUpload(SQLModel, table=True):
    """An uploaded file waiting for a worker to import it (deleted once the import ends)."""

    __tablename__ = "import_upload"

    run_id: int = Field(foreign_key="import_run.id", primary_key=True, ondelete="CASCADE")
    # The file as uploaded: the worker may run on another machine than the web process.
    content: bytes = Field(sa_type=LargeBinary)
    stored_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ScenarioSolution(SQLModel, table=True):
    """A saved scenario solved by a worker: one per version of the scenario and revision."""

    __tablename__ = "scenario_solution"

    scenario_id: int = Field(foreign_key="scenario.id", primary_key=True, ondelete="CASCADE")
    scenario_version: int = Field(primary_key=True)
    revision: int = Field(primary_key=True)
    # What `scenarios.solve_scenario` returns, as JSON.
    result: dict = Field(sa_type=JSON)
    solved_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ProjectStewardship(SQLModel, table=True):
    """Who answers for a project: its owner (a user of the owning organisation) and a contact."""

    __tablename__ = "project_stewardship"

    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    owner_user_id: int | None = Field(default=None, foreign_key="user_account.id",
                                      ondelete="SET NULL")
    # Shown to every reader: a team mailbox or a name, never a password-holder's private data.
    public_contact: str = Field(default="", max_length=254)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ProgressUpdate(SQLModel, table=True):
    """A committed project's RAG status on a day, with the update in words; appended, kept."""

    __tablename__ = "progress_update"
    __table_args__ = (
        CheckConstraint("rag IN ('red', 'amber', 'green')", name="rag"),
        CheckConstraint("length(summary) > 0", name="summary_given"),
        Index("ix_progress_update_project", "project_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    rag: str = Field(max_length=8)
    summary: str = Field(sa_type=Text)
    reported_on: date
    author_id: int | None = Field(default=None, foreign_key="user_account.id",
                                  ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ProjectComment(SQLModel, table=True):
    """One comment in a project's discussion, in Markdown; removal keeps the row."""

    __tablename__ = "project_comment"
    __table_args__ = (Index("ix_project_comment_project", "project_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user_account.id",
                                  ondelete="SET NULL")
    body: str = Field(sa_type=Text)
    # The body rendered and sanitised when written: a page of 500 comments renders none.
    body_html: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    edited_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    removed_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    removed_by_id: int | None = Field(default=None, foreign_key="user_account.id",
                                      ondelete="SET NULL")


class ProjectWatch(SQLModel, table=True):
    """A user's choice to watch a project or not (leads watch their own by default)."""

    __tablename__ = "project_watch"
    __table_args__ = (Index("ix_project_watch_project", "project_id", "watching"),)

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    project_id: int = Field(foreign_key="project.id", primary_key=True, ondelete="CASCADE")
    watching: bool = Field(default=True)
    changed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class NotificationEvent(SQLModel, table=True):
    """Something people may need to hear of, written with the action; fanned out later."""

    __tablename__ = "notification_event"
    __table_args__ = (Index("ix_notification_event_pending", "fanned_out_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    project_id: int | None = Field(default=None, foreign_key="project.id", ondelete="CASCADE")
    actor_id: int | None = Field(default=None, foreign_key="user_account.id",
                                 ondelete="SET NULL")
    payload: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    fanned_out_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))


class Notification(SQLModel, table=True):
    """One user's in-app notice of an event."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user", "user_id", "read_at", "id"),
        Index("ix_notification_digest", "digest_pending", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    event_id: int | None = Field(default=None, foreign_key="notification_event.id",
                                 ondelete="SET NULL")
    kind: str = Field(max_length=32)
    project_id: int | None = Field(default=None, foreign_key="project.id", ondelete="CASCADE")
    message: str = Field(max_length=500)
    link: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    read_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
    # Waiting for the user's daily digest email.
    digest_pending: bool = Field(default=False)


class NotificationPreference(SQLModel, table=True):
    """How a user hears of one kind of notification: in-app, email, daily digest or off."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        CheckConstraint("channel IN ('in_app', 'email', 'digest', 'off')", name="channel"),
    )

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    kind: str = Field(max_length=32, primary_key=True)
    channel: str = Field(max_length=8)


class EmailOutbox(SQLModel, table=True):
    """An email to send, sent by background work with retries, never inside a request."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'cancelled')", name="status"),
        Index("ix_email_outbox_due", "status", "next_attempt_at"),
        Index("ix_email_outbox_user_kind", "user_id", "kind", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id",
                                ondelete="CASCADE")
    to_address: str = Field(max_length=254)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=Text)
    html_body: str = Field(sa_type=Text)
    headers: dict = Field(default_factory=dict, sa_type=JSON)
    # Cancelled: its reader stopped these emails before it was sent (the reason in last_error).
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    sent_at: datetime | None = Field(default=None, sa_column=timestamp_column(True))
