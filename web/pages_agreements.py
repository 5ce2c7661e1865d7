"""The agreements register's pages: the list, an agreement, and its form."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.enums import (
    AgreementStatus,
    AttachmentOwner,
    LawfulBasis,
    PartyRole,
    SpecialCategoryCondition,
)
from portfolio.errors import Conflict, Invalid, NotAllowed
from portfolio.models import Dataset, Organisation
from portfolio.services import agreement_pages
from portfolio.services import agreements as agreement_service
from portfolio.services import attachments as attachment_service
from portfolio.services import filters as closed_lists
from portfolio.text import whole_number
from web.deps import seen_revision
from web.pages_attachments import shown
from web.pages_common import (
    CHOICES,
    FIELD_LABELS,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    choices,
    label,
    sentence,
)
from web.routing import Router
from web.security import READ, Policy, policy
from web.templating import flash, render, templates

# Pages only (their API is web/api_agreements.py): none belongs in /openapi.json.
router = Router(include_in_schema=False)
AGREEMENTS = Depends(policy(Policy.AGREEMENTS))

# Rows the form offers at least for parties and datasets; it shows every one an agreement has
# (the API takes up to 50 and 500) and this many blank rows beyond them to add one.
PARTY_ROWS = 6
DATASET_ROWS = 8
SPARE_ROWS = 2
# A row's number is bounded so that a forged field name cannot make an outsized integer.
PARTY_ROW = re.compile(r"party_([0-9]{1,6})_organisation")
DATASET_ROW = re.compile(r"dataset_([0-9]{1,6})")
ROW = re.compile(r"party_[0-9]+_(organisation|role)|dataset_[0-9]+")
FIELD_LABELS.update({
    "parties": "Parties", "datasets": "Datasets covered", "purpose": "Purpose",
    "lawful_basis": "Lawful basis (UK GDPR Article 6)",
    "special_category_condition": "Special category condition (UK GDPR Article 9)",
    "dpia_reference": "DPIA reference", "signed_on": "Signed on", "review_on": "Review by",
    "document_url": "Link to the document", "sharing_agreement": "Agreement record",
    "as_of": "As of",
})
CHOICES.update({
    "agreement_status": choices(AgreementStatus), "party_role": choices(PartyRole),
    "lawful_basis": choices(LawfulBasis),
    "special_category_condition": choices(SpecialCategoryCondition),
    "link_agreement": [("none", "None yet"), ("not_needed", "Not needed")],
})


def expiring_agreements(request: Request) -> dict[str, Any] | None:
    """Return agreements expiring within 60 days for the dashboard or a lead's home page.

    A lead sees those their organisation is party to (`own`, said over the list); None on a
    home page of anyone else.
    """
    actor = getattr(request.state, "actor", None)
    on_home = request.url.path == str(request.app.url_path_for("home"))
    lead = actor is not None and actor.role.value == "lead"
    if on_home and not lead:
        return None
    return {"own": lead, "agreements": agreement_pages.expiring_soon(
        request.app.state.database, organisation_id=(actor.organisation_id
                         if lead and actor is not None else None),
        seen=seen_revision(request))}


def agreement_options(request: Request, party: str | None = None) -> list[tuple[str, str]]:
    """Return the registered agreements as choices for a dataset link (a party's only)."""
    with request.app.state.database.read() as session:
        found = agreement_service.agreement_choices(session=session, party=party)
    return [(a["code"], a["title"]) for a in found]


templates.env.globals.update(expiring_agreements=expiring_agreements,
                             agreement_options=agreement_options)

TEXT_FIELDS = ("code", "title", "purpose", "lawful_basis", "special_category_condition",
               "dpia_reference", "signed_on", "review_on", "expires_on", "status",
               "document_url", "version")


@router.get("/agreements", name="agreements", dependencies=[READ])
def agreements(
    request: Request,
    party: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    # Typed by hand, so unbounded here: one too long is said beside its field, over the list.
    expiring_within: str = "",
    as_of: str = "",
):
    """List agreements by party, standing and expiry, and what breaks by a chosen day."""
    db = request.app.state.database
    errors: dict[str, str] = {}
    days = None
    if expiring_within.strip():
        try:
            days = int(expiring_within)
            if not 0 <= days <= 3660:
                raise ValueError
        except ValueError:
            days = None  # the list is shown without it, the message beside the field
            errors["expiring_within"] = "Enter a number of days from 0 to 3660, such as 60."
    breaks = None
    if as_of.strip():
        try:
            breaks = agreement_pages.what_breaks(db, as_of=date.fromisoformat(as_of.strip()))
        except ValueError:
            errors["as_of"] = "Enter a date as year-month-day, such as 2027-03-31."
        except Invalid as exc:
            errors |= exc.errors
    with db.read() as session:
        parties = closed_lists.organisations_named(session, party)
    applied, unknown = closed_lists.sift(
        party=(parties, party), status=(closed_lists.AGREEMENT_STANDINGS, status))
    errors |= unknown  # said beside its filter; the list is shown without it
    context = agreement_pages.agreements_page(
        db, party=applied["party"], status=applied["status"], expiring_within=days,
        seen=seen_revision(request))
    context |= {"filters": {"party": applied["party"] or "", "status": applied["status"] or "",
                            "expiring_within": expiring_within, "as_of": as_of},
                "statuses": closed_lists.AGREEMENT_STANDINGS.values,
                "errors": errors, "breaks": breaks}
    return render(request, "agreements.html", context, status_code=422 if errors else 200)


def _row_values(parties: list[dict[str, str]], datasets: list[str]) -> dict[str, str]:
    """Return parties and datasets as the form's rows, numbered from 0."""
    values: dict[str, str] = {}
    for i, party in enumerate(parties):
        values[f"party_{i}_organisation"] = party["organisation"]
        values[f"party_{i}_role"] = party["role"]
    for i, code in enumerate(datasets):
        values[f"dataset_{i}"] = code
    return values


def _form_values(agreement: dict[str, Any]) -> dict[str, Any]:
    """Return an agreement as its form shows it."""
    values = {k: ("" if agreement.get(k) is None else str(agreement.get(k)))
              for k in TEXT_FIELDS}
    return values | _row_values(agreement.get("parties", []),
                                [d["code"] for d in agreement.get("datasets", [])])


def _rows(form: dict[str, str], row: re.Pattern[str]) -> list[str]:
    """Return the names of a list's rows the form sent, in the order of their numbers."""
    found = [(int(m[1]), name) for name in form if (m := row.fullmatch(name))]
    return [name for _, name in sorted(found)]


def _from_form(form: dict[str, str]) -> dict[str, Any]:
    """Turn the posted form into the service's input: every row sent, blank rows left out."""
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in TEXT_FIELDS if k in form}
    data.pop("version", None)
    data["parties"] = [
        {"organisation": form[name].strip(),
         "role": form.get(name.removesuffix("organisation") + "role", "").strip()}
        for name in _rows(form, PARTY_ROW) if form[name].strip()]
    data["datasets"] = [form[name].strip() for name in _rows(form, DATASET_ROW)
                        if form[name].strip()]
    if (version := whole_number(form.get("version", ""))) is not None:
        data["version"] = version
    return data


