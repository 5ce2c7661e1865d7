"""Review decisions on projects and the review queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast, overload

import sqlalchemy as sa
from sqlalchemy import and_, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, require
from portfolio.enums import Decision, ProjectStatus
from portfolio.errors import Conflict, Invalid
from portfolio.models import (
    AuditEvent,
    Organisation,
    Project,
    RankingRow,
    ReviewDecision,
    User,
    row_id,
    utcnow,
)
from portfolio.services.common import chunks, project_by_slug, record
from portfolio.services.merge import require_known_version
from portfolio.services.notifications import announce
from portfolio.services.projects import project_conflict
from portfolio.services.workflow import check_transition, record_transition
from portfolio.text import control_problem
from scoring.rounding import shown_score

STATUS_AFTER = {Decision.APPROVE: ProjectStatus.APPROVED, Decision.REJECT: ProjectStatus.REJECTED}
# A deferral or a request for information leaves the project waiting for another decision.
STILL_AWAITING = (Decision.DEFER.value, Decision.NEEDS_INFORMATION.value)
# Projects that have left the review: nothing more to decide.
CLOSED = (ProjectStatus.DELIVERED.value, ProjectStatus.REJECTED.value)
# Statuses whose projects no review waits on: a question asked before waits with them.
OUT_OF_REVIEW = (ProjectStatus.IDEA.value, *CLOSED)
RATIONALE_MAX = 20_000
SYSTEM_NAME = "System"


def decide(
    *, session: Session, actor: Actor, slug: str, decision: str, rationale: str,
    version: int | None = None, read: str | None = None,
) -> dict[str, Any]:
    """Record a decision on a project with its rationale; approve and reject move its status.

    "Needs information" sends the project back to its lead with the rationale as the question;
    it stays out of the queue until the lead answers. Given the `version` the decision was made
    on, a project changed since is refused (409, with what changed): nothing is decided. So is
    one given where the review stood (`read`, as `review_read` says) when it has moved on since.
    """
    require(actor, Capability.DECIDE)
    errors: dict[str, str] = {}
    try:
        chosen = Decision(decision)
    except ValueError:
        errors["decision"] = "Choose approve, defer, reject or needs information."
    text = (rationale or "").strip()
    if not text:
        errors["rationale"] = ("Write the question for the lead." if decision ==
                               Decision.NEEDS_INFORMATION.value
                               else "Give the reasons for the decision.")
    elif len(text) > RATIONALE_MAX:
        errors["rationale"] = f"Keep the rationale under {RATIONALE_MAX:,} characters."
    elif problem := control_problem(text, multiline=True):
        errors["rationale"] = problem
    if errors:
        raise Invalid(errors)
    # Locked to the commit: a decision waiting on another write is checked against it.
    project = project_by_slug(session, slug, for_update=True)
    if project.archived_at is not None:
        raise Invalid({"decision": "the project is archived: restore it to the lists first, "
                                   "then decide on it"})
    if read is not None and read != review_read(session, project.id):
        raise Conflict("a decision or an answer was recorded in the project's review since "
                       "you read it: nothing is decided")
    if version is not None:
        require_known_version(version, project.version, f"project {slug!r}")
        if version != project.version:
            raise project_conflict(
                session, project,
                f"project {slug!r} was changed since you read it (now version "
                f"{project.version}, you decided on version {version}): nothing is decided",
                version=version)
    row = ReviewDecision(
        project_id=row_id(project), decision=chosen.value, rationale=text,
        decided_by_id=actor.id
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
    announce(session, "question" if chosen == Decision.NEEDS_INFORMATION else "decision",
             project_id=project.id, actor=actor,
             payload={"decision": chosen.value.replace("_", " "), "excerpt": text[:140]})
    status = STATUS_AFTER.get(chosen)
    if status is not None and project.status != status.value:
        old = project.status
        check_transition(actor, project, old, status.value, by_decision=True)
        # Bump the version so an edit opened before the decision is refused as stale.
        session.execute(
            update(Project)
            .where(col(Project.id) == project.id)
            .values(status=status.value, version=Project.version + 1, updated_at=utcnow())
        )
        session.refresh(project)
        record_transition(session, actor, project_id=project.id, old=old, new=project.status,
                          version=project.version, reason=text, source="decision")
    return {
        "project": slug,
        "decision": chosen.value,
        "rationale": text,
        "status": project.status,
        "decided_at": row.decided_at,
    }


def answer_question(
    *, session: Session, actor: Actor, slug: str, answer: str
) -> dict[str, Any]:
    """Record the lead's answer to a reviewer's question; the project returns to the queue."""
    # Locked to the commit: an answer waiting on another's finds the question answered.
    project = project_by_slug(session, slug, for_update=True)
    require(actor, Capability.ANSWER_REVIEW, project)
    text = (answer or "").strip()
    if not text:
        raise Invalid({"answer": "Write your answer to the reviewer's question."})
    if len(text) > RATIONALE_MAX:
        raise Invalid({"answer": f"Keep the answer under {RATIONALE_MAX:,} characters."})
    if problem := control_problem(text, multiline=True):
        raise Invalid({"answer": f"The answer {problem}."})
    question = open_question(session, project.id)
    if question is None and project.status in OUT_OF_REVIEW and _unanswered_question(
            session, project.id) is not None:
        waits = ("waits until it is submitted for review again"
                 if project.status == ProjectStatus.IDEA.value else "is closed with it")
        raise Invalid({"answer": f"The project is {project.status.replace('_', ' ')} now, out of "
                                 f"review: the reviewer's question {waits}. Your answer is not "
                                 "sent."})
    if question is None:
        answered = latest_decision_answered(session, project.id)
        raise Invalid({"answer": "The reviewer's question was answered meanwhile by someone "
                                 "else: yours is not sent." if answered else
                                 "There is no open question from the reviewer on this project."})
    question.answer = text
    question.answered_by_id = actor.id
    question.answered_at = utcnow()
    session.add(question)
    session.flush()
    record(session, actor, action="answer", entity="project", entity_id=project.id,
           after={"question": question.rationale, "answer": text})
    return {"project": slug, "question": question.rationale, "answer": text}


def review_read(session: Session, project_id: int | None) -> str:
    """Return where a project's review stands: its latest decision, and whether answered."""
    # A decision or an answer leaves the project's version as it is (its fields are unchanged,
    # and an import or edit read before it is no stale), so a decision form carries this too.
    latest = session.execute(
        select(col(ReviewDecision.id), col(ReviewDecision.answered_at))
        .where(col(ReviewDecision.project_id) == project_id)
        .order_by(col(ReviewDecision.id).desc()).limit(1)).first()
    if latest is None:
        return "none"
    return f"{latest[0]}{' answered' if latest[1] is not None else ''}"


