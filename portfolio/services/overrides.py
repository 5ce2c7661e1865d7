"""Manual priority overrides: the CDO's or an admin's value for a project, with its reasons."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from portfolio.actors import SYSTEM, Actor
from portfolio.capabilities import Capability, require
from portfolio.errors import Conflict, Invalid
from portfolio.models import Project, User, utcnow
from portfolio.services.common import project_by_slug, record
from portfolio.text import control_problem

JUSTIFICATION_MAX = 2_000
# An override is a temporary judgement: it may run for at most this long.
LONGEST = timedelta(days=5 * 366)
FIELDS = ("priority_override", "override_justification", "override_expires_on")


def _parse(data: dict[str, Any], today: date) -> tuple[float, str, date | None]:
    """Check an override's value, justification and expiry; every problem at once."""
    errors: dict[str, str] = {}
    value: float | None = None
    raw = data.get("value")
    if raw is None or str(raw).strip() == "":
        errors["value"] = "Give the priority to use, from 0 to 100."
    else:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            errors["value"] = "Give the priority as a number from 0 to 100, such as 85."
        else:
            if not 0 <= value <= 100:
                errors["value"] = "Give a priority from 0 to 100."
    justification = str(data.get("justification") or "").strip()
    if not justification:
        errors["justification"] = "Say why this project's priority is overridden."
    elif len(justification) > JUSTIFICATION_MAX:
        errors["justification"] = f"Keep the justification under {JUSTIFICATION_MAX:,} characters."
    elif problem := control_problem(justification, multiline=True):
        errors["justification"] = f"The justification {problem}."
    expires: date | None = None
    raw_expiry = data.get("expires_on")
    if raw_expiry not in (None, ""):
        try:
            expires = (raw_expiry if isinstance(raw_expiry, date)
                       else date.fromisoformat(str(raw_expiry).strip()))
        except ValueError:
            errors["expires_on"] = "Give the expiry as a date, such as 2027-03-31."
        else:
            if expires <= today:
                errors["expires_on"] = "Give an expiry date after today."
            elif expires > today + LONGEST:
                errors["expires_on"] = "An override may run for at most five years."
    if errors:
        raise Invalid(errors)
    assert value is not None
    return value, justification, expires


def _require_unchanged(session: Session, project: Project, was: dict[str, Any] | None) -> None:
    """Refuse a change made from an override (`was`: value, justification, expires_on) that
    is no longer the one stored: an override is one judgement, so any change to it is a clash.
    """
    if was is None:
        return
    try:
        value = float(str(was.get("value") or "").strip()) if str(
            was.get("value") or "").strip() else None
    except ValueError:
        value = float("nan")  # not a value the page showed: never the one stored
    seen = {"priority_override": value,
            "override_justification": _same_text(str(was.get("justification") or "")),
            "override_expires_on": str(was.get("expires_on") or "").strip() or None}
    now = _state(project)
    if seen != now | {"override_justification": _same_text(now["override_justification"] or "")}:
        raise Conflict("the priority override was changed by someone else since you opened "
                       "the page", current=override_of(session=session, project=project))


def _same_text(text: str) -> str:
    """Return text as stored, so a browser's line endings do not count as a change."""
    return text.replace("\r\n", "\n").strip()


def set_override(*, session: Session, actor: Actor, slug: str, data: dict[str, Any],
                 today: date | None = None, was: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set a project's priority to a value (0-100) with a justification, until an optional day.

    Given the override the user's form started from (`was`), one changed since is refused.
    """
    require(actor, Capability.OVERRIDE_PRIORITY)
    value, justification, expires = _parse(data, today or date.today())
    # Locked to the commit: a change waiting on another's compares with what that one wrote.
    project = project_by_slug(session, slug, for_update=True)
    _require_unchanged(session, project, was)
    before = _state(project)
    session.execute(
        update(Project).where(col(Project.id) == project.id).values(
            priority_override=value, override_justification=justification,
            override_expires_on=expires, override_by_id=actor.id, override_at=utcnow()))
    session.refresh(project)
    record(session, actor, action="override", entity="project", entity_id=project.id,
           before=before, after=_state(project))
    return override_of(session=session, project=project)


def clear_override(*, session: Session, actor: Actor, slug: str, justification: str = "",
                   was: dict[str, Any] | None = None) -> dict[str, Any]:
    """Remove a project's priority override, so its score orders it again.

    Given the override the user's form started from (`was`), one changed since is kept.
    """
    require(actor, Capability.OVERRIDE_PRIORITY)
    project = project_by_slug(session, slug, for_update=True)
    _require_unchanged(session, project, was)
    if project.priority_override is None:
        raise Invalid({"value": "This project's priority is not overridden."})
    if problem := control_problem(justification, multiline=True):
        raise Invalid({"justification": f"The reason {problem}."})
    before = _state(project)
    session.execute(
        update(Project).where(col(Project.id) == project.id).values(
            priority_override=None, override_justification="", override_expires_on=None,
            override_by_id=None, override_at=None))
    session.refresh(project)
    record(session, actor, action="override", entity="project", entity_id=project.id,
           before=before, after=_state(project) | {"reason": justification.strip()})
    return override_of(session=session, project=project)


def expire_due(session: Session, *, today: date | None = None) -> int:
    """Clear the overrides whose expiry day has passed, in the history as the system's doing.

    The ranking already ignores them from the day after expiry (frames.override_in_force); a
    cleared override moves the portfolio revision on, so stored rankings are recomputed.
    """
    day = today or date.today()
    # Locked as read: an override set again meanwhile is read again once set, and kept.
    due = session.exec(select(Project).where(col(Project.override_expires_on) < day)
                       .with_for_update(key_share=True)).all()
    for project in due:
        before = _state(project)
        project.priority_override = None
        project.override_justification = ""
        project.override_expires_on = None
        project.override_by_id = None
        project.override_at = None
        session.add(project)
        session.flush()
        record(session, SYSTEM, action="override", entity="project", entity_id=project.id,
               before=before, after=_state(project) | {"reason": f"expired on {day}"})
    return len(due)


_swept: dict[int, date] = {}


def expire_due_once_a_day(db: Any) -> None:
    """Clear overdue overrides at most once a day per process (a page read calls this)."""
    today = date.today()
    if _swept.get(id(db)) == today:
        return
    _swept[id(db)] = today
    with db.read() as session:
        overdue = session.exec(select(Project.id).where(
            col(Project.override_expires_on) < today).limit(1)).first()
    if overdue is not None:
        with db.write() as session:
            expire_due(session, today=today)


def _state(project: Project) -> dict[str, Any]:
    """Return a project's override as the audit trail records it."""
    expires = project.override_expires_on
    return {"priority_override": project.priority_override,
            "override_justification": project.override_justification,
            "override_expires_on": expires.isoformat() if expires else None}


def override_of(*, session: Session, project: Project,
                today: date | None = None) -> dict[str, Any]:
    """Return a project's override (value, justification, who, when, expiry, in force)."""
    if project.priority_override is None:
        return {"project": project.slug, "value": None, "in_force": False}
    who = session.get(User, project.override_by_id) if project.override_by_id else None
    expires = project.override_expires_on
    return {
        "project": project.slug, "value": project.priority_override,
        "justification": project.override_justification,
        "by": who.name if who else "System", "at": project.override_at,
        "expires_on": expires.isoformat() if expires else None,
        "in_force": expires is None or expires >= (today or date.today()),
    }


def get_override(*, session: Session, slug: str) -> dict[str, Any]:
    """Return a project's priority override."""
    return override_of(session=session, project=project_by_slug(session, slug))