def _typed(form: dict[str, str]) -> dict[str, Any]:
    """Return a posted form to show again: its fields, and every filled row numbered from 0."""
    typed = _from_form(form)
    return ({k: v for k, v in form.items() if not ROW.fullmatch(k)}
            | _row_values(typed["parties"], typed["datasets"]))


def _clash(session: Session, typed: dict[str, Any],
           exc: Conflict) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the form after an edit from an older version: each field changed meanwhile shows
    the other person's value, which the form now holds where only they changed it; a field
    both changed keeps what was typed. It carries the version saved now, so saving again
    replaces theirs knowingly."""
    values = typed | {"version": str(exc.current.get("version", ""))}
    # Said once, in the summary over the form: the version is a hidden field, nothing to fix.
    errors = {"form": sentence(exc.message)}
    for name, theirs in exc.changed.items():
        now = _readable(session, name, theirs)
        if name in exc.conflicts:
            errors[name] = (f"Changed meanwhile by someone else to “{now}”. Yours is kept here: "
                            "save again to replace theirs.")
            continue
        errors[name] = f"Changed meanwhile by someone else to “{now}”, as shown here now."
        if name in ("parties", "datasets"):
            row = re.compile(r"party_[0-9]+_(organisation|role)" if name == "parties"
                             else r"dataset_[0-9]+")
            parties, datasets = _rows_of(exc.current)
            values = {k: v for k, v in values.items() if not row.fullmatch(k)} | {
                k: v for k, v in _row_values(parties, datasets).items() if row.fullmatch(k)}
        else:
            values[name] = "" if theirs is None else str(theirs)
    return values, errors


def _rows_of(shown: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """Return an agreement's parties and datasets, as the API shows them, as form rows."""
    parties = [{"organisation": p["organisation"], "role": p["role"]}
               for p in shown.get("parties", [])]
    return parties, [d["code"] for d in shown.get("datasets", [])]