def latest_decision_answered(session: Session, project_id: int | None) -> bool:
    """Tell whether the project's latest decision is a question already answered."""
    latest = session.exec(
        select(ReviewDecision).where(ReviewDecision.project_id == project_id)
        .order_by(col(ReviewDecision.id).desc()).limit(1)
    ).first()
    return latest is not None and latest.decision == Decision.NEEDS_INFORMATION.value and \
        bool(latest.answer)


def open_question(session: Session, project_id: int | None) -> ReviewDecision | None:
    """Return the project's latest decision when it asks for information not yet given.

    A project withdrawn to an idea, or closed, is out of review: its question waits until it
    is submitted again (as it leaves the queue, `review_queue`).
    """
    status = session.exec(select(Project.status).where(Project.id == project_id)).first()
    if status in OUT_OF_REVIEW:
        return None
    return _unanswered_question(session, project_id)


def _unanswered_question(session: Session, project_id: int | None) -> ReviewDecision | None:
    """Return the project's latest decision when it is a question not yet answered."""
    latest = session.exec(
        select(ReviewDecision).where(ReviewDecision.project_id == project_id)
        .order_by(col(ReviewDecision.id).desc()).limit(1)
    ).first()
    if latest is None or latest.decision != Decision.NEEDS_INFORMATION.value or latest.answer:
        return None
    return latest


