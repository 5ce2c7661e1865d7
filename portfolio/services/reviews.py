"""Review decisions on projects, the review queue and a project's history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import Decision, ProjectStatus
from portfolio.errors import Invalid
from portfolio.models import (
    Assessment,
    AuditEvent,
    Criterion,
    Dataset,
    Organisation,
    Project,
    ReviewDecision,
    User,
    utcnow,
)
from portfolio.services.common import as_record, project_by_slug, record
from portfolio.services.projects import get_project
from portfolio.text import control_problem

STATUS_AFTER = {Decision.APPROVE: ProjectStatus.APPROVED, Decision.REJECT: ProjectStatus.REJECTED}
# A deferral or a request for information leaves the project waiting for another decision.
STILL_AWAITING = (Decision.DEFER.value, Decision.NEEDS_INFORMATION.value)
RATIONALE_MAX = 20_000
HISTORY_LIMIT = 100
SYSTEM_NAME = "System"
# Audit actions that the history shows from their own richer rows (assessments, decisions).
SHOWN_FROM_ROWS = ("assess", "decide")


def decide(
    *, session: Session, actor: Actor, slug: str, decision: str, rationale: str
) -> dict[str, Any]:
    """Record a decision on a project with its rationale; approve and reject move its status."""
    require(actor, Capability.DECIDE)
    errors: dict[str, str] = {}
    try:
        chosen = Decision(decision)
    except ValueError:
        errors["decision"] = "choose approve, defer, reject or needs information"
    text = (rationale or "").strip()
    if not text:
        errors["rationale"] = "give the reasons for the decision"
    elif len(text) > RATIONALE_MAX:
        errors["rationale"] = f"keep the rationale under {RATIONALE_MAX:,} characters"
    elif problem := control_problem(text, multiline=True):
        errors["rationale"] = problem
    if errors:
        raise Invalid(errors)
    project = project_by_slug(session, slug)
    row = ReviewDecision(
        project_id=project.id, decision=chosen.value, rationale=text, decided_by_id=actor.id
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        action="decide",
        entity="project",
        entity_id=project.id,
        after={"decision": chosen.value, "rationale": text},
    )
    status = STATUS_AFTER.get(chosen)
    if status is not None and project.status != status.value:
        before = as_record(project)
        # Bump the version so an edit opened before the decision is refused as stale.
        session.execute(
            update(Project)
            .where(Project.id == project.id)
            .values(status=status.value, version=Project.version + 1, updated_at=utcnow())
        )
        session.refresh(project)
        record(
            session,
            actor,
            action="update",
            entity="project",
            entity_id=project.id,
            before=before,
            after=as_record(project),
        )
    return {
        "project": slug,
        "decision": chosen.value,
        "rationale": text,
        "status": project.status,
        "decided_at": row.decided_at,
    }


def review_queue(*, session: Session, limit: int = 200) -> dict[str, Any]:
    """Return the projects awaiting a decision (oldest first) and the latest decisions."""
    latest_ids = (
        select(ReviewDecision.project_id, func.max(ReviewDecision.id).label("decision_id"))
        .group_by(ReviewDecision.project_id)
        .subquery()
    )
    last = aliased(ReviewDecision)
    waiting = or_(Project.status == ProjectStatus.PROPOSED.value, last.decision.in_(STILL_AWAITING))
    awaiting_rows = session.exec(
        select(
            Project.slug,
            Project.title,
            Organisation.name,
            Project.status,
            Project.created_at,
            last.decision,
            last.rationale,
            last.decided_at,
        )
        .join(Organisation, Organisation.id == Project.owner_id)
        .outerjoin(latest_ids, latest_ids.c.project_id == Project.id)
        .outerjoin(last, last.id == latest_ids.c.decision_id)
        .where(waiting)
        .order_by(Project.created_at, Project.id)
        .limit(limit)
    ).all()
    awaiting_total = session.exec(
        select(func.count())
        .select_from(Project)
        .outerjoin(latest_ids, latest_ids.c.project_id == Project.id)
        .outerjoin(last, last.id == latest_ids.c.decision_id)
        .where(waiting)
    ).one()
    decided_rows = session.exec(
        select(
            Project.slug,
            Project.title,
            Organisation.name,
            Project.status,
            last.decision,
            last.rationale,
            last.decided_at,
            User.name,
        )
        .select_from(last)
        .join(latest_ids, latest_ids.c.decision_id == last.id)
        .join(Project, Project.id == last.project_id)
        .join(Organisation, Organisation.id == Project.owner_id)
        .outerjoin(User, User.id == last.decided_by_id)
        .order_by(last.decided_at.desc(), last.id.desc())
        .limit(limit)
    ).all()
    decided_total = session.exec(select(func.count()).select_from(latest_ids)).one()
    awaiting = [
        {
            "slug": slug,
            "title": title,
            "organisation_name": org,
            "status": status,
            "created_at": _aware(created),
            "last_decision": decision,
            "last_rationale": rationale,
            "last_decided_at": _aware(decided_at),
        }
        for slug, title, org, status, created, decision, rationale, decided_at in awaiting_rows
    ]
    decided = [
        {
            "slug": slug,
            "title": title,
            "organisation_name": org,
            "status": status,
            "decision": decision,
            "rationale": rationale,
            "decided_at": _aware(decided_at),
            "decided_by": who or SYSTEM_NAME,
        }
        for slug, title, org, status, decision, rationale, decided_at, who in decided_rows
    ]
    return {
        "awaiting": awaiting,
        "awaiting_total": awaiting_total,
        "decided": decided,
        "decided_total": decided_total,
    }


def project_history(
    *, session: Session, slug: str, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """Return a project's audit events, decisions and assessments, newest first."""
    project = project_by_slug(session, slug)
    events = session.exec(
        select(
            AuditEvent.at,
            AuditEvent.actor_id,
            AuditEvent.action,
            AuditEvent.before,
            AuditEvent.after,
            AuditEvent.entity,
        )
        .where(
            AuditEvent.project_id == project.id,
            AuditEvent.entity.in_(("project", *LINK_ENTITIES)),
            AuditEvent.action.not_in(SHOWN_FROM_ROWS),
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    decisions = session.exec(
        select(
            ReviewDecision.decided_at,
            ReviewDecision.decided_by_id,
            ReviewDecision.decision,
            ReviewDecision.rationale,
        )
        .where(ReviewDecision.project_id == project.id)
        .order_by(ReviewDecision.id.desc())
        .limit(limit)
    ).all()
    assessments = session.exec(
        select(
            Assessment.assessed_at,
            Assessment.assessor_id,
            Criterion.name,
            Assessment.level,
            Criterion.max_level,
            Assessment.rationale,
        )
        .join(Criterion, Criterion.id == Assessment.criterion_id)
        .where(Assessment.project_id == project.id)
        .order_by(Assessment.id.desc())
        .limit(limit)
    ).all()
    user_ids = {e[1] for e in events} | {d[1] for d in decisions} | {a[1] for a in assessments}
    names = _user_names(session, user_ids)
    owners = _owner_codes(session, events)
    entries: list[dict[str, Any]] = []
    linked = _linked_codes(session, events)
    for at, actor_id, action, before, after, entity in events:
        entry = {"kind": action, "at": _aware(at), "who": names.get(actor_id, SYSTEM_NAME)}
        if entity in LINK_ENTITIES:
            entry |= {"kind": "link", "text": _link_text(entity, action, before or {},
                                                         after or {}, linked)}
        if action == "update":
            entry["changes"] = _changes(before or {}, after or {}, owners)
        entries.append(entry)
    for at, who, decision, rationale in decisions:
        entries.append(
            {
                "kind": "decision",
                "at": _aware(at),
                "who": names.get(who, SYSTEM_NAME),
                "decision": decision,
                "rationale": rationale,
            }
        )
    for at, who, criterion, level, max_level, rationale in assessments:
        entries.append(
            {
                "kind": "assessment",
                "at": _aware(at),
                "who": names.get(who, SYSTEM_NAME),
                "criterion": criterion,
                "level": level,
                "max_level": max_level,
                "rationale": rationale,
            }
        )
    # Python's sort is stable: entries at the same instant keep events before rows.
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:limit]


def project_page(*, session: Session, slug: str) -> dict[str, Any]:
    """Return what a project's page shows: the project, its latest decision and its history."""
    # The owner's id lets the page ask `can(...)` about this project.
    project = get_project(session=session, slug=slug) | {
        "owner_id": project_by_slug(session, slug).owner_id}
    history = project_history(session=session, slug=slug)
    latest = next((e for e in history if e["kind"] == "decision"), None)
    return {"project": project, "history": history, "latest_decision": latest}


def _changes(
    before: dict[str, Any], after: dict[str, Any], owners: dict[int, str]
) -> list[dict[str, Any]]:
    """Return the fields an update changed, with the owner shown by its code."""
    changes = []
    for field in sorted(set(before) | set(after)):
        if field in {"version", "id", "updated_at", "created_at"}:
            continue
        old, new = before.get(field), after.get(field)
        if old == new:  # kept to say which link an update was to
            continue
        if field == "owner_id":
            field, old, new = "owner", owners.get(old, old), owners.get(new, new)
        changes.append({"field": field, "before": old, "after": new})
    return changes


def _user_names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    """Return the names of the users with these ids."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.name).where(User.id.in_(wanted))).all())


def _owner_codes(session: Session, events: list[Any]) -> dict[int, str]:
    """Return the codes of the organisations named as owners in update events."""
    ids = {
        value
        for event in events
        for side in (event[3], event[4])
        if side
        for key, value in side.items()
        if key == "owner_id" and isinstance(value, int)
    }
    if not ids:
        return {}
    rows = session.exec(
        select(Organisation.id, Organisation.code).where(Organisation.id.in_(ids))
    ).all()
    return dict(rows)


LINK_ENTITIES = ("dependency", "dataset_link", "partner")


def _linked_codes(session: Session, events: list[Any]) -> dict[tuple[str, int], str]:
    """Return the dataset codes and organisation names that link events name by id."""
    wanted: dict[str, set[int]] = {"dataset_id": set(), "organisation_id": set()}
    for event in events:
        for side in (event[3], event[4]):
            for key, ids in wanted.items():
                if side and isinstance(side.get(key), int):
                    ids.add(side[key])
    codes: dict[tuple[str, int], str] = {}
    for key, column in (("dataset_id", Dataset.code), ("organisation_id", Organisation.name)):
        if wanted[key]:
            model = column.class_
            rows = session.exec(select(model.id, column).where(model.id.in_(wanted[key])))
            codes |= {(key, i): code for i, code in rows.all()}
    return codes


def _link_text(entity: str, action: str, before: dict[str, Any], after: dict[str, Any],
               codes: dict[tuple[str, int], str]) -> str:
    """Say in words what a change to one of a project's links did."""
    side = after or before
    if entity == "dependency":
        other = side.get("depends_on", "another project")
        return {"create": f"Added a dependency on {other}",
                "delete": f"Removed the dependency on {other}"}.get(
                    action, f"Changed the dependency on {other}")
    if entity == "dataset_link":
        code = codes.get(("dataset_id", side.get("dataset_id", -1)),
                         side.get("dataset", "a dataset"))  # imports name the dataset
        return {"create": f"Linked dataset {code} ({side.get('relation', 'uses')})",
                "delete": f"Unlinked dataset {code}"}.get(action, f"Changed the link to {code}")
    name = codes.get(("organisation_id", side.get("organisation_id", -1)), "an organisation")
    role = str(side.get("role", "partner")).replace("_", " ")
    return {"create": f"Added partner {name} ({role})",
            "delete": f"Removed partner {name}"}.get(action, f"Changed the role of {name}")


def _aware(moment: datetime | None) -> datetime | None:
    """Return a timestamp in UTC; SQLite hands timestamps back without their zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
