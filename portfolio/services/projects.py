"""Projects and the links they own: partners, datasets, dependencies, assessments."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import Agreement, CriterionSource
from portfolio.errors import Conflict, CycleRefused, Invalid
from portfolio.models import (
    Assessment,
    AuditEvent,
    Criterion,
    CriterionLevel,
    Dataset,
    Organisation,
    PartnerRequest,
    Project,
    ProjectDataset,
    ProjectDependency,
    ProjectPartner,
    SharingAgreement,
    User,
    row_id,
    utcnow,
)
from portfolio.schemas import (
    AssessmentInput,
    DatasetLinkInput,
    DependencyInput,
    PartnerInput,
    ProjectCreate,
    ProjectUpdate,
    VersionInput,
    parse,
)
from portfolio.services.agreements import agreement_word, link_agreement_id
from portfolio.services.common import (
    add_new,
    as_record,
    chunks,
    containing,
    dataset_by_code,
    one_at_a_time,
    organisation_by_code,
    project_by_slug,
    record,
    rows_changed,
)
from portfolio.services.merge import (
    FIELD_CHANGES,
    as_json,
    require_known_version,
    three_way,
    values_at,
)
from portfolio.services.overdue import is_overdue
from portfolio.services.overrides import override_of
from portfolio.services.workflow import check_transition, record_transition

PROJECT_FIELDS = (
    "title",
    "description",
    "theme",
    "status",
    "cost_gbp",
    "effort_pm",
    "start_date",
    "end_date",
    "personal_data",
    "dpia_status",
    "mandatory",
    "mandatory_justification",
    "reach_people",
    "confidence_pct",
    "time_criticality",
)


def field_values(values: Any) -> dict[str, Any]:
    """Return the column values of a validated project input."""
    out = {name: getattr(values, name) for name in PROJECT_FIELDS}
    for name in ("theme", "status", "dpia_status"):
        out[name] = out[name].value
    return out


def project_summary(project: Project, owner_code: str) -> dict[str, Any]:
    """Return the public shape of a project without its links."""
    return {
        "slug": project.slug,
        "title": project.title,
        "organisation": owner_code,
        "status": project.status,
        "theme": project.theme,
        "cost_gbp": project.cost_gbp,
        "effort_pm": project.effort_pm,
        "mandatory": project.mandatory,
        "version": project.version,
        "archived": project.archived_at is not None,
        "overdue": is_overdue(project.status, project.end_date, today=date.today()),
    }


def with_partners(session: Session, project: Project) -> dict[str, Any]:
    """Return a project's owner and partner organisations, for capabilities scoped to both."""
    partner_ids = session.exec(select(ProjectPartner.organisation_id)
                               .where(ProjectPartner.project_id == project.id)).all()
    return {"owner_id": project.owner_id, "partner_ids": list(partner_ids)}


def partner_requests(session: Session, project_id: int, *,
                     with_ids: bool = False) -> list[dict[str, Any]]:
    """Return the organisations asking to partner in a project, oldest request first."""
    rows = session.exec(
        select(Organisation.code, Organisation.name, PartnerRequest.requested_at,
               PartnerRequest.organisation_id)
        .join(PartnerRequest, col(PartnerRequest.organisation_id) == col(Organisation.id))
        .where(PartnerRequest.project_id == project_id)
        .order_by(col(PartnerRequest.requested_at), col(PartnerRequest.id))).all()
    # A page asks `can(...)` of each request (its organisation id); the API shows codes only.
    return [{"organisation": code, "name": name, "requested_at": at.isoformat()}
            | ({"organisation_id": asking} if with_ids else {})
            for code, name, at, asking in rows]


def require_project_editor(actor: Actor, project: Project) -> None:
    """Refuse unless the actor may edit this project (staff, or a lead of its owner)."""
    require(actor, Capability.EDIT_PROJECT, project)


