"""Pages: weight profiles (list, create, edit, AHP grid, retire, history, compare)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlmodel import Session

from portfolio.enums import DIMENSIONS
from portfolio.errors import Conflict, Invalid
from portfolio.services import filters as closed_lists
from portfolio.services import profile_pages
from portfolio.services import profiles as profile_service
from portfolio.text import whole_number
from web.pages_common import AppDatabase, CurrentActor, FormData, WriteSession, sentence, when
from web.pages_projects import see_other
from web.routing import Router
from web.security import Policy, policy
from web.templating import path_for, render, templates

router = Router(include_in_schema=False)
READ = Depends(policy(Policy.READ))
PROFILES = Depends(policy(Policy.PROFILES))
ProfileName = Annotated[str, Query(max_length=120)]


def _list_page(request: Request, db: Any, *, status_code: int = 200,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
               sliders: bool = False):
    """Render the list; `sliders` shows the form saving what-if weights in place of "create"."""
    with db.read() as session:
        listed = profile_service.list_profiles(session=session)
    return render(request, "profiles.html", {
        "profiles": listed, "errors": errors or {}, "values": values or {},
        "sliders": sliders,
    }, status_code=status_code)


@router.get("/profiles", name="profiles", dependencies=[READ])
def profiles_page(request: Request, db: AppDatabase):
    """List the weight profiles, with forms to create one and to compare two."""
    return _list_page(request, db)


def _base(session: Session, form: dict[str, str]) -> dict[str, Any]:
    """Return the profile a new one starts from, or refuse naming the field."""
    name = form.get("based_on", "").strip()
    found = [p for p in profile_service.list_profiles(session=session) if p["name"] == name]
    if not found:
        raise Invalid({"based_on": "choose the profile to start from"})
    return found[0]


@router.post("/profiles", name="profile_create", dependencies=[PROFILES])
def profile_create(request: Request, db: AppDatabase, session: WriteSession,
                   actor: CurrentActor, form: FormData):
    """Create a profile from another's weights, then open it for editing."""
    name = form.get("name", "").strip()
    try:
        base = _base(session, form)
        profile_service.set_weights(
            session=session, actor=actor, name=name, create=True,
            dimension_weights=base["weights"]["dimension"],
            criterion_weights=base["weights"]["criterion"],
            description=form.get("description", "").strip())
    except Invalid as exc:
        session.rollback()
        return _list_page(request, db, status_code=422, errors=exc.errors, values=form)
    return see_other(path_for(request, "profile", name=name))


@router.post("/profiles/from-sliders", name="profile_from_sliders", dependencies=[PROFILES])
def profile_from_sliders(request: Request, db: AppDatabase, session: WriteSession,
                         actor: CurrentActor, form: FormData):
    """Save the backlog's what-if dimension weights as a new profile (criteria as the base's)."""
    name = form.get("name", "").strip()
    # Read as the profile form reads its dimension fields, so each problem stands by its field.
    dims, _, problems = profile_pages.weights_from_form(
        {f"dim:{d}": form.get(f"w_{d}", "") for d in DIMENSIONS}, {})
    try:
        if problems:
            raise Invalid({f"w_{k.removeprefix('dim:')}": v for k, v in problems.items()})
        base = _base(session, form)
        profile_service.set_weights(
            session=session, actor=actor, name=name, create=True, dimension_weights=dims,
            criterion_weights=base["weights"]["criterion"],
            description=f"From the backlog's what-if weights on {base['name']}")
    except Invalid as exc:
        session.rollback()
        # The what-if weights come back with the refusal, so the retry saves them, not the base's.
        return _list_page(request, db, status_code=422, errors=exc.errors, sliders=True,
                          values={"name": name, "based_on": form.get("based_on", "")}
                          | {f"w_{d}": form.get(f"w_{d}", "") for d in DIMENSIONS})
    return see_other(path_for(request, "profile", name=name))