def _readable(session: Session, name: str, value: Any) -> str:
    """Return a stored field as a person reads it: names, not codes; labels, not values."""
    if name == "parties":
        names = dict(session.execute(select(col(Organisation.code), col(Organisation.name)))
                     .all())
        return "; ".join(f"{names.get(p['organisation'], p['organisation'])} "
                         f"({label(p['role'])})" for p in _rows_of({name: value})[0])
    if name == "datasets":
        titles = dict(session.execute(select(col(Dataset.code), col(Dataset.title))
                                      .where(col(Dataset.code).in_(value))))
        return "; ".join(titles.get(code, code) for code in value) or "none"
    if name in ("status", "lawful_basis", "special_category_condition") and value:
        return label(str(value))
    return "nothing" if value in (None, "") else str(value)


def _render_form(request: Request, session: Session, *, values: dict[str, Any],
                 errors: dict[str, str] | None = None, code: str | None = None,
                 status_code: int = 200):
    """Render the agreement form with what the user typed and the messages by each field."""
    organisations = session.execute(select(col(Organisation.code), col(Organisation.name))
                                    .order_by(Organisation.name)).all()
    datasets = session.execute(select(col(Dataset.code), col(Dataset.title))
                               .order_by(col(Dataset.title))).all()
    # One who may manage only agreements their organisation is party to is told so up front.
    actor = getattr(request.state, "actor", None)
    own = (session.get(Organisation, actor.organisation_id)
           if actor is not None and actor.organisation_id is not None
           and not agreement_service.may_manage(actor, set()) else None)
    parties = sum(1 for k in values if PARTY_ROW.fullmatch(k))
    covered = sum(1 for k in values if DATASET_ROW.fullmatch(k))
    return render(request, "agreement_edit.html", {
        "values": values, "errors": errors or {}, "code": code,
        "own_party": own.name if own else None,
        "organisations": [{"code": c, "name": n} for c, n in organisations],
        "dataset_choices": [{"code": c, "title": t} for c, t in datasets],
        "party_rows": range(max(parties + SPARE_ROWS, PARTY_ROWS)),
        "dataset_rows": range(max(covered + SPARE_ROWS, DATASET_ROWS)),
    }, status_code=status_code)


@router.get("/agreements/new", name="agreement_new", dependencies=[AGREEMENTS])
def new_agreement(request: Request, session: ReadSession,
                  actor: CurrentActor):
    """Show the form to register an agreement (a lead's organisation is filled in as party)."""
    values: dict[str, Any] = {"status": "drafting"}
    if actor.organisation_id is not None and actor.role.value == "lead":
        own = session.get(Organisation, actor.organisation_id)
        values |= {"party_0_organisation": own.code if own else "", "party_0_role": "controller"}
    return _render_form(request, session, values=values)


@router.post("/agreements/new", name="agreement_create", dependencies=[AGREEMENTS])
def create_agreement(request: Request, session: WriteSession, actor: CurrentActor,
                     form: FormData):
    """Register an agreement; refusals come back beside their fields with nothing lost."""
    try:
        saved = agreement_service.create_agreement(session=session, actor=actor,
                                                   data=_from_form(form))
    except Invalid as exc:
        session.rollback()
        return _render_form(request, session, values=_typed(form), errors=_by_field(exc.errors),
                            status_code=422)
    except NotAllowed as exc:
        # A lead naming only other organisations: everything typed stays, the reason by parties.
        session.rollback()
        return _render_form(request, session, values=_typed(form),
                            errors={"parties": sentence(exc.message)}, status_code=403)
    flash(request, "The agreement is registered.")
    return RedirectResponse(str(request.url_for("agreement", code=saved["code"])),
                            status_code=303)


