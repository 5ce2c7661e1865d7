"""Who answers for a project and how a committed one is going: owner, contact, RAG updates.

The stale rule is in docs/DESIGN.md ("Stale progress"): a committed project (in progress or
paused) is stale when the day of its latest progress update, or with none the day it was
committed, is more than `progress_stale_days` days before today.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, contact, require
from portfolio.db import Database
from portfolio.enums import ProjectStatus, Role
from portfolio.errors import Conflict, Invalid
from portfolio.models import (
    AuditEvent,
    NotificationEvent,
    ProgressUpdate,
    Project,
    ProjectStewardship,
    User,
    utcnow,
)
from portfolio.schemas import EARLIEST
from portfolio.services.common import (
    chunks,
    kept_under,
    project_by_slug,
    ranked_revision,
    record,
)
from portfolio.services.merge import three_way
from portfolio.services.watching import watchers
from portfolio.text import control_problem

RAG = ("red", "amber", "green")
# The backlog's committed view: only these carry a RAG status.
COMMITTED_STATUSES = (ProjectStatus.IN_PROGRESS.value, ProjectStatus.PAUSED.value)
SUMMARY_MAX = 5000
CONTACT_MAX = 254
# The fields of the owner form, merged field by field (`set_stewardship`'s `was`).
STEWARDSHIP_FIELDS = ("owner_email", "public_contact")
HISTORY_LIMIT = 50


def set_stewardship(*, session: Session, actor: Actor, slug: str, data: dict[str, Any],
                    was: dict[str, Any] | None = None) -> dict[str, Any]:
    """Name a project's owner (a user of the owning organisation) and its public contact.

    With `was`, the values the user's form started from, only the fields the user changed are
    saved, merged with what is saved now; a field someone else changed differently is a
    Conflict. Without it both fields are replaced, as PUT does.
    """
    # Locked first, so a save waiting on another merges with what that one wrote.
    project = project_by_slug(session, slug, for_update=True)
    require(actor, Capability.EDIT_PROJECT, project)
    if was is not None:
        data = _merged_stewardship(session, project, data, was)
    errors: dict[str, str] = {}
    owner_email = str(data.get("owner_email") or "").strip().lower()
    contact = str(data.get("public_contact") or "").strip()
    owner: User | None = None
    if owner_email:
        owner = session.execute(select(User).where(
            func.lower(col(User.email)) == owner_email)).scalars().first()
        if owner is None or not owner.is_active:
            errors["owner_email"] = "No active user has that email address."
        elif owner.organisation_id != project.owner_id:
            errors["owner_email"] = ("The owner must be a user of the organisation that owns "
                                     "the project.")
    if len(contact) > CONTACT_MAX:
        errors["public_contact"] = f"Keep the contact under {CONTACT_MAX} characters."
    elif problem := control_problem(contact):
        errors["public_contact"] = f"The contact {problem}."
    if errors:
        raise Invalid(errors)
    row = session.get(ProjectStewardship, project.id)
    before = None if row is None else {"owner_user_id": row.owner_user_id,
                                       "public_contact": row.public_contact}
    if row is None:
        row = ProjectStewardship(project_id=int(project.id or 0))
    row.owner_user_id = owner.id if owner else None
    row.public_contact = contact
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    after = {"owner_user_id": row.owner_user_id, "public_contact": contact}
    record(session, actor, action="set_owner", entity="project", entity_id=project.id,
           before=before or {}, after=after)
    return {"project": slug, "owner": owner.email if owner else None, "public_contact": contact}


def _merged_stewardship(session: Session, project: Project, data: dict[str, Any],
                        was: dict[str, Any]) -> dict[str, str]:
    """Return the owner and contact to save: the fields the user changed, merged with now."""
    def clean(name: str, value: Any) -> str:
        text = str(value or "").strip()
        return text.lower() if name == "owner_email" else text

    saved = _saved_stewardship(session, int(project.id or 0))
    sent = {k: clean(k, data.get(k)) for k in STEWARDSHIP_FIELDS}
    base = {k: clean(k, was.get(k)) for k in STEWARDSHIP_FIELDS}
    applied, conflicts = three_way(base, saved, {k: v for k, v in sent.items() if v != base[k]})
    if conflicts:
        raise Conflict("the owner and contact were changed by someone else since you opened "
                       "the page, and you both changed " + ", ".join(sorted(conflicts)),
                       current=saved, conflicts=conflicts)
    return saved | applied


def _saved_stewardship(session: Session, project_id: int) -> dict[str, str]:
    """Return a project's owner email (lower case) and public contact as saved now."""
    steward = session.get(ProjectStewardship, project_id, populate_existing=True)
    owner = session.get(User, steward.owner_user_id) if steward and steward.owner_user_id \
        else None
    return {"owner_email": owner.email.lower() if owner else "",
            "public_contact": steward.public_contact if steward else ""}


