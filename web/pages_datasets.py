"""The datasets list and a dataset's page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.errors import Conflict, Invalid
from portfolio.schemas import DatasetUpdate
from portfolio.services import dataset_pages
from portfolio.services import datasets as dataset_service
from portfolio.services import filters as closed_lists
from web.pages_common import (
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    apply_choices,
    changed_fields,
    field_label,
    input_from_form,
    organisations_by_name,
)
from web.routing import Router
from web.security import DATASETS, READ
from web.templating import flash, render

router = Router()
# The longest search of titles and codes (the search box takes no more).
SEARCH_LENGTH = 200


@router.get("/datasets", name="datasets", dependencies=[READ])
def datasets(
    request: Request,
    session: ReadSession,
    publisher: Annotated[str, Query(max_length=32)] = "",
    access: Annotated[str, Query(max_length=16)] = "",
    # Typed by hand, so unbounded here: one too long is said beside its field, over the list.
    q: str = "",
    drl: Annotated[str, Query(max_length=2)] = "",
):
    """List datasets filtered by publisher, access, readiness and text (filters in the URL)."""
    applied, errors = closed_lists.sift(
        publisher=(closed_lists.organisations_named(session, publisher), publisher),
        access=(closed_lists.ACCESS_LEVELS, access), drl=(closed_lists.READINESS_LEVELS, drl))
    search = q.strip() or None
    if search is not None and len(search) > SEARCH_LENGTH:
        errors["q"] = (f"Use at most {SEARCH_LENGTH} characters (this has {len(search):,}): "
                       "a word or two of the title, or the code.")
        search = None
    # A value naming nothing is said beside its filter; the list is shown without it.
    context = dataset_pages.datasets_page(session=session, q=search, **applied)
    context["filters"] = {k: v or "" for k, v in applied.items()} | {"q": q}
    context["errors"] = errors
    return render(request, "datasets.html", context, block="results",
                  status_code=422 if errors else 200)


@router.get("/datasets/{code}", name="dataset", dependencies=[READ])
def dataset(request: Request, code: str, session: ReadSession):
    """Show a dataset: its readiness level explained, publisher, access, licence and projects."""
    return render(request, "dataset.html", dataset_pages.dataset_page(session=session, code=code))


DATASET_FIELDS = ("title", "description", "publisher", "access", "licence", "update_frequency",
                  "drl", "url")


def dataset_values(dataset: dict[str, Any]) -> dict[str, Any]:
    """Return a dataset's fields as its edit form shows them."""
    return {name: dataset.get(name) for name in (*DATASET_FIELDS, "version")}


def render_dataset_editor(request: Request, session: Session, actor: Actor, code: str, *,
                          values: dict[str, Any] | None = None, errors: dict[str, str] | None
                          = None, conflict_rows: list[dict[str, Any]] | None = None,
                          status_code: int = 200):
    """Render the dataset's edit form, keeping what the user typed and where it started."""
    context = dataset_service.dataset_editor(session=session, actor=actor, code=code)
    saved = dataset_values(context["dataset"])
    started = {k: v for k, v in (values or {}).items() if k.startswith("was_")}
    context |= {
        "values": values if values is not None else saved,
        "was": started or {f"was_{k}": v for k, v in saved.items() if k != "version"},
        "errors": errors or {}, "conflict_rows": conflict_rows or [],
    }
    return render(request, "dataset_edit.html", context, status_code=status_code)


@router.get("/datasets/{code}/edit", name="dataset_edit", dependencies=[DATASETS])
def edit_dataset(request: Request, code: str, session: ReadSession,
                 actor: CurrentActor):
    """Show the form to edit a dataset."""
    return render_dataset_editor(request, session, actor, code)


@router.post("/datasets/{code}/edit", name="dataset_update", dependencies=[DATASETS])
def update_dataset(request: Request, code: str, session: WriteSession, actor: CurrentActor,
                   form: FormData):
    """Save the fields the user changed; a stale edit is merged field by field."""
    form = dict(form)
    names, unchosen = apply_choices(form, DATASET_FIELDS)
    if unchosen:
        rows = organisations_by_name(session, "publisher", [
            {"field": n, "now": form.get(f"was_{n}", ""), "yours": form.get(n, "")}
            for n in names])
        errors = {n: "Choose whether to keep the saved value or yours." for n in unchosen}
        return render_dataset_editor(request, session, actor, code, values=form,
                                     errors=errors, conflict_rows=rows, status_code=422)
    parsed = input_from_form(form, DatasetUpdate)
    data = {name: parsed.get(name, "") for name in changed_fields(form, DATASET_FIELDS)}
    data["version"] = form.get("version", "")
    try:
        saved = dataset_service.patch_dataset(session=session, actor=actor, code=code, data=data)
    except Invalid as exc:
        session.rollback()
        return render_dataset_editor(request, session, actor, code, values=form,
                                     errors=exc.errors, status_code=422)
    except Conflict as exc:
        session.rollback()
        return dataset_conflict(request, session, actor, code, form, exc)
    if saved["applied"]:
        saved_names = ", ".join(field_label(f).lower() for f in saved["applied"])
        message = f"Saved your changes to {saved_names}."
        if saved["kept"]:
            kept = ", ".join(field_label(f).lower() for f in saved["kept"])
            message += f" Someone else changed {kept} meanwhile: their changes are kept."
    else:
        message = "Nothing to save: you changed nothing."
    flash(request, message)
    return RedirectResponse(str(request.url_for("dataset", code=code)), status_code=303)


def dataset_conflict(request: Request, session: Session, actor: Actor, code: str,
                     form: dict[str, str], exc: Conflict):
    """Show only the fields both people changed, with both values, for the user to choose."""
    context = dataset_service.dataset_editor(session=session, actor=actor, code=code)
    saved = dataset_values(context["dataset"])
    values = dict(saved)
    for name in changed_fields(form, DATASET_FIELDS):
        values[name] = form.get(name, "")
    rows = organisations_by_name(session, "publisher", [
        {"field": name, "now": saved.get(name), "yours": values.get(name)}
        for name in exc.conflicts])
    return render_dataset_editor(
        request, session, actor, code, values=values | {
            f"was_{k}": v for k, v in saved.items() if k != "version"},
        conflict_rows=rows, status_code=409)