def create_project(*, session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Register a project; a lead only for their own organisation, as an idea or proposed."""
    require(actor, Capability.REGISTER_PROJECT)
    try:
        values = parse(ProjectCreate, data)
    except Invalid as exc:
        # A taken slug is said on the same submit as every other problem.
        slug = data.get("slug")
        if "slug" not in exc.errors and isinstance(slug, str) and _slug_taken(session, slug):
            exc.errors["slug"] = _SLUG_TAKEN.format(slug=slug)
        raise
    owner = organisation_by_code(session, values.owner, field="owner")
    require(actor, Capability.REGISTER_PROJECT, owner.id)
    check_transition(actor, owner.id, None, values.status.value)
    one_at_a_time(session, NEW_PROJECT_SLUGS)  # an import adding projects meanwhile sees this
    if _slug_taken(session, values.slug):
        raise Invalid({"slug": _SLUG_TAKEN.format(slug=values.slug)})
    project = Project(slug=values.slug, owner_id=row_id(owner), **field_values(values))
    add_new(session, project, taken={"slug": _SLUG_TAKEN.format(slug=values.slug)})
    record(
        session,
        actor,
        action="create",
        entity="project",
        entity_id=project.id,
        after=as_record(project),
    )
    return project_summary(project, owner.code)


# Registrations and imports add projects under new short names one at a time (read_known).
NEW_PROJECT_SLUGS = "new project slugs"
_SLUG_TAKEN = "A project with the short name {slug!r} already exists: choose another."


def slug_problem(session: Session, slug: str) -> str | None:
    """Say why a new project may not take a (well-formed) short name, or None when it may."""
    return _SLUG_TAKEN.format(slug=slug) if _slug_taken(session, slug) else None


def _slug_taken(session: Session, slug: str) -> bool:
    """Tell whether a project already has this slug."""
    return session.exec(select(Project.id).where(Project.slug == slug.strip())).first() is not None


# The fields an edit may change, in the record's own terms (the owner by its id).
EDITABLE = (*PROJECT_FIELDS, "owner_id")


def _input_of(project: Project, owner_code: str) -> dict[str, Any]:
    """Return a saved project's fields as the service input that would have made them."""
    values = {name: getattr(project, name) for name in PROJECT_FIELDS}
    values["owner"] = owner_code
    return {k: v for k, v in values.items() if v is not None}


def _saved(project: Project) -> dict[str, Any]:
    """Return a project's editable fields as the audit trail stores them."""
    return {name: as_json(getattr(project, name)) for name in EDITABLE}


# The row's fields that name a thing by its database id, and the API's name for each.
RECORD_NAMES = {"owner": "owner_id"}


def as_sent(session: Session, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return a project's recorded fields as the API names them (the owner by its code)."""
    # A client sends and reads organisations by code: a database id is no use to it. (The
    # override's fields are recorded by their own action, never among an edit's changes.)
    out = {name: value for name, value in fields.items() if name not in ("id", "owner_id")}
    if "owner_id" in fields:
        owner = session.get(Organisation, fields["owner_id"])
        out["owner"] = owner.code if owner is not None else None
    return dict(sorted(out.items()))


def update_project(
    *, session: Session, actor: Actor, slug: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Replace a project's fields from the version the user read; a stale version gets 409.

    `status_reason` (optional) explains a status change outside the usual workflow.
    """
    data = dict(data)
    reason = str(data.pop("status_reason", "") or "")
    values = parse(ProjectUpdate, data)
    project = project_by_slug(session, slug)
    require_project_editor(actor, project)
    owner = organisation_by_code(session, values.owner, field="owner")
    require(actor, Capability.EDIT_PROJECT, owner.id, doing="move projects")
    changes = field_values(values) | {"owner_id": owner.id}
    if project.version != values.version:
        raise _stale(session, project, values.version)
    _write(session, actor, project, changes, reason=reason)
    return project_summary(project, owner.code)


def patch_project(
    *, session: Session, actor: Actor, slug: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Change only the fields sent, from the version the user read, merging a stale edit.

    Against what is saved now: a field only this user changed is applied, a field only someone
    else changed keeps their value, and a field both changed differently is a conflict (409,
    nothing written, both values returned for the user to choose).
    """
    data = dict(data)
    reason = str(data.pop("status_reason", "") or "")
    version = parse(VersionInput, {"version": data.pop("version", None)}).version
    unknown = sorted(set(data) - set(PROJECT_FIELDS) - {"owner"})
    if unknown:
        raise Invalid({name: "this field cannot be changed by an edit" for name in unknown})
    project = project_by_slug(session, slug)
    require_project_editor(actor, project)
    owner_now = session.get(Organisation, project.owner_id)
    assert owner_now is not None
    values = parse(ProjectUpdate, _input_of(project, owner_now.code) | data | {"version": version})
    owner = organisation_by_code(session, values.owner, field="owner")
    if owner.id != project.owner_id:
        require(actor, Capability.EDIT_PROJECT, owner.id, doing="move projects")
    wanted = field_values(values) | {"owner_id": owner.id}
    # Merged in the API's terms, so conflicts and what was applied and kept name its fields.
    typed = field_values(values) | {"owner": owner.code}
    mine = {name: as_json(typed[name]) for name in data}
    theirs = _saved(project)
    require_known_version(version, project.version, f"project {slug!r}")
    base = theirs if version == project.version else values_at(
        session, entity="project", entity_id=project.id, version=version, current=theirs)
    base, theirs = as_sent(session, base), as_sent(session, theirs)
    applied, conflicts = three_way(base, theirs, mine)
    if conflicts:
        raise project_conflict(
            session, project,
            f"project {slug!r} was changed by someone else since you opened it (now version "
            f"{project.version}, you edited version {version}), and you both changed "
            + ", ".join(sorted(conflicts)),
            version=version, conflicts=conflicts)
    kept = sorted(name for name in theirs if theirs[name] != base.get(name))
    changes = {RECORD_NAMES.get(name, name): wanted[RECORD_NAMES.get(name, name)]
               for name in applied}
    if changes:
        # Rules across fields hold for the merged record, not only for the user's copy.
        final = _input_of(project, owner_now.code) | {name: typed[name] for name in applied}
        parse(ProjectUpdate, final | {"version": project.version})
        _write(session, actor, project, changes, reason=reason)
    owner_code = owner.code if "owner_id" in changes else owner_now.code
    return project_summary(project, owner_code) | {"applied": sorted(applied), "kept": kept}


def _stale(session: Session, project: Project, version: int) -> Conflict:
    """Return the refusal of an edit made from an older version, naming what changed since."""
    return project_conflict(
        session, project,
        f"project {project.slug!r} was changed by someone else since you opened it "
        f"(now version {project.version}, you edited version {version})", version=version)


def project_conflict(session: Session, project: Project, message: str, *, version: int,
                     conflicts: dict[str, Any] | None = None) -> Conflict:
    """Return a refusal of a stale edit: the project as the API's GET shows it, and changes."""
    # Not the row: its ids (owner_id, override_by_id) mean nothing to a client.
    return Conflict(message, current=get_project(session=session, slug=project.slug),
                    changed=as_sent(session, changed_since(session, project.id, version,
                                                           as_record(project))),
                    conflicts=conflicts)


def _write(session: Session, actor: Actor, project: Project, changes: dict[str, Any], *,
           reason: str) -> None:
    """Write a project's changed fields with compare-and-set on its version, and audit them."""
    old_status = project.status
    if changes.get("status", old_status) != old_status:
        check_transition(actor, project, old_status, changes["status"], reason=reason,
                         dpia_status=changes.get("dpia_status"))
    before = as_record(project)
    version = project.version
    # Only what differs is written: a field the ranking reads, written again unchanged (a full
    # edit sends every field), would have the whole portfolio re-ranked (portfolio/revision.py).
    changes = {name: value for name, value in changes.items()
               if getattr(project, name) != value}
    # Compare-and-set on the version: ORM version checks do not cover bulk updates.
    result = session.execute(
        update(Project)
        .where(col(Project.id) == project.id, col(Project.version) == version)
        .values(**changes, version=Project.version + 1, updated_at=utcnow())
    )
    session.refresh(project)
    if rows_changed(result) != 1:
        raise _stale(session, project, version)
    after = as_record(project)
    if after["status"] != old_status:
        record_transition(session, actor, project_id=project.id, old=old_status,
                          new=project.status, version=project.version, reason=reason)
        # The status change is its own event in the history, with its reason.
        before.pop("status")
        after.pop("status")
    if {k for k in after if before.get(k) != after[k]} - {"version"}:
        record(session, actor, action="update", entity="project", entity_id=project.id,
               before=before, after=after)


def changed_since(
    session: Session, project_id: int | None, version: int, current: dict[str, Any]
) -> dict[str, Any]:
    """Return the fields changed after a version, with their current values, from the audit."""
    events = session.exec(
        select(AuditEvent.after)
        .where(
            AuditEvent.entity == "project",
            AuditEvent.entity_id == project_id,
            col(AuditEvent.action).in_(FIELD_CHANGES),
        )
        .order_by(col(AuditEvent.id))
    ).all()
    fields: set[str] = set()
    for after in events:
        if after and after.get("version", 0) > version:
            fields.update(k for k in after if k in current and k != "version")
    return {k: current.get(k) for k in sorted(fields)}


# The projects list's sort orders: a column of the list, the slug breaking ties.
PROJECT_SORTS = {
    "title": col(Project.title), "organisation": col(Organisation.name),
    "theme": col(Project.theme), "status": col(Project.status), "slug": col(Project.slug),
}


def list_projects(
    *,
    session: Session,
    organisation: str | None = None,
    status: str | None = None,
    theme: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    after: str | None = None,
    sort: str = "slug",
    include_archived: bool = True,
    archived: bool | None = None,
) -> list[dict[str, Any]]:
    """List projects with their owner's code and name, filtered and sorted (keyset: a slug).

    `archived` keeps only the archived (True) or only the others (False); pages leave archived
    ones out with `include_archived=False`.
    """
    column = PROJECT_SORTS.get(sort, col(Project.slug))
    query = sa.select(
        col(Project.slug),
        col(Project.title),
        col(Organisation.code),
        col(Organisation.name),
        col(Project.status),
        col(Project.theme),
        col(Project.cost_gbp),
        col(Project.effort_pm),
        col(Project.mandatory),
        col(Project.version),
        col(Project.archived_at).is_not(None),
        col(Project.end_date),
    ).join(Organisation, col(Organisation.id) == col(Project.owner_id))
    if organisation:
        query = query.where(col(Organisation.code) == organisation)
    if status:
        query = query.where(col(Project.status) == status)
    if theme:
        query = query.where(col(Project.theme) == theme)
    if q:
        query = query.where(containing(col(Project.title), q) | containing(col(Project.slug), q))
    if not include_archived or archived is False:
        query = query.where(col(Project.archived_at).is_(None))
    if archived:
        query = query.where(col(Project.archived_at).is_not(None))
    if after:
        # Keyset on (sort column, slug): the row after the named project in this order.
        mark = (select(column).select_from(Project)
                .join(Organisation, col(Organisation.id) == col(Project.owner_id))
                .where(col(Project.slug) == after).scalar_subquery())
        query = query.where((column > mark) | ((column == mark) & (col(Project.slug) > after)))
    query = query.order_by(column, col(Project.slug))
    if limit:
        query = query.limit(limit)
    keys = (
        "slug",
        "title",
        "organisation",
        "organisation_name",
        "status",
        "theme",
        "cost_gbp",
        "effort_pm",
        "mandatory",
        "version",
        "archived",
    )
    today = date.today()
    found: list[dict[str, Any]] = []
    for *values, end_date in session.execute(query).all():
        item: dict[str, Any] = dict(zip(keys, values, strict=True))
        item["overdue"] = is_overdue(item["status"], cast(date | None, end_date), today=today)
        found.append(item)
    return found


def count_projects(*, session: Session) -> int:
    """Return how many projects the portfolio holds."""
    return session.exec(select(func.count()).select_from(Project)).one()


def get_project(*, session: Session, slug: str) -> dict[str, Any]:
    """Return a project with its partners, datasets, dependencies and current assessments."""
    project = project_by_slug(session, slug)
    owner = session.get(Organisation, project.owner_id)
    assert owner is not None
    detail = project_summary(project, owner.code) | as_record(project, exclude=())
    detail.pop("id")
    detail.pop("owner_id")
    # Who set the override by name, as its own address says (`by`), not by the user's row id.
    detail.pop("override_by_id")
    detail["override_by"] = override_of(session=session, project=project).get("by")
    detail["organisation"] = owner.code
    detail["organisation_name"] = owner.name
    detail["partners"] = [
        {"organisation": code, "name": name, "role": role}
        for code, name, role in session.exec(
            select(Organisation.code, Organisation.name, ProjectPartner.role)
            .join(ProjectPartner, col(ProjectPartner.organisation_id) == col(Organisation.id))
            .where(ProjectPartner.project_id == project.id)
            .order_by(Organisation.name)
        ).all()
    ]
    detail["partner_requests"] = partner_requests(session, row_id(project))
    links = cast(list[tuple[str, str, str, str, str, bool, str, str, str | None, str | None,
                            str | None, date | None, date | None]], session.execute(
        sa.select(
            col(Dataset.code),
            col(Dataset.title),
            col(Dataset.drl),
            col(Dataset.access),
            col(ProjectDataset.relation),
            col(ProjectDataset.required),
            col(ProjectDataset.fit_for_task),
            col(ProjectDataset.agreement),
            col(SharingAgreement.code),
            col(SharingAgreement.title),
            col(SharingAgreement.status),
            col(SharingAgreement.signed_on),
            col(SharingAgreement.expires_on),
        )
        .join(ProjectDataset, col(ProjectDataset.dataset_id) == col(Dataset.id))
        .outerjoin(SharingAgreement,
                   col(SharingAgreement.id) == col(ProjectDataset.sharing_agreement_id))
        .where(col(ProjectDataset.project_id) == project.id)
        .order_by(col(ProjectDataset.relation), col(Dataset.title))
    ).all())
    detail["datasets"] = [
        {
            "dataset": code,
            "title": title,
            "drl": drl,
            "access": access,
            "relation": rel,
            "required": req,
            "fit_for_task": fit,
            "agreement": agreement_word(agr, a_code, a_status, signed, expires),
            "sharing_agreement": a_code,
            "sharing_agreement_title": a_title,
        }
        for (code, title, drl, access, rel, req, fit, agr, a_code, a_title, a_status, signed,
             expires) in links
    ]
    detail["depends_on"] = _neighbours(session, row_id(project), upstream=True)
    detail["depended_on_by"] = _neighbours(session, row_id(project), upstream=False)
    detail["assessments"] = current_assessments(session=session, project_id=row_id(project))
    return detail


def _neighbours(session: Session, project_id: int, *, upstream: bool) -> list[dict[str, Any]]:
    """Return the projects this one depends on (upstream) or that depend on it."""
    mine, theirs = (
        (col(ProjectDependency.project_id), col(ProjectDependency.depends_on_id))
        if upstream
        else (col(ProjectDependency.depends_on_id), col(ProjectDependency.project_id))
    )
    rows = session.exec(
        select(Project.slug, Project.title, Project.status, ProjectDependency.note)
        .join(ProjectDependency, theirs == col(Project.id))
        .where(mine == project_id)
        .order_by(Project.slug)
    ).all()
    return [{"slug": s, "title": t, "status": st, "note": n} for s, t, st, n in rows]


def current_assessments(*, session: Session, project_id: int) -> list[dict[str, Any]]:
    """Return each criterion's level that scores (the assessors' median) with every assessor's.

    Each assessor's newest assessment counts once; `low` and `high` give the spread, and
    `disagree` says whether they differ (docs/DESIGN.md, "Several assessors").
    """
    latest = (
        select(func.max(Assessment.id))
        .where(Assessment.project_id == project_id)
        .group_by(col(Assessment.criterion_id), col(Assessment.assessor_id))
    )
    query = (
        sa.select(
            col(Criterion.key),
            col(Criterion.name),
            col(Criterion.dimension),
            col(Assessment.level),
            col(Assessment.rationale),
            col(Assessment.assessed_at),
            col(User.name),
            col(User.email),
        )
        .join(Criterion, col(Criterion.id) == col(Assessment.criterion_id))
        .outerjoin(User, col(User.id) == col(Assessment.assessor_id))
        .where(col(Assessment.id).in_(latest))
        .order_by(col(Criterion.position), col(Criterion.key), col(Assessment.id).desc())
    )
    rows = cast(list[tuple[str, str, str, int, str, datetime, str | None, str | None]],
                session.execute(query).all())
    by_criterion: dict[str, dict[str, Any]] = {}
    for key, name, dimension, level, rationale, at, who, email in rows:
        entry = by_criterion.setdefault(key, {
            "criterion": key, "name": name, "dimension": dimension, "assessors": [],
            # The newest assessment of any assessor comes first.
            "latest_level": level, "rationale": rationale,
            "assessed_at": at.isoformat() if at else None,
        })
        entry["assessors"].append({"who": who or email or "unattributed", "level": level,
                                   "rationale": rationale,
                                   "assessed_at": at.isoformat() if at else None})
    for entry in by_criterion.values():
        levels = [a["level"] for a in entry["assessors"]]
        middle = float(statistics.median(levels))
        entry |= {"level": int(middle) if middle.is_integer() else middle,
                  "low": min(levels), "high": max(levels),
                  "disagree": min(levels) != max(levels)}
    return list(by_criterion.values())


def add_dependency(
    *, session: Session, actor: Actor, slug: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Record that a project depends on another; refuse a self-dependency or a cycle."""
    values = parse(DependencyInput, data)
    # Dependencies are added one at a time across the portfolio: two added at once that close
    # a cycle between them (each on its own project) would each miss the other's in the check.
    one_at_a_time(session, "project dependencies")
    # A project's links are written one at a time (the project is locked to the commit): the
    # same link added or removed twice at once finds the other's, never a unique key's 500.
    project = project_by_slug(session, slug, for_update=True)
    require_project_editor(actor, project)
    if values.depends_on == slug:
        raise CycleRefused([slug, slug], [project.title, project.title])
    prerequisite = session.exec(select(Project).where(Project.slug == values.depends_on)).first()
    if prerequisite is None:
        raise Invalid({"depends_on": f"unknown project {values.depends_on!r}"})
    existing = session.exec(
        select(ProjectDependency).where(
            ProjectDependency.project_id == project.id,
            ProjectDependency.depends_on_id == prerequisite.id,
        )
    ).first()
    if existing is not None:
        # Already there (added meanwhile, say): a note typed that differs is not thrown away.
        if values.note and values.note != existing.note:
            raise Conflict(f"{project.title} already depends on {prerequisite.title}, with the "
                           f"note “{existing.note or 'none'}”: to give it yours, remove the "
                           "dependency and add it again",
                           current={"project": slug, "depends_on": values.depends_on,
                                    "note": existing.note})
        return {"project": slug, "depends_on": values.depends_on, "note": existing.note}
    path = dependency_path(session, start_id=row_id(prerequisite), target_id=row_id(project))
    if path is not None:
        titles = dict(session.exec(select(Project.slug, Project.title)
                                   .where(col(Project.slug).in_(path))).all())
        raise CycleRefused([slug, *path], [project.title, *(titles.get(s, s) for s in path)])
    link = ProjectDependency(project_id=row_id(project), depends_on_id=row_id(prerequisite),
                             note=values.note)
    session.add(link)
    session.flush()
    record(
        session,
        actor,
        action="create",
        entity="dependency",
        project_id=project.id,
        entity_id=link.id,
        after={"project": slug, "depends_on": values.depends_on, "note": values.note},
    )
    return {"project": slug, "depends_on": values.depends_on, "note": values.note}


def dependency_path(session: Session, *, start_id: int, target_id: int) -> list[str] | None:
    """Return the slugs on a depends-on path from start to target, or None if there is none."""
    parent: dict[int, int | None] = {start_id: None}
    frontier = [start_id]
    while frontier:
        next_frontier: list[int] = []
        for chunk in chunks(frontier):
            rows = session.exec(
                select(ProjectDependency.project_id, ProjectDependency.depends_on_id).where(
                    col(ProjectDependency.project_id).in_(chunk)
                )
            ).all()
            for source, prerequisite in rows:
                if prerequisite in parent:
                    continue
                parent[prerequisite] = source
                if prerequisite == target_id:
                    return _slugs_on_path(session, parent, target_id)
                next_frontier.append(prerequisite)
        frontier = next_frontier
    if start_id == target_id:
        return _slugs_on_path(session, parent, target_id)
    return None


def _slugs_on_path(session: Session, parent: dict[int, int | None], end: int) -> list[str]:
    """Walk the BFS parents back from end and return the path's slugs, start first."""
    ids: list[int] = []
    node: int | None = end
    while node is not None:
        ids.append(node)
        node = parent[node]
    ids.reverse()
    slugs = dict(session.exec(select(col(Project.id),
                                     col(Project.slug)).where(col(Project.id).in_(ids))).all())
    return [slugs[i] for i in ids]


def remove_dependency(*, session: Session, actor: Actor, slug: str, depends_on: str,
                      was_note: str | None = None) -> None:
    """Remove a dependency between two projects; given the note read, one changed is kept.

    A dependency removed and added again meanwhile with another note is not the one the user
    chose to remove: refused (409), shown as it is now.
    """
    project = project_by_slug(session, slug, for_update=True)
    require_project_editor(actor, project)
    prerequisite = project_by_slug(session, depends_on)
    link = session.exec(
        select(ProjectDependency).where(
            ProjectDependency.project_id == project.id,
            ProjectDependency.depends_on_id == prerequisite.id,
        )
    ).first()
    if link is None:
        raise Invalid({"depends_on": f"{slug!r} does not depend on {depends_on!r}"})
    # A note's line breaks come back from a form as CRLF or LF, depending on how it was sent.
    if was_note is not None and _lines(link.note or "") != _lines(was_note):
        raise Conflict(f"the dependency on {depends_on} was changed by someone else since you "
                       f"read this page: its note is now {link.note or 'empty'!r}",
                       current={"depends_on": depends_on, "note": link.note})
    record(
        session,
        actor,
        action="delete",
        entity="dependency",
        project_id=project.id,
        entity_id=link.id,
        before={"project": slug, "depends_on": depends_on, "note": link.note},
    )
    session.delete(link)


def _lines(text: str) -> str:
    """Return text with its line breaks written one way."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def link_key(dataset: str, relation: str) -> str:
    """Return the key naming a project's link to a dataset in a reading of its links."""
    return f"{dataset} {relation}"


def links_read(detail: dict[str, Any]) -> dict[str, Any]:
    """Return a project's links as its edit page shows them, for its forms to send back."""
    datasets = {link_key(d["dataset"], d["relation"]): {
        "required": bool(d["required"]), "fit_for_task": d["fit_for_task"],
        # A link resting on a record shows the record's standing; its own word is then "none".
        "agreement": Agreement.NONE.value if d["sharing_agreement"] else d["agreement"],
        "sharing_agreement": d["sharing_agreement"]} for d in detail["datasets"]}
    return {"datasets": datasets,
            "partners": {p["organisation"]: p["role"] for p in detail["partners"]}}


def _link_state(session: Session, link: ProjectDataset | None) -> dict[str, Any] | None:
    """Return a dataset link's own values as `links_read` gives them (None: not linked)."""
    if link is None:
        return None
    code = (session.get(SharingAgreement, link.sharing_agreement_id).code  # type: ignore[union-attr]
            if link.sharing_agreement_id else None)
    return {"required": bool(link.required), "fit_for_task": link.fit_for_task,
            "agreement": link.agreement, "sharing_agreement": code}


def _require_link_as_read(session: Session, dataset: Dataset, relation: str,
                          link: ProjectDataset | None, was: Mapping[str, Any] | None) -> None:
    """Refuse a link change made from a reading (None: not linked) no longer true."""
    if was is not None and not isinstance(was, Mapping):
        raise Invalid({"form": "The form is damaged: reload the page and try again."})
    now = _link_state(session, link)
    if now == (None if was is None else dict(was)):
        return
    said = "is no longer linked" if now is None else (
        "was linked" if was is None else "was changed")
    raise Conflict(f"the link to {dataset.title} ({relation.replace('_', ' ')}) {said} by "
                   "someone else since you read this page", current=now or {})


def link_dataset(
    *, session: Session, actor: Actor, slug: str, data: dict[str, Any],
    read: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Link a project to a dataset or update the link; refuse one changed since the links `read`."""
    values = parse(DatasetLinkInput, data)
    project = project_by_slug(session, slug, for_update=True)
    require_project_editor(actor, project)
    dataset = dataset_by_code(session, values.dataset, field="dataset")
    link = session.exec(
        select(ProjectDataset).where(
            ProjectDataset.project_id == project.id,
            ProjectDataset.dataset_id == dataset.id,
            ProjectDataset.relation == values.relation.value,
        )
    ).first()
    if read is not None:
        _require_link_as_read(session, dataset, values.relation.value, link,
                              read.get(link_key(dataset.code, values.relation.value)))
    if values.sharing_agreement is None:  # resting on a record, the word is the record's
        _require_own_word(actor, values.agreement, link)
    before = as_record(link) if link else None
    if link is None:
        link = ProjectDataset(
            project_id=row_id(project), dataset_id=row_id(dataset), relation=values.relation.value
        )
    link.required = values.required
    link.fit_for_task = values.fit_for_task.value
    link.sharing_agreement_id = link_agreement_id(session, values.sharing_agreement,
                                                  row_id(dataset), project.owner_id)
    # A link resting on a record takes its word from the record; its own word is then unused.
    link.agreement = (Agreement.NONE.value if link.sharing_agreement_id
                      else values.agreement.value)
    session.add(link)
    session.flush()
    record(
        session,
        actor,
        action="update" if before else "create",
        entity="dataset_link",
        project_id=project.id,
        entity_id=link.id,
        before=before,
        after=as_record(link),
    )
    return {"project": slug, **values.model_dump(mode="json")}


# The words a person gives a link without an agreement record (DESIGN "A link's word"): any
# other standing is an agreement's, and rests on its record.
OWN_WORDS = frozenset({Agreement.NOT_NEEDED, Agreement.NONE})


def _require_own_word(actor: Actor, word: Agreement, link: ProjectDataset | None) -> None:
    """Refuse a link word only an agreement record gives, unless a bulk load wrote it."""
    # The system's loads may still write drafting, signed or expired; a word already on the
    # link may be sent back as read, with the link's other fields changed.
    if word in OWN_WORDS or actor.id is None or (link is not None and link.agreement == word):
        return
    raise Invalid({"agreement": (
        f"Without an agreement record, a use of a dataset is “not needed” or “none” yet, not "
        f"“{word.value}”: an agreement being drafted, signed or expired is registered, and "
        "the use rests on that agreement record (choose it, or register it first).")})


def unlink_dataset(
    *, session: Session, actor: Actor, slug: str, dataset: str, relation: str = "uses",
    was: Mapping[str, Any] | None = None,
) -> None:
    """Remove a project's link to a dataset, unless it changed from the one read (`was`)."""
    project = project_by_slug(session, slug, for_update=True)
    require_project_editor(actor, project)
    found = dataset_by_code(session, dataset, field="dataset")
    link = session.exec(
        select(ProjectDataset).where(
            ProjectDataset.project_id == project.id,
            ProjectDataset.dataset_id == found.id,
            ProjectDataset.relation == relation,
        )
    ).first()
    if link is None:
        raise Invalid({"dataset": f"{slug!r} does not {relation} {dataset!r}"})
    if was is not None:
        _require_link_as_read(session, found, relation, link, was)
    record(
        session,
        actor,
        action="delete",
        entity="dataset_link",
        project_id=project.id,
        entity_id=link.id,
        before=as_record(link),
    )
    session.delete(link)


def add_partner(
    *, session: Session, actor: Actor, slug: str, data: dict[str, Any],
    read: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Add a partner or change its role; refuse one changed since the roles `read` (by code)."""
    values = parse(PartnerInput, data)
    project = project_by_slug(session, slug, for_update=True)
    require_project_editor(actor, project)
    organisation = organisation_by_code(session, values.organisation)
    if organisation.id == project.owner_id:
        raise Invalid({"organisation": "the owner is not listed as its own partner"})
    partner = session.exec(
        select(ProjectPartner).where(
            ProjectPartner.project_id == project.id,
            ProjectPartner.organisation_id == organisation.id,
        )
    ).first()
    if read is not None:
        _require_partner_as_read(organisation, partner, read.get(organisation.code))
    before = as_record(partner) if partner else None
    if partner is None:
        partner = ProjectPartner(project_id=row_id(project), organisation_id=row_id(organisation))
    partner.role = values.role.value
    session.add(partner)
    # Added by the owning side: any request of the organisation to join is answered by it.
    session.execute(sa.delete(PartnerRequest).where(
        col(PartnerRequest.project_id) == project.id,
        col(PartnerRequest.organisation_id) == organisation.id))
    session.flush()
    record(
        session,
        actor,
        action="update" if before else "create",
        entity="partner",
        project_id=project.id,
        entity_id=partner.id,
        before=before,
        after=as_record(partner),
    )
    return {"project": slug, "organisation": organisation.code, "role": partner.role}


def _require_partner_as_read(organisation: Organisation, partner: ProjectPartner | None,
                             was: str | None) -> None:
    """Refuse a partner change made from a role read (None: not a partner) no longer true."""
    now = partner.role if partner else None
    if now == was:
        return
    said = (f"is now a partner as {now.replace('_', ' ')}" if now
            else "is no longer a partner")
    raise Conflict(f"{organisation.name} {said}: someone else changed it since you read this "
                   "page", current={"organisation": organisation.code, "role": now})


def remove_partner(*, session: Session, actor: Actor, slug: str, organisation: str,
                   was_role: str | None = None) -> None:
    """Remove a partner organisation, unless its role changed from the one read (`was_role`)."""
    project = project_by_slug(session, slug, for_update=True)
    require_project_editor(actor, project)
    org = organisation_by_code(session, organisation)
    partner = session.exec(
        select(ProjectPartner).where(
            ProjectPartner.project_id == project.id, ProjectPartner.organisation_id == org.id
        )
    ).first()
    if partner is None:
        raise Invalid({"organisation": f"{organisation!r} is not a partner of {slug!r}"})
    if was_role is not None:
        _require_partner_as_read(org, partner, was_role)
    record(
        session,
        actor,
        action="delete",
        entity="partner",
        project_id=project.id,
        entity_id=partner.id,
        before=as_record(partner),
    )
    session.delete(partner)


def assess(*, session: Session, actor: Actor, slug: str, data: dict[str, Any]) -> dict[str, Any]:
    """Append an assessment of a project on a criterion; history is never overwritten."""
    values = parse(AssessmentInput, data)
    project = project_by_slug(session, slug)
    require(actor, Capability.ASSESS_PROJECT, with_partners(session, project))
    criterion = session.exec(select(Criterion).where(Criterion.key == values.criterion)).first()
    if criterion is None:
        raise Invalid({"criterion": f"unknown criterion {values.criterion!r}"})
    if criterion.source != CriterionSource.ASSESSED.value:
        raise Invalid({"criterion": f"{criterion.key!r} is computed, not assessed"})
    levels = session.exec(
        select(CriterionLevel.level).where(CriterionLevel.criterion_id == criterion.id)
    ).all()
    if values.level not in levels:
        raise Invalid(
            {
                "level": f"{values.level} is outside the scale of {criterion.key!r} "
                f"({criterion.min_level}..{criterion.max_level})"
            }
        )
    assessment = Assessment(
        project_id=row_id(project),
        criterion_id=row_id(criterion),
        level=values.level,
        rationale=values.rationale,
        assessor_id=actor.id,
    )
    session.add(assessment)
    session.flush()
    record(
        session,
        actor,
        action="assess",
        entity="project",
        entity_id=project.id,
        after={"criterion": criterion.key, "level": values.level, "rationale": values.rationale},
    )
    return {
        "project": slug,
        "criterion": criterion.key,
        "level": values.level,
        "rationale": values.rationale,
    }
