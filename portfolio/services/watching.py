"""Who watches a project: leads watch their organisation's projects by default; anyone may."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, require
from portfolio.enums import Role
from portfolio.models import Project, ProjectWatch, User, utcnow
from portfolio.services.common import project_by_slug, record, save_rows


def actor_of(user: User) -> Actor | None:
    """Return the actor a stored user acts as (none while an admin has given them no role)."""
    if user.role is None:
        return None
    return Actor(id=user.id, role=Role(user.role), organisation_id=user.organisation_id,
                 email=user.email)


def may_read(user: User, project: Project) -> bool:
    """Tell whether a user may read a project (an inactive or role-less user reads nothing)."""
    return bool(user.is_active) and can(actor_of(user), Capability.READ, project)


def set_watching(*, session: Session, actor: Actor, slug: str, watching: bool) -> dict[str, Any]:
    """Watch or stop watching a project."""
    project = project_by_slug(session, slug)
    require(actor, Capability.WATCH, project)
    # Another tab's save of this choice may be on its way: the one made last is kept.
    save_rows(session, ProjectWatch, [{"user_id": actor.id, "project_id": project.id,
                                       "watching": watching, "changed_at": utcnow()}],
              key=("user_id", "project_id"))
    # A person's own choice: in the audit trail, not in the project's history.
    record(session, actor, action="watch" if watching else "unwatch", entity="project_watch",
           entity_id=project.id, after={"watching": watching})
    return {"project": slug, "watching": watching}


def is_watching(session: Session, actor: Actor | None, project: Any) -> bool:
    """Tell whether the user watches a project (by choice, or as a lead of its organisation)."""
    if actor is None or actor.id is None:
        return False
    row = session.get(ProjectWatch, (actor.id, project["id"] if isinstance(project, dict)
                                     else project.id))
    if row is not None:
        return row.watching
    owner = project["owner_id"] if isinstance(project, dict) else project.owner_id
    return actor.role == Role.LEAD and actor.organisation_id == owner


def watchers(session: Session, project_id: int) -> set[int]:
    """Return the users watching a project: chosen, plus its organisation's leads unless not."""
    choices: dict[int, bool] = {uid: on for uid, on in session.execute(
        select(col(ProjectWatch.user_id), col(ProjectWatch.watching))
        .where(col(ProjectWatch.project_id) == project_id)).tuples().all()}
    owner = session.execute(select(col(Project.owner_id))
                            .where(col(Project.id) == project_id)).scalar()
    leads: set[int] = set(session.execute(select(col(User.id)).where(
        col(User.organisation_id) == owner, col(User.role) == Role.LEAD.value)).scalars())
    return {uid for uid, on in choices.items() if on} | {
        uid for uid in leads if choices.get(uid, True)}
