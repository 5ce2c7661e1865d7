"""The governed status workflow: which status changes are allowed, to whom, and their record.

Every path that sets a project's status (the edit page, the API, an import, the CLI, a review
decision) asks `check_transition` before writing and `record_transition` after, so the rules
live here once. Leads move their own organisation's projects along the workflow; only a review
decision approves or rejects; the CDO or an admin may make any other change with a reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, refusal, require
from portfolio.enums import DpiaStatus, ProjectStatus
from portfolio.errors import Conflict, Invalid, NotAllowed
from portfolio.models import Project, utcnow
from portfolio.services.common import project_by_slug, record, rows_changed
from portfolio.services.merge import require_known_version
from portfolio.text import control_problem

S = ProjectStatus

# The moves a lead makes on their own organisation's projects, and the capability each needs.
WORKFLOW: dict[tuple[ProjectStatus, ProjectStatus], Capability] = {
    (S.IDEA, S.PROPOSED): Capability.SUBMIT_PROJECT,
    (S.PROPOSED, S.IDEA): Capability.SUBMIT_PROJECT,
    (S.APPROVED, S.IN_PROGRESS): Capability.RUN_PROJECT,
    (S.IN_PROGRESS, S.PAUSED): Capability.RUN_PROJECT,
    (S.PAUSED, S.IN_PROGRESS): Capability.RUN_PROJECT,
    (S.IN_PROGRESS, S.DELIVERED): Capability.RUN_PROJECT,
}
# The words for each move, for buttons and messages.
MOVE_NAMES: dict[tuple[ProjectStatus, ProjectStatus], str] = {
    (S.IDEA, S.PROPOSED): "Submit for review",
    (S.PROPOSED, S.IDEA): "Withdraw to an idea",
    (S.APPROVED, S.IN_PROGRESS): "Start the work",
    (S.IN_PROGRESS, S.PAUSED): "Pause",
    (S.PAUSED, S.IN_PROGRESS): "Resume",
    (S.IN_PROGRESS, S.DELIVERED): "Mark delivered",
}
# Statuses only a review decision sets.
DECIDED = frozenset({S.APPROVED, S.REJECTED})
# Statuses a lead may register a project with.
STARTING = frozenset({S.IDEA, S.PROPOSED})
REASON_MAX = 2_000


class TransitionRefused(NotAllowed):
    """A status change this user may not make; the message names who may."""


def _words(status: ProjectStatus | str) -> str:
    return str(status).replace("_", " ")


def capability_for(old: ProjectStatus | None, new: ProjectStatus) -> Capability:
    """Return the capability a status change needs (old None: registering a project)."""
    if new in DECIDED:
        return Capability.DECIDE
    if old is None:
        return Capability.REGISTER_PROJECT if new in STARTING else Capability.CHANGE_STATUS
    return WORKFLOW.get((old, new), Capability.CHANGE_STATUS)


def check_transition(
    actor: Actor, project: Any, old: str | None, new: str, *, reason: str = "",
    by_decision: bool = False, dpia_status: str | None = None,
) -> None:
    """Refuse a status change the actor may not make, naming who may; ask staff for a reason.

    `project` is the project (or its owner's id) the change is made to; `old` None means the
    project is being registered with status `new`.
    """
    before = ProjectStatus(old) if old is not None else None
    after = ProjectStatus(new)
    if before == after:
        return
    capability = capability_for(before, after)
    doing = (f"register a project as {_words(after)}" if before is None
             else f"move a project from {_words(before)} to {_words(after)}")
    if not can(actor, capability, project):
        raise TransitionRefused(refusal(actor, capability, project, doing))
    if problem := control_problem(reason, multiline=True):
        # As every text input: the reason is kept in the audit trail and shown on the page.
        raise Invalid({"status_reason": problem})
    if before is None:
        # Staff register projects in any status (work already under way); leads may not.
        return
    if getattr(project, "archived_at", None) is not None:
        # Archived work has left the lists and counts: moved on, it would be open work hidden.
        raise Invalid({"status": "the project is archived: restore it to the lists first, "
                                 "then change its status"})
    if after in DECIDED and not by_decision:
        raise Invalid({"status": f"a project is {_words(after)} by a review decision with its "
                                 "rationale: record it in the review panel of the project's "
                                 "page"})
    if after == S.IN_PROGRESS:
        check_dpia_begun(actor, project, reason, dpia_status)
    if capability == Capability.CHANGE_STATUS and not reason.strip():
        raise Invalid({"status_reason": f"moving a project from {_words(before)} to "
                                        f"{_words(after)} is outside the usual workflow: "
                                        "say why in the reason for the status change"})
    if len(reason) > REASON_MAX:
        raise Invalid({"status_reason": f"keep the reason under {REASON_MAX:,} characters"})


def check_dpia_begun(actor: Actor, project: Any, reason: str,
                     dpia_status: str | None = None) -> None:
    """Refuse to start a project processing personal data before its DPIA has begun.

    The CDO or an admin may override with a written reason (DESIGN.md, "Information
    governance stages"); `dpia_status` is the value an edit is setting, if it sets one.
    """
    get = project.get if isinstance(project, dict) else lambda k: getattr(project, k, None)
    status = dpia_status or get("dpia_status")
    if not get("personal_data") or status != DpiaStatus.NOT_STARTED.value:
        return
    if can(actor, Capability.OVERRIDE_IG, project):
        if not reason.strip():
            raise Invalid({"status_reason": "this project processes personal data and its "
                                            "DPIA has not started: to start it anyway, say why "
                                            "in the reason for the status change"})
        return
    raise Invalid({"dpia_status": "a project that processes personal data cannot start before "
                                  "its DPIA has begun: set the DPIA status to in progress or "
                                  "approved first (the CDO may start it anyway, with a reason)"})


def allowed_moves(actor: Actor | None, project: Any, status: str) -> list[dict[str, Any]]:
    """Return the workflow moves this actor may make from a status, for buttons.

    Starting a project that processes personal data before its DPIA has begun is held back
    with the reason (`held`) for whoever may not override that, and asks the CDO or an admin
    for their reason (`needs_reason`), as `check_dpia_begun` will.
    """
    current = ProjectStatus(status)
    moves = []
    for (old, new), capability in WORKFLOW.items():
        if old != current or not can(actor, capability, project):
            continue
        move: dict[str, Any] = {"to": new.value, "name": MOVE_NAMES[(old, new)]}
        if new == S.IN_PROGRESS and dpia_not_begun(project):
            if actor is not None and can(actor, Capability.OVERRIDE_IG, project):
                move["needs_reason"] = True
            else:
                move["held"] = ("it processes personal data and its DPIA has not started: set "
                                "the DPIA status to in progress or approved first (the CDO may "
                                "start it anyway, with a reason)")
        moves.append(move)
    return moves


def dpia_not_begun(project: Any) -> bool:
    """Tell whether a project processes personal data and its DPIA has not started."""
    get = project.get if isinstance(project, dict) else lambda k: getattr(project, k, None)
    return bool(get("personal_data")) and get("dpia_status") == DpiaStatus.NOT_STARTED.value


def status_choices(actor: Actor | None, project: Any, status: str | None) -> list[str]:
    """Return the statuses an edit form may offer this actor: the current one and its moves."""
    if status is None:
        return [s.value for s in ProjectStatus
                if s in STARTING or can(actor, Capability.CHANGE_STATUS, project)]
    current = ProjectStatus(status)
    offered = [current.value]
    for new in ProjectStatus:
        if new == current or new in DECIDED:
            continue
        if can(actor, capability_for(current, new), project):
            offered.append(new.value)
    return offered


def record_transition(
    session: Session, actor: Actor, *, project_id: int | None, old: str | None, new: str,
    version: int, reason: str = "", source: str = "edit",
) -> None:
    """Write the status change into the project's history (an audit event of its own)."""
    record(session, actor, action="transition", entity="project", entity_id=project_id,
           before={"status": old, "version": version - 1},
           after={"status": new, "version": version, "reason": reason.strip(),
                  "source": source})


def move(
    *, session: Session, actor: Actor, slug: str, to: str, reason: str = "",
    version: int | None = None,
) -> dict[str, Any]:
    """Move a project to another status along the workflow (submit, start, pause, ...)."""
    try:
        target = ProjectStatus(to)
    except ValueError:
        raise Invalid({"status": f"{to!r} is not a project status"}) from None
    project = project_by_slug(session, slug)
    require(actor, Capability.EDIT_PROJECT, project)
    if version is not None:
        # A version it never had is refused in words (past the bigint range it was a 500).
        require_known_version(version, project.version, f"project {slug!r}")
    old = project.status
    if old == target.value:
        return {"project": slug, "status": old, "version": project.version}  # made already
    if version is not None and version != project.version:
        # Before the move's own check: a button from a page read before a decision or another's
        # move is "changed meanwhile", not "you may not" (the move it offered was allowed then).
        raise _moved_meanwhile(project)
    check_transition(actor, project, old, target.value, reason=reason)
    query = update(Project).where(col(Project.id) == project.id, col(Project.status) == old)
    if version is not None:
        query = query.where(col(Project.version) == version)
    result = session.execute(query.values(status=target.value, version=Project.version + 1,
                                          updated_at=utcnow()))
    session.refresh(project)
    if rows_changed(result) != 1:
        raise _moved_meanwhile(project)
    record_transition(session, actor, project_id=project.id, old=old, new=target.value,
                      version=project.version, reason=reason, source="workflow")
    return {"project": slug, "status": project.status, "version": project.version}


def _moved_meanwhile(project: Project) -> Conflict:
    """Return the refusal of a move sent from a reading of the project older than it is."""
    return Conflict(f"project {project.slug!r} changed while you were looking at it (now "
                    f"{_words(project.status)}, version {project.version}): "
                    "reload it")



# Only a closed project may be archived: open work would leave the backlog unnoticed.
ARCHIVABLE = frozenset({S.DELIVERED, S.REJECTED})


def archive(*, session: Session, actor: Actor, slug: str, archived: bool = True,
            version: int | None = None) -> dict[str, Any]:
    """Archive a closed project (out of lists and the ranking, still reachable) or restore it."""
    project = project_by_slug(session, slug)
    require(actor, Capability.ARCHIVE_PROJECT, project)
    if archived and project.status not in ARCHIVABLE:
        raise Invalid({"archived": f"only a delivered or rejected project can be archived; this "
                                   f"one is {_words(project.status)}"})
    if version is not None:
        require_known_version(version, project.version, f"project {slug!r}")
    if (project.archived_at is not None) == archived:
        return {"project": slug, "archived_at": project.archived_at, "version": project.version}
    query = update(Project).where(col(Project.id) == project.id)
    if version is not None:
        query = query.where(col(Project.version) == version)
    moment = utcnow() if archived else None
    result = session.execute(query.values(archived_at=moment, version=Project.version + 1,
                                          updated_at=utcnow()))
    session.refresh(project)
    if rows_changed(result) != 1:
        raise Conflict(f"project {slug!r} changed while you were looking at it: reload it")
    record(session, actor, action="archive" if archived else "restore", entity="project",
           entity_id=project.id, project_id=project.id,
           before={"archived": not archived}, after={"archived": archived})
    return {"project": slug, "archived_at": project.archived_at, "version": project.version}
