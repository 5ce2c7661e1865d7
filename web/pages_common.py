"""What the page modules share: sessions, the actor, form parsing and display labels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from pydantic import BaseModel
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import (
    Access,
    Agreement,
    Decision,
    DpiaStatus,
    FitForTask,
    LinkRelation,
    PartnerRole,
    ProjectStatus,
    ReadinessLevel,
    Theme,
    UpdateFrequency,
)
from portfolio.services import organisations as organisation_service
from portfolio.text import comma_problem, typed_amount
from scoring.criteria import DIMENSIONS
from scoring.rounding import shown_score
from web.deps import app_database, current_actor, read_session, write_session
from web.templating import templates

AppDatabase = Annotated[Database, Depends(app_database)]
ReadSession = Annotated[Session, Depends(read_session)]
# Commit before the response leaves, so the page a redirect leads to already sees the write.
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
CurrentActor = Annotated[Actor, Depends(current_actor)]


async def form_data(request: Request) -> dict[str, str]:
    """Return a posted form's text fields (the routes stay synchronous)."""
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


FormData = Annotated[dict[str, str], Depends(form_data)]

LONDON = ZoneInfo("Europe/London")

# Unticked checkboxes are absent from a posted form, so absence means False.
CHECKBOXES = frozenset({"personal_data", "mandatory", "required"})


def input_from_form(form: Mapping[str, str], model: type[BaseModel]) -> dict[str, Any]:
    """Turn posted text into a service input: blanks become defaults, checkboxes booleans."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in CHECKBOXES:
            data[name] = form.get(name, "") not in ("", "false", "off")
            continue
        raw = form.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        if name == "cost_gbp":
            # People write money as they read it: "£250,000".
            # A comma out of place is left for the check to refuse, never joined up.
            raw = raw if comma_problem(raw) else typed_amount(raw)
        if raw == "":
            if not info.is_required() and info.default is None:
                data[name] = None
            continue
        data[name] = raw
    return data


def changed_fields(form: Mapping[str, str], fields: tuple[str, ...]) -> list[str]:
    """Return the fields a user changed from the values the form started from (was_NAME)."""
    changed = []
    now: object
    was: object
    for name in fields:
        if name in CHECKBOXES:
            now = form.get(name, "") not in ("", "false", "off")
            was = form.get(f"was_{name}", "") not in ("", "false", "off")
        else:
            now, was = form.get(name, "").strip(), form.get(f"was_{name}", "").strip()
        if now != was:
            changed.append(name)
    return changed


def apply_choices(form: dict[str, str], fields: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Apply a conflict's choices to a form: "theirs" puts back the saved value.

    Returns the conflicting fields and those still without a choice.
    """
    names = [name for name in form.get("conflicts", "").split(",") if name in fields]
    unchosen = [name for name in names if form.get(f"choose_{name}") not in ("mine", "theirs")]
    for name in names:
        if form.get(f"choose_{name}") == "theirs":
            form[name] = form.get(f"was_{name}", "")
            if name in CHECKBOXES and not form[name]:
                form.pop(name, None)
    return names, unchosen


LABELS: dict[str, str] = {
    "health_social_care": "Health and social care",
    "environment_net_zero": "Environment and net zero",
    "children_education": "Children and education",
    "data_infrastructure": "Data infrastructure",
    "in_progress": "In progress",
    "not_needed": "Not needed",
    "not_started": "Not started",
    "needs_information": "Needs information",
    "data_provider": "Data provider",
    "approve": "Approve",
    "defer": "Defer",
    "reject": "Reject",
    "one_off": "One-off",
    "adhoc": "Ad hoc",
    "gla": "GLA",
    "gla_group": "GLA group",
    "nhs": "NHS",
}