@router.get("/profiles/compare", name="profile_compare", dependencies=[READ])
def profile_compare(request: Request, db: AppDatabase, a: ProfileName = "",
                    b: ProfileName = ""):
    """Compare the rankings two profiles give, side by side."""
    with db.read() as session:
        listed = profile_service.list_profiles(session=session)
    named = closed_lists.Closed("weight profile", [p["name"] for p in listed])
    chosen, errors = closed_lists.sift(a=(named, a), b=(named, b))
    comparison = None
    if chosen["a"] and chosen["b"]:
        try:
            comparison = profile_pages.compare_profiles(db, a=a, b=b)
        except Invalid as exc:
            errors = exc.errors
    return render(request, "profiles_compare.html", {
        "profiles": listed, "a": chosen["a"] or "", "b": chosen["b"] or "",
        "comparison": comparison, "errors": errors,
    }, status_code=422 if errors else 200)


@router.post("/profiles/ahp/preview", name="profile_ahp_preview", dependencies=[READ])
def profile_ahp_preview(request: Request, db: AppDatabase,
                        form: FormData):
    """Recompute the grid's weights and consistency ratios as the user types (htmx)."""
    with db.read() as session:
        criteria = profile_service.criteria_by_dimension(session=session)
    grid = profile_pages.ahp_grid(form, criteria)
    # Always the fragment: there is no page of its own to show without the grid around it.
    return templates.TemplateResponse(request, "profile_ahp.html", {
        "request": request, "grid": grid, "values": form, "criteria": criteria,
    }, block_name="result", headers={"Vary": "HX-Request"})


def _history(session: Session, name: str) -> list[dict[str, Any]]:
    """Return a profile's versions with who made them, by name, and when, in London time."""
    history = profile_service.profile_history(session=session, name=name)
    return [{**h, "by": h["changed_by"],
             "when": when(h["changed_at"]) if h["changed_at"] else ""} for h in history]


def _profile_page(request: Request, db: Any, name: str, *, status_code: int = 200,
                  errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None, conflict: Conflict | None = None,
                  stale_version: int | None = None, retire_errors: dict[str, str] | None = None):
    with db.read() as session:
        profile = profile_service.get_profile(session=session, name=name)
        criteria = profile_service.criteria_by_dimension(session=session)
        history = _history(session, name)
        others = [p["name"] for p in profile_service.list_profiles(session=session)
                  if p["name"] != name]
    return render(request, "profile.html", {
        "profile": profile, "criteria": criteria, "history": history, "others": others,
        "errors": errors or {}, "retire_errors": retire_errors or {},
        "values": values or profile_pages.form_weights(profile, criteria),
        "shares": profile_pages.criterion_shares(profile, criteria),
        "dimensions": DIMENSIONS,
        "conflict": conflict and {
            "message": sentence(conflict.message),
            "changes": _changed_since(history, profile, criteria, stale_version)},
    }, status_code=status_code)


def _changed_since(history: list[dict[str, Any]], profile: dict[str, Any],
                   criteria: dict[str, list[dict[str, str]]],
                   version: int | None) -> list[dict[str, str]]:
    """List the form's weights that differ between a past version and now, in the form's units."""
    then = next((h for h in history if h["version"] == version), None)
    # Compared as the form's figures (criteria as shares of their dimension), the units typed.
    before = profile_pages.form_weights({"weights": then["weights"]}, criteria) if then else {}
    after = profile_pages.form_weights(profile, criteria)
    labels = {f"dim:{d}": d.capitalize() for d in DIMENSIONS} | {
        f"crit:{c['key']}": f"{c['name']} (within {d})" for d, group in criteria.items()
        for c in group}
    return [{"field": name, "label": label, "before": before.get(name, "—"),
             "after": after.get(name, "—")}
            for name, label in labels.items() if before.get(name) != after.get(name)]


@router.get("/profiles/{name}", name="profile", dependencies=[READ])
def profile_page(request: Request, db: AppDatabase, name: str):
    """Show a profile: its weights, how they were made, and every version with what changed."""
    return _profile_page(request, db, name)


