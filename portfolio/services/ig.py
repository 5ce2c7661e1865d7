"""A project's information governance path, after LOTI's framework: each stage and what is missing.

Stages in order: DPIA screening, DPIA, data-sharing agreement(s), privacy notice. The DPIA's
status is the project's own `dpia_status`; the agreements stage is read from the project's
dataset links and the agreements they rest on; screening and privacy notice are recorded here.
DESIGN.md, "Information governance stages", states the rules.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from pydantic import field_validator
from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import DpiaStatus, IgStage, IgStatus
from portfolio.errors import Conflict, Invalid
from portfolio.models import Dataset, ProjectDataset, ProjectIgStage, SharingAgreement, utcnow
from portfolio.schemas import EARLIEST, LATEST, Day, Input, LongText, parse
from portfolio.services.common import project_by_slug, record
from portfolio.services.merge import as_json, three_way
from scoring.agreements import standing

STAGE_NAMES = {
    IgStage.DPIA_SCREENING: "DPIA screening",
    IgStage.DPIA: "Data protection impact assessment (DPIA)",
    IgStage.SHARING_AGREEMENTS: "Data-sharing agreement(s)",
    IgStage.PRIVACY_NOTICE: "Privacy notice",
}
# The DPIA stage reads the project's DPIA status.
DPIA_AS_STAGE = {DpiaStatus.NOT_NEEDED.value: IgStatus.NOT_NEEDED.value,
                 DpiaStatus.NOT_STARTED.value: IgStatus.NOT_STARTED.value,
                 DpiaStatus.IN_PROGRESS.value: IgStatus.IN_PROGRESS.value,
                 DpiaStatus.APPROVED.value: IgStatus.DONE.value}
# Stages recorded on this page (the DPIA's status is the project's; its date and note are here).
RECORDED = (IgStage.DPIA_SCREENING, IgStage.DPIA, IgStage.PRIVACY_NOTICE)
IN_FORCE = frozenset({"signed", "not_needed"})


class StageInput(Input):
    """A stage's status, the date it reached it and a note."""

    status: IgStatus = IgStatus.NOT_STARTED
    dated_on: Day | None = None
    note: LongText = ""

    @field_validator("dated_on", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("dated_on")
    @classmethod
    def _sensible(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"Enter a date between {EARLIEST.year} and {LATEST.year}.")
        return value


def _agreements_stage(session: Session, project_id: int, today: date) -> dict[str, Any]:
    """Return the agreements stage from the project's required uses and their agreements."""
    agreement, link = SharingAgreement, ProjectDataset
    query = (select(col(Dataset.title), col(link.agreement), col(agreement.code),
                    col(agreement.title), col(agreement.status), col(agreement.signed_on),
                    col(agreement.expires_on))
             .select_from(link)
             .join(Dataset, col(Dataset.id) == col(link.dataset_id))
             .outerjoin(agreement, col(agreement.id) == col(link.sharing_agreement_id))
             .where(col(link.project_id) == project_id, col(link.relation) == "uses",
                    col(link.required).is_(True))
             .order_by(col(Dataset.title)))
    rows = cast(list[tuple[str, str, str | None, str | None, str, date | None, date | None]],
                session.execute(query).all())
    missing: list[dict[str, Any]] = []
    signed_days: list[date] = []
    signed = False  # a link's own word counts as written, though no record dates it
    for title, word, code, a_title, status, signed_on, expires_on in rows:
        now = standing(status, signed_on, expires_on, today) if code else word
        if now not in IN_FORCE:
            missing.append({"dataset": title, "agreement": code, "agreement_title": a_title,
                            "standing": now})
            continue
        signed = signed or now == "signed"
        if code and signed_on:
            signed_days.append(signed_on)
    needing = [r for r in rows if (r[2] is not None or r[1] != "not_needed")]
    if not needing:
        status = IgStatus.NOT_NEEDED.value
    elif not missing:
        status = IgStatus.DONE.value
    elif any(m["standing"] in {"drafting", "expired"} for m in missing) or signed:
        status = IgStatus.IN_PROGRESS.value
    else:
        status = IgStatus.NOT_STARTED.value
    return {"status": status, "dated_on": max(signed_days) if signed_days and not missing
            else None, "missing_agreements": missing}


def ig_path(*, session: Session, slug: str, today: date | None = None) -> dict[str, Any]:
    """Return a project's IG stages in order, each with status and date, and what is missing.

    A stage is missing when it is expected and not done: every stage for a project that
    processes personal data; only the screening otherwise (it decides whether a DPIA is needed).
    """
    project = project_by_slug(session, slug)
    assert project.id is not None
    rows: list[ProjectIgStage] = list(session.execute(select(ProjectIgStage).where(
        col(ProjectIgStage.project_id) == project.id)).scalars())
    stored = {row.stage: row for row in rows}
    day = today or date.today()
    stages = []
    for stage in IgStage:
        row = stored.get(stage.value)
        found: dict[str, Any] = {
            "stage": stage.value, "name": STAGE_NAMES[stage],
            "status": row.status if row else IgStatus.NOT_STARTED.value,
            "dated_on": row.dated_on if row else None, "note": row.note if row else "",
            "recorded": stage in RECORDED, "missing_agreements": [],
        }
        if stage == IgStage.DPIA:
            found["status"] = DPIA_AS_STAGE[project.dpia_status]
        elif stage == IgStage.SHARING_AGREEMENTS:
            found |= _agreements_stage(session, project.id, day)
        expected = project.personal_data or stage == IgStage.DPIA_SCREENING
        found["missing"] = expected and found["status"] not in {IgStatus.DONE.value,
                                                                IgStatus.NOT_NEEDED.value}
        stages.append(found)
    return {"project": slug, "owner_id": project.owner_id, "personal_data": project.personal_data,
            "stages": stages, "missing": [s["name"] for s in stages if s["missing"]]}


def record_stage(*, session: Session, actor: Actor, slug: str, stage: str,
                 data: dict[str, Any], was: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a stage's status, date and note (the DPIA's status is set on the project).

    Given the values the user's form started from (`was`), only the fields they changed are
    written, merged with what is stored now; a field someone else changed differently
    meanwhile is a conflict (409, nothing written, both values returned).
    """
    # Locked to the commit: a save waiting on another's merges with what that one wrote.
    project = project_by_slug(session, slug, for_update=True)
    require(actor, Capability.RECORD_IG, project)
    try:
        which = IgStage(stage)
    except ValueError:
        raise Invalid({"stage": f"{stage!r} is not a stage: choose one of "
                                f"{', '.join(s.value for s in RECORDED)}"}) from None
    if which not in RECORDED:
        raise Invalid({"stage": "The agreements stage follows the project's dataset links and "
                                "the agreements they rest on: record those instead."})
    values: StageInput = parse(StageInput, data)
    if which == IgStage.DPIA and "status" in data:
        _require_project_dpia_status(project.dpia_status, values.status)
    row: ProjectIgStage | None = session.execute(select(ProjectIgStage).where(
        col(ProjectIgStage.project_id) == project.id, col(ProjectIgStage.stage) == which.value)
    ).scalars().first()
    saved = _stage_values(row)
    wanted = {"status": values.status.value, "dated_on": as_json(values.dated_on),
              "note": _same_text(values.note)}
    if was is not None:
        blank = _stage_values(None)
        base = {k: _same_text(str(was.get(k) or "")) or blank[k] for k in wanted}
        mine = {k: v for k, v in wanted.items() if v != base[k]}
        applied, conflicts = three_way(base, saved, mine)
        if conflicts:
            raise Conflict(f"the {STAGE_NAMES[which]} stage was changed by someone else since "
                           "you opened it, and you both changed "
                           + ", ".join(sorted(conflicts)), current=saved, conflicts=conflicts)
        wanted = saved | applied
    if which == IgStage.DPIA:
        # Its status lives on the project, where the workflow reads it.
        wanted["status"] = DPIA_AS_STAGE[project.dpia_status]
    _require_done_by_today(which, wanted)
    before = {"status": row.status, "dated_on": str(row.dated_on or ""), "note": row.note
              } if row else None
    row = row or ProjectIgStage(project_id=int(project.id or 0), stage=which.value)
    row.status = wanted["status"]
    row.dated_on = date.fromisoformat(wanted["dated_on"]) if wanted["dated_on"] else None
    row.note = wanted["note"]
    row.updated_by_id = actor.id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    record(session, actor, action="update" if before else "create", entity="ig_stage",
           entity_id=row.id, project_id=project.id, before=before,
           after={"stage": which.value, "status": row.status,
                  "dated_on": str(row.dated_on or ""), "note": row.note})
    return {"project": slug, "stage": which.value, "status": row.status,
            "dated_on": row.dated_on, "note": row.note}


def _require_project_dpia_status(dpia_status: str, sent: IgStatus) -> None:
    """Refuse a DPIA stage status other than the one the project's DPIA status gives."""
    status = DPIA_AS_STAGE[dpia_status]
    if sent.value != status:
        raise Invalid({"status": (
            f"The DPIA stage's status follows the project's DPIA status "
            f"({dpia_status.replace('_', ' ')}, so {status.replace('_', ' ')}): edit the "
            "project to change it. Here only its date and note are recorded.")})


def _require_done_by_today(stage: IgStage, wanted: dict[str, Any]) -> None:
    """Refuse a stage done on a day still to come (as an agreement signed in the future is)."""
    day = wanted["dated_on"]
    if wanted["status"] != IgStatus.DONE.value or not day or day <= date.today().isoformat():
        return
    until = ("give the day the DPIA was approved" if stage == IgStage.DPIA
             else "record the stage as in progress until it is done")
    raise Invalid({"dated_on": f"The date ({day}) is in the future: a stage is done on or "
                               f"before today, so {until}."})


def _stage_values(row: ProjectIgStage | None) -> dict[str, Any]:
    """Return a stage's stored fields as a form compares them (dates as ISO text)."""
    if row is None:
        return {"status": IgStatus.NOT_STARTED.value, "dated_on": None, "note": ""}
    return {"status": row.status, "dated_on": as_json(row.dated_on),
            "note": _same_text(row.note)}


def _same_text(text: str) -> str:
    """Return text as stored, so a browser's line endings do not count as a change."""
    return text.replace("\r\n", "\n").strip()
