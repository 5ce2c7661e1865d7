"""The tables a snapshot holds: their columns, types and descriptions; the format's constants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

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
from scoring.criteria import DIMENSIONS

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


def dimension_note(dimension: str) -> str:
    """Say what a dimension's score column holds, for the Data Package's schema."""
    name = "Data readiness" if dimension == "readiness" else dimension.capitalize()
    return f"{name} dimension score, 0-100."


RANKING_COLUMNS = (
    _col("rank", "integer", "Rank in the project's view (candidates or committed): its place "
         "among that view's projects in the dependency-aware order (blank: not ranked, because "
         "delivered or rejected). p_top_k, rank_p05 and rank_p95 describe this rank."),
    _col("score", "number", "Composite score, 0-100."),
    _col("score_status", "string", "scored, partial (some criteria missing), unscored (no "
         "impact assessment at all) or unweighted (impact assessed only on criteria the "
         "profile weighs at zero)."),
    _col("coverage", "number", "Share of the total weight the project has values for, 0-1."),
    *(_col(d, "number", dimension_note(d)) for d in DIMENSIONS),
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
# Columns holding a user's email, by table: shown only to readers who may see contacts.
CONTACT_COLUMNS: dict[str, tuple[str, ...]] = {"assessments": ("assessor",),
                                               "attachments": ("uploaded_by",)}
TABLE_NAMES = tuple(TABLE_BY_NAME)
# Columns of projects that the ranking sets, as opposed to the project's own fields.
RANKING_NAMES = frozenset(c.name for c in RANKING_COLUMNS)


def is_ranking_column(name: str) -> bool:
    """Tell whether a projects column comes from the ranking rather than the project."""
    return name in RANKING_NAMES or name.startswith(CONTRIBUTION_PREFIX)