@router.post("/profiles/{name}", name="profile_update", dependencies=[PROFILES])
def profile_update(request: Request, db: AppDatabase, session: WriteSession,
                   actor: CurrentActor, name: str, form: FormData):
    """Save weights set directly as the profile's next version, from the version the user read.

    A profile changed since is refused (409) with the user's weights kept and what changed
    shown; the form then carries the version now saved, so saving again is a choice made knowing.
    """
    criteria = profile_service.criteria_by_dimension(session=session)
    dims, crits, errors = profile_pages.weights_from_form(form, criteria)
    version = whole_number(form.get("version", ""))
    if "version" in form and version is None:
        errors["version"] = "the form's version is not a number: reload the page"
    if not errors:
        try:
            profile_service.set_weights(
                session=session, actor=actor, name=name, dimension_weights=dims,
                criterion_weights=crits, description=form.get("description", "").strip(),
                version=version)
        except Conflict as exc:
            session.rollback()
            return _profile_page(request, db, name, status_code=409, conflict=exc,
                                 stale_version=version,
                                 values=form | {"version": str(exc.current["version"])})
        except Invalid as exc:
            session.rollback()
            errors = exc.errors
    if errors:
        return _profile_page(request, db, name, status_code=422, errors=errors, values=form)
    return see_other(f"{path_for(request, 'profile', name=name)}?saved=1")


@router.post("/profiles/{name}/retire", name="profile_retire", dependencies=[PROFILES])
def profile_retire(request: Request, db: AppDatabase, session: WriteSession,
                   actor: CurrentActor, name: str, form: FormData):
    """Retire a profile (it leaves the profile switchers) or bring it back."""
    action = form.get("action", "")
    try:
        if action not in ("retire", "restore"):
            raise Invalid({"action": "choose retire or restore"})
        profile_service.retire_profile(session=session, actor=actor, name=name,
                                       retired=action == "retire")
    except Invalid as exc:
        session.rollback()
        return _profile_page(request, db, name, status_code=422, retire_errors=exc.errors)
    return see_other(path_for(request, "profile", name=name))


def _ahp_page(request: Request, db: Any, name: str, values: dict[str, str] | None, *,
              status_code: int = 200, conflict: str | None = None):
    with db.read() as session:
        profile = profile_service.get_profile(session=session, name=name)
        criteria = profile_service.criteria_by_dimension(session=session)
    values = values or profile_pages.grid_start(profile, criteria)
    return render(request, "profile_ahp.html", {
        "profile": profile, "criteria": criteria, "values": values,
        "grid": profile_pages.ahp_grid(values, criteria),
        "max_assessors": profile_pages.MAX_ASSESSORS, "conflict": conflict,
    }, status_code=status_code)


@router.get("/profiles/{name}/ahp", name="profile_ahp", dependencies=[PROFILES])
def profile_ahp(request: Request, db: AppDatabase, name: str):
    """Show the AHP pairwise grids: the dimensions, and the criteria within each dimension."""
    # "Add an assessor" reloads the grid with what was typed so far (works without script).
    typed = dict(request.query_params) if "assessors" in request.query_params else None
    return _ahp_page(request, db, name, typed)


@router.post("/profiles/{name}/ahp", name="profile_ahp_save", dependencies=[PROFILES])
def profile_ahp_save(request: Request, db: AppDatabase, session: WriteSession,
                     actor: CurrentActor, name: str, form: FormData):
    """Save the grid's judgements as the profile's next version (method AHP, with its CR)."""
    try:
        criteria = profile_service.criteria_by_dimension(session=session)
        profile_pages.save_ahp(session=session, actor=actor, name=name, form=form,
                               criteria=criteria, version=whole_number(form.get("version", "")))
    except Conflict as exc:
        # Saved meanwhile: the judgements stay; the form now carries the version saved, so
        # saving again replaces it knowingly.
        session.rollback()
        return _ahp_page(request, db, name, form | {"version": str(exc.current["version"])},
                         status_code=409, conflict=sentence(exc.message))
    except Invalid:
        session.rollback()
        return _ahp_page(request, db, name, form, status_code=422)
    return see_other(f"{path_for(request, 'profile', name=name)}?saved=1")
