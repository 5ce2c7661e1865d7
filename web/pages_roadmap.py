"""Pages for the roadmap by quarter, its timeline, and each organisation's capacity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from portfolio.actors import Actor
from portfolio.errors import Invalid
from portfolio.services import organisations as organisation_service
from portfolio.services import profiles as profile_service
from portfolio.services import roadmap as roadmap_service
from portfolio.services.common import at_revision
from web.deps import get_database
from web.pages_common import AppDatabase, CurrentActor, FormData
from web.security import Policy, policy
from web.templating import render
from web.timeline import capacity_chart, timeline

router = APIRouter(include_in_schema=False)
READ = Depends(policy(Policy.READ))
CAPACITY = Depends(policy(Policy.CAPACITY))
Text = Annotated[str | None, Query(max_length=40)]


def _number(errors: dict[str, str], name: str, raw: str | None, *, whole: bool = False,
            words: str) -> Any:
    """Read a number typed into the form; note a plain-English error beside its field."""
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw.replace(",", "").replace("£", ""))
        if whole:
            if value != int(value):
                raise ValueError
            return int(value)
        return value
    except ValueError:
        errors[name] = f"enter {words}"
        return None


@router.get("/plan/roadmap", name="roadmap", dependencies=[READ])
def roadmap_page(
    request: Request, db: AppDatabase, budget: Text = None, horizon: Text = None,
    capacity: Text = None, discount_rate: Text = None,
    profile: Annotated[str | None, Query(max_length=120)] = None,
    group: Annotated[str | None, Query(max_length=20)] = None,
):
    """Plan which projects start in which quarter; show it by quarter and as a timeline."""
    profiles = at_revision(db, "roadmap profiles",
                           lambda session: profile_service.list_profiles(session=session))
    form = {"budget": budget or "", "capacity": capacity or "",
            "horizon": horizon or str(roadmap_service.DEFAULT_HORIZON),
            "discount_rate": discount_rate or str(roadmap_service.DEFAULT_DISCOUNT_RATE),
            "profile": profile or (profiles[0]["name"] if profiles else "")}
    errors: dict[str, str] = {}
    values = {
        "budget": _number(errors, "budget", budget, words="a budget in pounds, such as 500000"),
        "horizon": _number(errors, "horizon", form["horizon"], whole=True,
                           words="a whole number of quarters from 1 to 40"),
        "capacity": _number(errors, "capacity", capacity, words="a number of person-months"),
        "discount_rate": _number(errors, "discount_rate", form["discount_rate"],
                                 words="a yearly rate such as 0.035"),
    }
    result = None
    if budget and not errors:
        try:
            result = roadmap_service.roadmap(
                db, budget=values["budget"], horizon=values["horizon"],
                capacity=values["capacity"], discount_rate=values["discount_rate"],
                profile=profile or None,
                wall_clock_seconds=db.settings.plan_wall_clock_seconds)
        except Invalid as exc:
            errors = exc.errors
    grouping = "theme" if group == "theme" else "organisation"
    context: dict[str, Any] = {"form": form, "errors": errors, "profiles": profiles,
                               "roadmap": result, "group": grouping}
    if result is not None:
        prerequisites: dict[str, list[str]] = {}
        for project, prerequisite in result["dependencies"]:
            prerequisites.setdefault(project, []).append(prerequisite)
        context |= {"tl": timeline(result, group=grouping), "cap": capacity_chart(result),
                    "prerequisites": prerequisites}
    return render(request, "roadmap.html", context, status_code=422 if errors else 200)


@router.get("/plan/board-pack.pdf", name="board_pack", dependencies=[READ])
def board_pack(
    request: Request, db: AppDatabase, budget: Text = None, horizon: Text = None,
    capacity: Text = None, discount_rate: Text = None,
    profile: Annotated[str | None, Query(max_length=120)] = None,
):
    """Download the board pack: weights, top candidates, the roadmap, blockers and changes."""
    from datetime import date

    from portfolio.services.board_pack import board_pack_data
    from web.board_pack import board_pack_pdf

    errors: dict[str, str] = {}
    values = {
        "budget": _number(errors, "budget", budget, words="a budget in pounds, such as 500000"),
        "horizon": _number(errors, "horizon", horizon or str(roadmap_service.DEFAULT_HORIZON),
                           whole=True, words="a whole number of quarters from 1 to 40"),
        "capacity": _number(errors, "capacity", capacity, words="a number of person-months"),
        "discount_rate": _number(errors, "discount_rate",
                                 discount_rate or str(roadmap_service.DEFAULT_DISCOUNT_RATE),
                                 words="a yearly rate such as 0.035"),
    }
    if values["budget"] is None and "budget" not in errors:
        errors["budget"] = "enter the budget per quarter for the roadmap"
    if errors:
        raise Invalid(errors)
    today = date.today()
    data = board_pack_data(db, today=today, profile=profile or None,
                           wall_clock_seconds=db.settings.plan_wall_clock_seconds, **values)
    return Response(board_pack_pdf(data), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="board-pack-{today.isoformat()}.pdf"'})


def _capacity_page(request: Request, actor: Actor | None, *, errors: dict[str, str],
                   form: dict[str, str], status_code: int = 200):
    """Render the capacity page."""
    with get_database(request).read() as session:
        stated = roadmap_service.capacities(session=session)
        organisations = organisation_service.list_organisations(session=session)
    return render(request, "capacity.html", {
        "stated": stated, "organisations": organisations, "errors": errors, "form": form,
    }, status_code=status_code)


@router.get("/plan/capacity", name="capacity", dependencies=[READ])
def capacity_page(request: Request):
    """List each organisation's stated capacity per quarter; the CDO and admins change them."""
    return _capacity_page(request, getattr(request.state, "actor", None), errors={}, form={})


@router.post("/plan/capacity", name="capacity_set", dependencies=[CAPACITY])
def capacity_set(request: Request, actor: CurrentActor,
                 form: FormData):
    """State an organisation's capacity from a quarter on."""
    fields = {k: form.get(k, "").strip() for k in ("organisation", "quarter", "person_months")}
    try:
        if not fields["organisation"]:
            raise Invalid({"organisation": "choose an organisation"})
        with get_database(request).write() as session:
            roadmap_service.set_capacity(session=session, actor=actor, **fields)
    except Invalid as exc:
        return _capacity_page(request, actor, errors=exc.errors, form=fields, status_code=422)
    return RedirectResponse(request.url_for("capacity").path, status_code=303)


@router.post("/plan/capacity/remove", name="capacity_remove", dependencies=[CAPACITY])
def capacity_remove(request: Request, actor: CurrentActor,
                    form: FormData):
    """Remove a stated capacity."""
    try:
        with get_database(request).write() as session:
            roadmap_service.remove_capacity(session=session, actor=actor,
                                            organisation=form.get("organisation", ""),
                                            quarter=form.get("quarter", ""))
    except Invalid as exc:
        return _capacity_page(request, actor, errors=exc.errors, form={}, status_code=422)
    return RedirectResponse(request.url_for("capacity").path, status_code=303)
