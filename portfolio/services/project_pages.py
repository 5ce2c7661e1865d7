"""What a project's pages read: the project page and its history, the editor, the assess page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, require
from portfolio.models import (
    Assessment,
    AuditEvent,
    Criterion,
    Dataset,
    Organisation,
    Project,
    ReviewDecision,
    User,
    row_id,
)
from portfolio.services.common import project_by_slug
from portfolio.services.criteria import assessed_criteria
from portfolio.services.organisations import list_organisations, organisations_for
from portfolio.services.overrides import override_of
from portfolio.services.projects import (
    get_project,
    links_read,
    partner_requests,
    with_partners,
)
from portfolio.services.reviews import SYSTEM_NAME, aware, open_question, review_read

HISTORY_LIMIT = 100
# Audit actions that the history shows from their own richer rows (assessments, decisions).
SHOWN_FROM_ROWS = ("assess", "decide", "answer")


def project_history(
    *, session: Session, slug: str, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """Return a project's audit events, decisions and assessments, newest first."""
    project = project_by_slug(session, slug)
    events = cast(list[tuple[datetime, int | None, str, dict[str, Any] | None,
                             dict[str, Any] | None, str]], session.execute(
        sa.select(
            col(AuditEvent.at),
            col(AuditEvent.actor_id),
            col(AuditEvent.action),
            col(AuditEvent.before),
            col(AuditEvent.after),
            col(AuditEvent.entity),
        )
        .where(
            col(AuditEvent.project_id) == project.id,
            col(AuditEvent.entity).in_(("project", *LINK_ENTITIES)),
            col(AuditEvent.action).not_in(SHOWN_FROM_ROWS),
        )
        .order_by(col(AuditEvent.id).desc())
        .limit(limit)
    ).all())
    decisions = cast(list[tuple[datetime, int | None, str, str, str | None, int | None,
                                datetime | None]], session.execute(
        sa.select(
            col(ReviewDecision.decided_at),
            col(ReviewDecision.decided_by_id),
            col(ReviewDecision.decision),
            col(ReviewDecision.rationale),
            col(ReviewDecision.answer),
            col(ReviewDecision.answered_by_id),
            col(ReviewDecision.answered_at),
        )
        .where(col(ReviewDecision.project_id) == project.id)
        .order_by(col(ReviewDecision.id).desc())
        .limit(limit)
    ).all())
    assessments = cast(list[tuple[datetime, int | None, str, int, int, str]], session.execute(
        sa.select(
            col(Assessment.assessed_at),
            col(Assessment.assessor_id),
            col(Criterion.name),
            col(Assessment.level),
            col(Criterion.max_level),
            col(Assessment.rationale),
        )
        .join(Criterion, col(Criterion.id) == col(Assessment.criterion_id))
        .where(col(Assessment.project_id) == project.id)
        .order_by(col(Assessment.id).desc())
        .limit(limit)
    ).all())
    user_ids = ({e[1] for e in events} | {d[1] for d in decisions} | {d[5] for d in decisions}
                | {a[1] for a in assessments})
    names = _user_names(session, user_ids)
    owners = _owner_codes(session, events)
    entries: list[dict[str, Any]] = []
    linked = _linked_codes(session, events)
    for at, actor_id, action, before, after, entity in events:
        entry = {"kind": action, "at": aware(at), "who": names.get(actor_id, SYSTEM_NAME)}
        if entity in LINK_ENTITIES:
            entry |= {"kind": "link", "text": _link_text(entity, action, before or {},
                                                         after or {}, linked)}
        if action in ("update", "override"):
            entry["changes"] = _changes(before or {}, after or {}, owners)
        if action == "progress":
            entry["progress"] = after or {}
        if action == "transition":
            entry |= {"from": (before or {}).get("status"), "to": (after or {}).get("status"),
                      "reason": (after or {}).get("reason", ""),
                      "source": (after or {}).get("source", "edit")}
        entries.append(entry)
    for at, who, decision, rationale, answer, answerer, answered_at in decisions:
        entries.append(
            {
                "kind": "decision",
                "at": aware(at),
                "who": names.get(who, SYSTEM_NAME),
                "decision": decision,
                "rationale": rationale,
            }
        )
        if answer:
            entries.append({"kind": "answer", "at": aware(answered_at),
                            "who": names.get(answerer, SYSTEM_NAME), "question": rationale,
                            "answer": answer})
    for at, who, criterion, level, max_level, rationale in assessments:
        entries.append(
            {
                "kind": "assessment",
                "at": aware(at),
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
        "archived_at": aware(project_by_slug(session, slug).archived_at)} | with_partners(
        session, project_by_slug(session, slug))
    history = project_history(session=session, slug=slug)
    latest = next((e for e in history if e["kind"] == "decision"), None)
    row = project_by_slug(session, slug)
    project["partner_requests"] = partner_requests(session, row_id(row), with_ids=True)
    question = open_question(session, row.id)
    asking = None if question is None else {
        "question": question.rationale, "asked_at": aware(question.decided_at)}
    return {"project": project, "history": history, "latest_decision": latest,
            "review_read": review_read(session, row.id),
            "question": asking, "override": override_of(session=session, project=row)}


def _changes(
    before: dict[str, Any], after: dict[str, Any], owners: dict[int | None, str]
) -> list[dict[str, Any]]:
    """Return the fields an update changed, with the owner shown by its name."""
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
    return dict(session.exec(select(col(User.id),
                                    col(User.name)).where(col(User.id).in_(wanted))).all())


def _owner_codes(session: Session, events: list[Any]) -> dict[int | None, str]:
    """Return the names of the organisations named as owners in update events."""
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
        select(col(Organisation.id), col(Organisation.name)).where(col(Organisation.id).in_(ids))
    ).all()
    return dict(rows)