def report_progress(*, session: Session, actor: Actor, slug: str, data: dict[str, Any],
                    today: date | None = None) -> dict[str, Any]:
    """Add a dated RAG status with an update in words to a committed project."""
    project = project_by_slug(session, slug)
    require(actor, Capability.REPORT_PROGRESS, project)
    today = today or utcnow().date()
    errors: dict[str, str] = {}
    rag = str(data.get("rag") or "").strip().lower()
    summary = str(data.get("summary") or "").strip()
    reported_on = today
    if project.status not in COMMITTED_STATUSES:
        raise Invalid({"progress": "Only a project in progress or paused carries a RAG status."})
    if rag not in RAG:
        errors["rag"] = "Choose red, amber or green."
    if not summary:
        errors["summary"] = "Say in words how the project is going."
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = f"Keep the update under {SUMMARY_MAX:,} characters."
    elif problem := control_problem(summary, multiline=True):
        errors["summary"] = f"The update {problem}."
    raw_day = str(data.get("reported_on") or "").strip()
    if raw_day:
        try:
            reported_on = date.fromisoformat(raw_day)
        except ValueError:
            errors["reported_on"] = "Give the day as YYYY-MM-DD."
        else:
            if reported_on > today:
                errors["reported_on"] = "The update's day cannot be in the future."
            elif reported_on < EARLIEST:
                errors["reported_on"] = (f"Enter a date between {EARLIEST.year} and today "
                                         f"(you entered {reported_on.isoformat()}).")
    if errors:
        raise Invalid(errors)
    row = ProgressUpdate(project_id=int(project.id or 0), rag=rag, summary=summary,
                         reported_on=reported_on, author_id=actor.id)
    session.add(row)
    session.flush()
    record(session, actor, action="progress", entity="project", entity_id=project.id,
           after={"rag": rag, "summary": summary, "reported_on": reported_on.isoformat()})
    return {"project": slug, "rag": rag, "summary": summary, "reported_on": reported_on}


def latest_progress(session: Session, project_ids: Iterable[int], *, stale_days: int,
                    today: date | None = None) -> dict[int, dict[str, Any]]:
    """Return each committed project's latest RAG update and whether it is stale."""
    today = today or utcnow().date()
    committed: dict[int, datetime | None] = {}
    for part in chunks(sorted(set(project_ids))):
        committed |= dict(session.execute(
            select(col(Project.id), col(Project.created_at))
            .where(col(Project.id).in_(part), col(Project.status).in_(COMMITTED_STATUSES))).all())
    if not committed:
        return {}
    latest: dict[int, ProgressUpdate] = {}
    since = _committed_on(session, list(committed))
    for part in chunks(sorted(committed)):
        newest = (select(func.max(col(ProgressUpdate.id)))
                  .where(col(ProgressUpdate.project_id).in_(part))
                  .group_by(col(ProgressUpdate.project_id)))
        found_rows: list[ProgressUpdate] = list(session.execute(select(ProgressUpdate).where(
            col(ProgressUpdate.id).in_(newest))).scalars())
        for row in found_rows:
            latest[row.project_id] = row
    found: dict[int, dict[str, Any]] = {}
    for project_id, created_at in committed.items():
        update = latest.get(project_id)
        start = since.get(project_id) or (created_at.date() if created_at else today)
        day = update.reported_on if update else start
        found[project_id] = {
            "rag": update.rag if update else None,
            "summary": update.summary if update else "",
            "reported_on": update.reported_on if update else None,
            "stale": is_stale(day, today=today, stale_days=stale_days),
            "stale_since": day + timedelta(days=stale_days),
        }
    return found


def is_stale(last_day: date, *, today: date, stale_days: int) -> bool:
    """Tell whether progress last told on a day is stale today (DESIGN, "Stale progress")."""
    return (today - last_day).days > stale_days


def _committed_on(session: Session, project_ids: list[int]) -> dict[int, date]:
    """Return the day each project last moved into a committed status, from its history."""
    found: dict[int, date] = {}
    for part in chunks(project_ids):
        rows = session.execute(
            select(col(AuditEvent.project_id), col(AuditEvent.at), col(AuditEvent.after))
            .where(col(AuditEvent.project_id).in_(part), col(AuditEvent.action) == "transition")
            .order_by(col(AuditEvent.id))).tuples()
        for project_id, at, after in rows:
            if project_id is None:
                continue
            if isinstance(after, dict) and after.get("status") in COMMITTED_STATUSES:
                found[project_id] = at.date()
    return found