def questions_for(*, session: Session, actor: Actor | None) -> list[dict[str, Any]]:
    """Return the open questions on the projects this actor answers for (a lead's own)."""
    # A researcher of an organisation reads its questions but does not answer them.
    if (actor is None or actor.organisation_id is None
            or not can(actor, Capability.ANSWER_REVIEW, actor.organisation_id)):
        return []
    latest_ids = (
        select(func.max(col(ReviewDecision.id))).group_by(col(ReviewDecision.project_id)).scalar_subquery()
    )
    rows = cast(list[tuple[str, str, str, datetime, str | None]], session.execute(
        sa.select(col(Project.slug), col(Project.title), col(ReviewDecision.rationale),
                  col(ReviewDecision.decided_at), col(User.name))
        .join(Project, col(Project.id) == col(ReviewDecision.project_id))
        .outerjoin(User, col(User.id) == col(ReviewDecision.decided_by_id))
        .where(col(ReviewDecision.id).in_(latest_ids),
               col(ReviewDecision.decision) == Decision.NEEDS_INFORMATION.value,
               col(ReviewDecision.answer).is_(None),
               col(Project.status).not_in(OUT_OF_REVIEW),
               col(Project.owner_id) == actor.organisation_id)
        .order_by(col(ReviewDecision.decided_at))
    ).all())
    return [{"slug": slug, "title": title, "question": question, "asked_at": aware(at),
             "asked_by": who or SYSTEM_NAME} for slug, title, question, at, who in rows]