def _by_field(errors: dict[str, str]) -> dict[str, str]:
    """Put list errors (parties.0.role) on the list's field, where the form shows them."""
    out: dict[str, str] = {}
    for name, message in errors.items():
        out.setdefault(name.split(".")[0], message)
    return out


@router.get("/agreements/{code}", name="agreement", dependencies=[READ])
def agreement(request: Request, code: str):
    """Show an agreement: parties, datasets, the projects resting on it and the value waiting."""
    db = request.app.state.database
    found = agreement_pages.agreement_page(db, code=code,
                                           seen=seen_revision(request))
    actor = getattr(request.state, "actor", None)
    with db.read() as session:
        owner = attachment_service.find_owner(session, AttachmentOwner.AGREEMENT, code)
        parties = agreement_service.party_codes(session, owner.id)
        documents = [shown(a) for a in attachment_service.list_attachments(
            session=session, actor=actor, owner_kind=owner.kind, ref=code)]
    return render(request, "agreement.html", {
        "agreement": found, "attachments": documents,
        "may_edit": agreement_service.may_manage(actor, set(parties)),
        "may_attach": attachment_service.may_attach(actor, owner),
        "signing_for": agreement_service.may_sign(actor, found, parties),
        "not_signable": agreement_service.sign_refusal(actor, found, parties)})


@router.post("/agreements/{code}/sign", name="agreement_sign", dependencies=[AGREEMENTS])
def sign_agreement(request: Request, code: str, session: WriteSession, actor: CurrentActor,
                   form: FormData):
    """Record the signed-in lead's organisation's signature of the agreement's terms."""
    try:
        signed = agreement_service.sign_agreement(session=session, actor=actor, code=code,
                                                  data={"version": form.get("version", "")})
    except (Invalid, Conflict) as exc:
        session.rollback()
        flash(request, sentence(exc.message if isinstance(exc, Conflict)
                                else " ".join(exc.errors.values())))
        return RedirectResponse(str(request.url_for("agreement", code=code)) + "#parties",
                                status_code=303)
    flash(request, "Your organisation's signature is recorded." + (
        " Every party has signed: the agreement is signed." if signed["status"] == "signed"
        else " It is signed when every party has."))
    return RedirectResponse(str(request.url_for("agreement", code=code)) + "#parties",
                            status_code=303)


@router.get("/agreements/{code}/edit", name="agreement_edit", dependencies=[AGREEMENTS])
def edit_agreement(request: Request, code: str, session: ReadSession,
                   actor: CurrentActor):
    """Show the form to edit an agreement to one who may save it (a lead: while party to it)."""
    found = agreement_service.agreement_to_edit(session=session, actor=actor, code=code)
    return _render_form(request, session, values=_form_values(found), code=code)


@router.post("/agreements/{code}/edit", name="agreement_update", dependencies=[AGREEMENTS])
def update_agreement(request: Request, code: str, session: WriteSession, actor: CurrentActor,
                     form: FormData):
    """Save an agreement from the version read; a stale edit says so and keeps the input."""
    try:
        saved = agreement_service.update_agreement(session=session, actor=actor, code=code,
                                                   data=_from_form(form))
    except Invalid as exc:
        session.rollback()
        return _render_form(request, session, values=_typed(form), errors=_by_field(exc.errors),
                            code=code, status_code=422)
    except Conflict as exc:
        session.rollback()
        values, errors = _clash(session, _typed(form), exc)
        return _render_form(request, session, values=values, errors=errors, code=code,
                            status_code=409)
    except NotAllowed as exc:
        # A lead taking their own organisation out of the parties: everything typed stays.
        session.rollback()
        return _render_form(request, session, values=_typed(form),
                            errors={"parties": sentence(exc.message)}, code=code,
                            status_code=403)
    flash(request, "The agreement is saved." + (
        " Its terms changed, so the parties' signatures are cleared and it is recorded as "
        "drafting: every party signs the new terms again, on this page."
        if saved["signatures_cleared"] else ""))
    return RedirectResponse(str(request.url_for("agreement", code=code)), status_code=303)