def kept_rag_summary(db: Database) -> dict[str, Any]:
    """Return every committed project's `rag_summary`, counted again only when it can change.

    It changes with a project's status or archiving (the ranked revision moves: a title edit
    leaves it), with a new progress report (reports are only ever added, so the newest id
    moves) or with the day (what is stale). Counting it took 0.13 s of each dashboard view at
    100,000 projects (measured).
    """
    stale_days = db.settings.progress_stale_days

    def version(session: Session) -> Hashable:
        newest = session.execute(select(func.max(col(ProgressUpdate.id)))).scalar()
        return ranked_revision(session), newest, utcnow().date(), stale_days

    return kept_under(db, "rag summary",
                      lambda session: rag_summary(session, stale_days=stale_days), version)


def rag_summary(session: Session, *, stale_days: int, today: date | None = None,
                organisation_id: int | None = None) -> dict[str, Any]:
    """Count committed projects by their latest RAG status, with those stale or never told."""
    query = select(col(Project.id)).where(col(Project.status).in_(COMMITTED_STATUSES))
    if organisation_id is not None:
        query = query.where(col(Project.owner_id) == organisation_id)
    ids: list[int] = list(session.execute(query).scalars())
    progress = latest_progress(session, ids, stale_days=stale_days, today=today)
    counts = {rag: 0 for rag in RAG} | {"none": 0, "stale": 0}
    for item in progress.values():
        counts[item["rag"] or "none"] += 1
        counts["stale"] += bool(item["stale"])
    words = [f"{counts[rag]} {rag}" for rag in RAG if counts[rag]]
    return {"counts": counts, "committed": len(ids),
            "text": ", ".join(words) if words else "no RAG status reported yet"}


def project_progress(session: Session, project_id: int, *, actor: Actor | None,
                     stale_days: int, today: date | None = None) -> dict[str, Any]:
    """Return a project's owner, contact, latest progress and its update history.

    The owner's email only for a reader who may see contacts: an anonymous visitor (public
    read) gets the owner's name and the public contact.
    """
    steward = session.get(ProjectStewardship, project_id)
    owner = session.get(User, steward.owner_user_id) if steward and steward.owner_user_id \
        else None
    updates: list[ProgressUpdate] = list(session.execute(
        select(ProgressUpdate).where(col(ProgressUpdate.project_id) == project_id)
        .order_by(col(ProgressUpdate.id).desc()).limit(HISTORY_LIMIT)).scalars())
    authors = _names(session, {u.author_id for u in updates})
    latest = latest_progress(session, [project_id], stale_days=stale_days, today=today)
    return {
        "owner": {"name": owner.name, "email": contact(actor, owner.email)} if owner else None,
        "public_contact": steward.public_contact if steward else "",
        "latest": latest.get(project_id),
        "updates": [{"rag": u.rag, "summary": u.summary, "reported_on": u.reported_on,
                     "author": authors.get(u.author_id, "System")} for u in updates],
    }


def _names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    """Return users' names by id."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(session.execute(select(col(User.id), col(User.name))
                                .where(col(User.id).in_(wanted))).tuples().all())


def notice_stale(session: Session, *, stale_days: int, today: date | None = None) -> int:
    """Write a 'stale' notification event for each project gone stale since it was last told."""
    today = today or utcnow().date()
    ids: list[int] = list(session.execute(
        select(col(Project.id)).where(col(Project.status).in_(COMMITTED_STATUSES))).scalars())
    progress = latest_progress(session, ids, stale_days=stale_days, today=today)
    stale = {pid: item for pid, item in progress.items() if item["stale"]}
    if not stale:
        return 0
    told: dict[int, str] = {}
    for part in chunks(sorted(stale)):
        for project_id, payload in session.execute(
                select(col(NotificationEvent.project_id), col(NotificationEvent.payload))
                .where(col(NotificationEvent.kind) == "stale",
                       col(NotificationEvent.project_id).in_(part))).tuples():
            if project_id is None:
                continue
            since = str((payload or {}).get("stale_since", ""))
            told[project_id] = max(told.get(project_id, ""), since)
    written = 0
    for project_id, item in stale.items():
        since = item["stale_since"].isoformat()
        if told.get(project_id, "") >= since:
            continue  # already told for this stretch without an update
        session.add(NotificationEvent(kind="stale", project_id=project_id,
                                      payload={"stale_since": since}))
        written += 1
    session.flush()
    return written


def owners_of(session: Session, project_id: int) -> set[int]:
    """Return who 'my project' means: the named owner, or else the owning organisation's leads
    (less those who stopped watching it)."""
    steward = session.get(ProjectStewardship, project_id)
    if steward and steward.owner_user_id:
        return {steward.owner_user_id}
    owner_org = session.execute(select(col(Project.owner_id))
                                .where(col(Project.id) == project_id)).scalar()
    leads: set[int] = set(session.execute(select(col(User.id)).where(
        col(User.organisation_id) == owner_org, col(User.role) == Role.LEAD.value,
        col(User.is_active).is_(True))).scalars())
    return leads & watchers(session, project_id)