LINK_ENTITIES = ("dependency", "dataset_link", "partner", "attachment", "ig_stage")


def _linked_codes(session: Session, events: list[Any]) -> dict[tuple[str, int], str]:
    """Return the names of the datasets, organisations and projects that link events name."""
    wanted: dict[str, set[int]] = {"dataset_id": set(), "organisation_id": set()}
    named: dict[str, set[str]] = {"dataset": set(), "depends_on": set()}
    for event in events:
        for side in (event[3], event[4]):
            for key, ids in wanted.items():
                if side and isinstance(side.get(key), int):
                    ids.add(side[key])
            for key, values in named.items():
                if side and isinstance(side.get(key), str):
                    values.add(side[key])
    codes: dict[tuple[str, Any], str] = {}
    for key, ident, name in (("dataset_id", col(Dataset.id), col(Dataset.title)),
                             ("organisation_id", col(Organisation.id), col(Organisation.name))):
        if wanted[key]:
            rows = session.exec(select(ident, name).where(ident.in_(wanted[key])))
            codes |= {(key, i): code for i, code in rows.all()}
    # Imports name a dataset by code and a dependency by slug: people read their titles.
    for key, by, title in (("dataset", col(Dataset.code), col(Dataset.title)),
                           ("depends_on", col(Project.slug), col(Project.title))):
        if named[key]:
            titles = session.exec(select(by, title).where(by.in_(named[key])))
            codes |= {(key, k): t for k, t in titles.all()}
    return codes


def _link_text(entity: str, action: str, before: dict[str, Any], after: dict[str, Any],
               codes: dict[tuple[str, Any], str]) -> str:
    """Say in words what a change to one of a project's links did."""
    side = after or before
    if entity == "dependency":
        slug = side.get("depends_on")
        other = codes.get(("depends_on", slug), slug or "another project")
        return {"create": f"Added a dependency on {other}",
                "delete": f"Removed the dependency on {other}"}.get(
                    action, f"Changed the dependency on {other}")
    if entity == "ig_stage":
        stage = str(side.get("stage", "an IG stage")).replace("_", " ")
        return f"Recorded {stage}: {str(side.get('status', '')).replace('_', ' ')}"
    if entity == "dataset_link":
        code = codes.get(("dataset_id", side.get("dataset_id", -1)),
                         codes.get(("dataset", side.get("dataset")),
                                   side.get("dataset", "a dataset")))  # imports name the dataset
        return {"create": f"Linked dataset {code} ({side.get('relation', 'uses')})",
                "delete": f"Unlinked dataset {code}"}.get(action, f"Changed the link to {code}")
    if entity == "attachment":
        document = side.get("filename", "a document")
        return {"create": f"Attached document {document}",
                "delete": f"Removed document {document}"}.get(action, f"Changed {document}")
    name = codes.get(("organisation_id", side.get("organisation_id", -1)), "an organisation")
    role = str(side.get("role", "partner")).replace("_", " ")
    return {"create": f"Added partner {name} ({role})",
            "delete": f"Removed partner {name}"}.get(action, f"Changed the role of {name}")


def may_edit(*, session: Session, slug: str, actor: Actor | None) -> bool:
    """Tell whether the actor may edit the project now (its editor is theirs to be shown)."""
    return can(actor, Capability.EDIT_PROJECT, project_by_slug(session, slug))


def project_editor(*, session: Session, slug: str, actor: Actor | None = None) -> dict[str, Any]:
    """Return what the project editor shows: the project, its links, organisations and rubrics.

    Given an actor, refuse one who may not edit the project (the page is not offered at all)
    and list only the organisations they may move it to.
    """
    # The owner's id lets the page ask `can(...)` about this project.
    project = get_project(session=session, slug=slug) | {
        "owner_id": project_by_slug(session, slug).owner_id}
    if actor is not None:
        require(actor, Capability.EDIT_PROJECT, project)
    # The links as shown, sent back by the link forms so a change made since is not replaced.
    read = links_read(project)
    return {
        "project": project,
        "read": {"partners": json.dumps(read["partners"]),
                 "datasets": json.dumps(read["datasets"]),
                 "links": {key: json.dumps(link) for key, link in read["datasets"].items()}},
        "organisations": (organisations_for(session=session, actor=actor,
                                            capability=Capability.EDIT_PROJECT)
                          if actor is not None else list_organisations(session=session)),
        "criteria": assessed_criteria(session=session, slug=slug,
                                      assessor_id=actor.id if actor is not None else None),
    }


def assessor_page(*, session: Session, slug: str, actor: Actor) -> dict[str, Any]:
    """Return what the assess page shows to one who may assess (a partner's lead included)."""
    found = project_by_slug(session, slug)
    require(actor, Capability.ASSESS_PROJECT, with_partners(session, found))
    return {"project": get_project(session=session, slug=slug),
            "criteria": assessed_criteria(session=session, slug=slug, assessor_id=actor.id)}
