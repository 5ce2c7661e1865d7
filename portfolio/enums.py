"""Enumerations of the domain, stored as text and guarded by CHECK constraints."""

from __future__ import annotations

from enum import StrEnum

from scoring.criteria import DIMENSIONS as DIMENSIONS  # re-exported: the web layer reads it here


class OrganisationKind(StrEnum):
    GLA = "gla"
    BOROUGH = "borough"
    GLA_GROUP = "gla_group"
    NHS = "nhs"
    POLICE = "police"
    FIRE = "fire"
    UTILITY = "utility"
    UNIVERSITY = "university"
    PARTNERSHIP = "partnership"
    SUPPLIER = "supplier"
    VOLUNTARY = "voluntary"
    CENTRAL_GOVERNMENT = "central_government"


class ProjectStatus(StrEnum):
    IDEA = "idea"
    PROPOSED = "proposed"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    PAUSED = "paused"
    REJECTED = "rejected"


class Theme(StrEnum):
    HOUSING = "housing"
    HEALTH_SOCIAL_CARE = "health_social_care"
    COST_OF_LIVING = "cost_of_living"
    TRANSPORT = "transport"
    ENVIRONMENT_NET_ZERO = "environment_net_zero"
    ECONOMY = "economy"
    COMMUNITY_SAFETY = "community_safety"
    DIGITAL_INCLUSION = "digital_inclusion"
    INFRASTRUCTURE = "infrastructure"
    DATA_INFRASTRUCTURE = "data_infrastructure"
    CHILDREN_EDUCATION = "children_education"
    PLANNING = "planning"


class DpiaStatus(StrEnum):
    NOT_NEEDED = "not_needed"
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    APPROVED = "approved"


class PartnerRole(StrEnum):
    LEAD = "lead"
    PARTNER = "partner"
    DATA_PROVIDER = "data_provider"
    FUNDER = "funder"


class Access(StrEnum):
    OPEN = "open"
    SHARED = "shared"
    RESTRICTED = "restricted"
    PERSONAL = "personal"


class UpdateFrequency(StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    ADHOC = "adhoc"
    ONE_OFF = "one_off"


class ReadinessLevel(StrEnum):
    """Data Readiness Level bands C and B (Lawrence, 2017), worst to best."""

    C4 = "C4"
    C3 = "C3"
    C2 = "C2"
    C1 = "C1"
    B2 = "B2"
    B1 = "B1"


class LinkRelation(StrEnum):
    USES = "uses"
    PRODUCES = "produces"


class FitForTask(StrEnum):
    UNFIT = "unfit"
    UNKNOWN = "unknown"
    PARTIAL = "partial"
    FIT = "fit"


class Agreement(StrEnum):
    NOT_NEEDED = "not_needed"
    NONE = "none"
    DRAFTING = "drafting"
    SIGNED = "signed"
    EXPIRED = "expired"


class AgreementStatus(StrEnum):
    """Where a data-sharing agreement stands, as recorded (dates may make it expired sooner)."""

    DRAFTING = "drafting"
    SIGNED = "signed"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class AgreementStanding(StrEnum):
    """Where an agreement stands on a day: its status read with its dates (DESIGN.md).

    A terminated agreement stands as expired, so "terminated" is never a standing.
    """

    DRAFTING = "drafting"
    SIGNED = "signed"
    EXPIRED = "expired"


class PartyRole(StrEnum):
    """An organisation's part in a data-sharing agreement (UK GDPR terms)."""

    CONTROLLER = "controller"
    PROCESSOR = "processor"
    RECIPIENT = "recipient"


class LawfulBasis(StrEnum):
    """UK GDPR Article 6(1) lawful bases for processing."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class SpecialCategoryCondition(StrEnum):
    """UK GDPR Article 9(2) conditions for special category data, (a) to (j)."""

    EXPLICIT_CONSENT = "explicit_consent"
    EMPLOYMENT_SOCIAL_SECURITY = "employment_social_security"
    VITAL_INTERESTS = "vital_interests"
    NOT_FOR_PROFIT_BODY = "not_for_profit_body"
    MADE_PUBLIC = "made_public"
    LEGAL_CLAIMS = "legal_claims"
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial_public_interest"
    HEALTH_SOCIAL_CARE = "health_social_care"
    PUBLIC_HEALTH = "public_health"
    ARCHIVING_RESEARCH = "archiving_research"


class IgStage(StrEnum):
    """Information governance stages of a project, after LOTI's framework, in order."""

    DPIA_SCREENING = "dpia_screening"
    DPIA = "dpia"
    SHARING_AGREEMENTS = "sharing_agreements"
    PRIVACY_NOTICE = "privacy_notice"


class IgStatus(StrEnum):
    """Where one information governance stage stands."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_NEEDED = "not_needed"


# Built from the one list of dimensions, so the stored check constraint follows it.
Dimension = StrEnum("Dimension", {d.upper(): d for d in DIMENSIONS})  # type: ignore[misc]


class CriterionSource(StrEnum):
    ASSESSED = "assessed"
    COST_BAND = "cost_band"
    EFFORT_BAND = "effort_band"
    DERIVED = "derived"


class Decision(StrEnum):
    APPROVE = "approve"
    DEFER = "defer"
    REJECT = "reject"
    NEEDS_INFORMATION = "needs_information"


class Role(StrEnum):
    ADMIN = "admin"
    CDO = "cdo"
    LEAD = "lead"
    RESEARCHER = "researcher"


class WeightKind(StrEnum):
    DIMENSION = "dimension"
    CRITERION = "criterion"


class WeightMethod(StrEnum):
    DIRECT = "direct"
    AHP = "ahp"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """Return the SQL of a CHECK constraint that keeps a column within an enumeration."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class AttachmentOwner(StrEnum):
    """The kinds of record a document may be attached to."""

    PROJECT = "project"
    AGREEMENT = "agreement"


class DocumentKind(StrEnum):
    BUSINESS_CASE = "business_case"
    DPIA = "dpia"
    AGREEMENT = "agreement"
    OTHER = "other"