FIELD_LABELS: dict[str, str] = {
    "q": "Search",
    "slug": "Short name (slug)",
    "title": "Title",
    "description": "Description",
    "owner": "Owner organisation",
    "theme": "Theme",
    "status": "Status",
    "status_reason": "Reason for the status change",
    "cost_gbp": "Cost estimate (GBP)",
    "effort_pm": "Effort (person-months)",
    "start_date": "Start date",
    "end_date": "End date",
    "personal_data": "Involves personal data",
    "dpia_status": "DPIA status",
    "mandatory": "Mandatory or statutory",
    "mandatory_justification": "Statutory justification",
    "reach_people": "Residents reached",
    "savings_gbp": "Savings a year (GBP)",
    "confidence_pct": "Confidence (%)",
    "time_criticality": "Time criticality (1 to 5)",
    "depends_on": "Depends on",
    "dataset": "Dataset",
    "relation": "Relation",
    "required": "Required",
    "fit_for_task": "Fit for the task",
    "agreement": "Data-sharing agreement",
    "organisation": "Organisation",
    "role": "Role",
    "level": "Level",
    "rationale": "Rationale",
    "decision": "Decision",
    "criterion": "Criterion",
    "version": "Version",
    "code": "Code",
    "publisher": "Publisher",
    "access": "Access",
    "licence": "Licence",
    "update_frequency": "Update frequency",
    "drl": "Readiness level (bands C and B)",
    "answer": "Your answer",
    "priority_override": "Priority override",
    "override_justification": "Override justification",
    "override_expires_on": "Override expires on",
    "value": "Priority (0 to 100)",
    "justification": "Justification",
    "expires_on": "Expires on",
    "email": "Email",
    "name": "Name",
    "password": "Password",
    "current_password": "Current password",
    "new_password": "New password",
    "repeat_password": "New password again",
    "days": "Expires after",
    # The backlog's what-if sliders, one per dimension.
    **{f"w_{dimension}": f"{dimension.capitalize()} weight" for dimension in DIMENSIONS},
    "body": "Comment",  # a comment's text: its box is "Add a comment"
}


def label(value: object) -> str:
    """Return an enumeration value as words people read."""
    text = str(value)
    if text in LABELS:
        return LABELS[text]
    return text.replace("_", " ").capitalize()


def organisations_by_name(session: Session, field: str,
                          rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return conflict rows with an organisation field shown by names, not codes."""
    codes = {row[side] for row in rows if row["field"] == field for side in ("now", "yours")}
    names = organisation_service.organisation_names(session=session, codes=codes)
    return [row | {side: names.get(row[side], row[side]) for side in ("now", "yours")}
            if row["field"] == field else row for row in rows]


def field_label(name: str) -> str:
    """Return the label of a form field."""
    return FIELD_LABELS.get(name, label(name))


def when(moment: datetime | str | None) -> str:
    """Return a timestamp as a short date and time in London."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        # SQLite hands back stored UTC timestamps without their zone.
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(LONDON)
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def sentence(message: str) -> str:
    """Return a service's message as a sentence: a capital first and a full stop last."""
    message = message.strip()
    if not message:
        return message
    return message[:1].upper() + message[1:] + ("" if message[-1] in ".?!" else ".")


def show(value: object) -> str:
    """Return a field value for reading: blanks, booleans and enumeration values in words."""
    if value is None or value == "":
        return "(blank)"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str) and value in ENUM_VALUES:
        return label(value)
    return str(value)


def in_form_order(errors: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return the errors in the order their fields appear on the forms."""
    order = {name: position for position, name in enumerate(FIELD_LABELS)}
    return sorted(errors.items(), key=lambda item: order.get(item[0], len(order)))


def choices(enum: type[Enum]) -> list[tuple[str, str]]:
    """Return an enumeration's values with their labels, for a select or radios."""
    return [(member.value, label(member.value)) for member in enum]


CHOICES: dict[str, list[tuple[str, str]]] = {
    "theme": choices(Theme),
    "status": choices(ProjectStatus),
    "dpia_status": choices(DpiaStatus),
    "relation": choices(LinkRelation),
    "fit_for_task": choices(FitForTask),
    "agreement": choices(Agreement),
    "role": choices(PartnerRole),
    "access": choices(Access),
    "decision": choices(Decision),
    "update_frequency": choices(UpdateFrequency),
    "drl": [(member.value, member.value) for member in ReadinessLevel],
}

ENUM_VALUES = frozenset(
    member.value
    for enum in (Theme, ProjectStatus, DpiaStatus, LinkRelation, FitForTask, Agreement, PartnerRole)
    for member in enum
)

def score(value: float | None) -> str:
    """Show a score as DESIGN's "Rounding" does: round(score * 100) / 100, 2 decimals."""
    shown = shown_score(value)
    return "—" if shown is None else f"{shown:.2f}"


templates.env.filters.update(
    label=label, field_label=field_label, when=when, show=show, in_form_order=in_form_order,
    sentence=sentence, score=score,
)
templates.env.globals.update(CHOICES=CHOICES)