def review_queue(*, session: Session, run_id: int | None = None, limit: int = 200,
                 now: datetime | None = None) -> dict[str, Any]:
    """Return the review queue: projects awaiting a decision, those awaiting information from
    their lead, and the latest decisions; each awaiting project listed once, oldest first.

    A project waits when it is proposed, deferred, or its question has been answered; one whose
    question is open waits for its lead instead. Score and rank come from the stored ranking
    run given (the profile the CDO reads the backlog under).
    """
    latest_ids = (
        select(ReviewDecision.project_id, func.max(ReviewDecision.id).label("decision_id"))
        .group_by(col(ReviewDecision.project_id))
        .subquery()
    )
    last = aliased(ReviewDecision)
    # A withdrawn project (back to an idea) leaves the queue whatever was decided before.
    candidate = or_(col(Project.status) == ProjectStatus.PROPOSED.value,
                    and_(col(last.decision).in_(STILL_AWAITING),
                         col(Project.status) != ProjectStatus.IDEA.value))
    ranked = aliased(RankingRow)
    columns = (
        col(Project.slug), col(Project.title), col(Organisation.name), col(Project.status),
        col(Project.created_at), col(Project.cost_gbp), col(Project.mandatory),
        col(last.decision), col(last.rationale), col(last.decided_at), col(last.answer),
        col(last.answered_at), col(ranked.view_position), col(ranked.composite),
        col(Project.priority_override).is_not(None), col(Project.id),
    )
    query = (
        sa.select(*columns)
        .join(Organisation, col(Organisation.id) == col(Project.owner_id))
        .outerjoin(latest_ids, latest_ids.c.project_id == col(Project.id))
        .outerjoin(last, col(last.id) == latest_ids.c.decision_id)
        .outerjoin(ranked, and_(col(ranked.project_id) == col(Project.id),
                                col(ranked.run_id) == (run_id if run_id is not None else -1)))
        .where(candidate, col(Project.status).not_in(CLOSED))
    )
    moment = now or utcnow()
    # Outer-joined: the latest decision and the rank are None where there is none.
    rows = cast(list[tuple[str, str, str, str, datetime, int, bool, str | None, str | None,
                           datetime | None, str | None, datetime | None, int | None,
                           float | None, bool, int]],
                session.execute(query.order_by(col(Project.created_at), col(Project.id))).all())
    submitted = _submitted_at(session, [row[-1] for row in rows])
    awaiting: list[dict[str, Any]] = []
    asking: list[dict[str, Any]] = []
    for (slug, title, org, status, created, cost, mandatory, decision, rationale, decided_at,
         answer, answered_at, rank, composite, override, project_id) in rows:
        # Waiting since whatever happened last: registered, submitted, deferred or answered.
        since = max(moment for moment in (aware(created), submitted.get(project_id),
                                          aware(decided_at), aware(answered_at))
                    if moment is not None)
        entry = {
            "slug": slug, "title": title, "organisation_name": org, "status": status,
            "created_at": aware(created), "cost_gbp": cost, "mandatory": mandatory,
            "last_decision": decision, "last_rationale": rationale,
            "last_decided_at": aware(decided_at), "answer": answer,
            "rank": rank, "score": shown_score(composite),
            "override": bool(override),
            "waiting_since": since, "days_waiting": _days(moment, since),
        }
        if decision == Decision.NEEDS_INFORMATION.value and not answer:
            asking.append(entry)
        else:
            awaiting.append(entry)
    # Oldest waiting first: the CDO works from the top.
    awaiting.sort(key=lambda e: (e["waiting_since"] or moment))
    waiting_slugs = {e["slug"] for e in awaiting} | {e["slug"] for e in asking}
    latest_decided = (
        sa.select(
            col(Project.slug),
            col(Project.title),
            col(Organisation.name),
            col(Project.status),
            col(last.decision),
            col(last.rationale),
            col(last.decided_at),
            col(User.name),
        )
        .select_from(last)
        .join(latest_ids, latest_ids.c.decision_id == col(last.id))
        .join(Project, col(Project.id) == col(last.project_id))
        .join(Organisation, col(Organisation.id) == col(Project.owner_id))
        .outerjoin(User, col(User.id) == col(last.decided_by_id))
        .order_by(col(last.decided_at).desc(), col(last.id).desc())
        .limit(limit)
    )
    decided_rows = cast(list[tuple[str, str, str, str, str, str, datetime, str | None]],
                        session.execute(latest_decided).all())
    decided = [
        {
            "slug": slug,
            "title": title,
            "organisation_name": org,
            "status": status,
            "decision": decision,
            "rationale": rationale,
            "decided_at": aware(decided_at),
            "decided_by": who or SYSTEM_NAME,
        }
        for slug, title, org, status, decision, rationale, decided_at, who in decided_rows
        if slug not in waiting_slugs
    ]
    return {
        "awaiting": awaiting[:limit],
        "awaiting_total": len(awaiting),
        "asking": asking[:limit],
        "asking_total": len(asking),
        "decided": decided,
        "decided_total": len(decided),
    }


def _submitted_at(session: Session, project_ids: list[int]) -> dict[int, datetime]:
    """Return when each project was last moved to proposed, from its history."""
    found: dict[int, datetime] = {}
    for chunk in chunks(project_ids):
        # Every project_id is one of the chunk's, never None.
        events = cast(list[tuple[int, datetime, dict[str, Any] | None]], session.exec(
            select(AuditEvent.project_id, AuditEvent.at, AuditEvent.after)
            .where(col(AuditEvent.project_id).in_(chunk), col(AuditEvent.entity) == "project",
                   AuditEvent.action == "transition")
            .order_by(col(AuditEvent.id))
        ).all())
        for project_id, at, after in events:
            if (after or {}).get("status") == ProjectStatus.PROPOSED.value and at is not None:
                found[project_id] = aware(at)
    return found


def next_in_queue(*, session: Session, after: str, run_id: int | None = None) -> str | None:
    """Return the slug of the project after this one in the queue (or the first, if it left)."""
    queue = [e["slug"] for e in review_queue(session=session, run_id=run_id)["awaiting"]]
    others = [slug for slug in queue if slug != after]
    return others[0] if others else None


def _days(now: datetime, since: datetime | None) -> int | None:
    """Return whole days between two moments."""
    return None if since is None else max(0, (now - since).days)


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """Return a timestamp in UTC; SQLite hands timestamps back without their zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
