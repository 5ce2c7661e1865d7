"""The agreements register: data-sharing agreements, their parties, datasets and dates.

A project-dataset link refers to an agreement (or says none is needed); the link's readiness
factor is the agreement's standing on the day (`scoring.agreements.standing`). DESIGN.md,
"Data-sharing agreements", states the rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Self, cast

from pydantic import Field, field_validator, model_validator
from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from portfolio.actors import SYSTEM, Actor
from portfolio.capabilities import Capability, can, only_own_organisation, refusal
from portfolio.enums import AgreementStatus, LawfulBasis, PartyRole, SpecialCategoryCondition
from portfolio.errors import Conflict, Invalid, NotAllowed, NotFound
from portfolio.models import (
    AgreementDataset,
    AgreementParty,
    AgreementSignature,
    Dataset,
    NotificationEvent,
    Organisation,
    Project,
    ProjectDataset,
    SharingAgreement,
    User,
    utcnow,
)
from portfolio.schemas import (
    Day,
    Input,
    LongText,
    NumberOnly,
    SingleLine,
    Slug,
    Title,
    in_date_window,
    parse,
)
from portfolio.services.common import add_new, as_record, record
from portfolio.services.merge import as_json, require_known_version, three_way, values_at
from scoring.agreements import standing

# Projects that no longer wait on anything.
INACTIVE = ("delivered", "rejected")
# Agreements expiring within this many days are listed on the dashboard and a lead's home.
EXPIRING_SOON_DAYS = 60
# The longest "expiring within" window, in days (about ten years; the API's and page's bound).
LONGEST_EXPIRY_WINDOW = 3660
MAX_PARTIES = 50
MAX_DATASETS = 500


class PartyInput(Input):
    """An organisation party to an agreement, with its role."""

    # More than spaces (the schema says so too, as the API's other filled fields do).
    organisation: str = Field(min_length=1, max_length=32, json_schema_extra={"pattern": r"\S"})
    role: PartyRole


class AgreementInput(Input):
    """A data-sharing agreement as a person registers or edits it."""

    code: Slug | None = None
    title: Title
    purpose: LongText = ""
    parties: list[PartyInput] = Field(default_factory=list, max_length=MAX_PARTIES)
    datasets: list[str] = Field(default_factory=list, max_length=MAX_DATASETS)
    lawful_basis: LawfulBasis | None = None
    special_category_condition: SpecialCategoryCondition | None = None
    dpia_reference: Annotated[str, Field(max_length=200), SingleLine] = ""
    signed_on: Day | None = None
    review_on: Day | None = None
    expires_on: Day | None = None
    status: AgreementStatus = AgreementStatus.DRAFTING
    document_url: Annotated[str, Field(max_length=1000), SingleLine] = ""
    version: Annotated[int, Field(ge=1), NumberOnly] | None = None

    @field_validator("lawful_basis", "special_category_condition", "signed_on", "review_on",
                     "expires_on", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("signed_on", "review_on", "expires_on")
    @classmethod
    def _sensible(cls, value: date | None) -> date | None:
        # A typing slip (1800, 9999), refused as a project's or an IG stage's dates are.
        return in_date_window(value)

    @field_validator("document_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError("give the document's web address, starting https://")
        return value

    @staticmethod
    def rules(data: dict[str, Any]) -> dict[str, str]:
        """Return the problems across fields, checked even when a field is invalid."""
        return _date_rules(data.get("signed_on"), data.get("expires_on"), data.get("status"))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = _date_rules(self.signed_on, self.expires_on, self.status)
        if problems:
            raise ValueError("\n".join(f"{name}: {text}" for name, text in problems.items()))
        return self


def _day(value: Any) -> date | None:
    """Read a date input, or None."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _date_rules(signed: Any, expires: Any, status: Any) -> dict[str, str]:
    """Return the problems with an agreement's dates and status."""
    problems: dict[str, str] = {}
    signed_on, expires_on = _day(signed), _day(expires)
    if signed_on and expires_on and expires_on < signed_on:
        problems["expires_on"] = (f"The expiry date ({expires_on}) is before the date it was "
                                  f"signed ({signed_on}).")
    if getattr(status, "value", status) == AgreementStatus.SIGNED.value:
        if not signed_on:
            problems["signed_on"] = "A signed agreement needs the date it was signed."
        elif signed_on > date.today():
            # Its standing must not change by itself as the date passes signing (only expiry
            # is swept): record it as drafting until it is signed.
            problems["signed_on"] = (f"The signed date ({signed_on}) is in the future: record "
                                     "the agreement as drafting until it is signed.")
    return problems


def agreement_by_code(session: Session, code: str, *,
                      for_update: bool = False) -> SharingAgreement:
    """Return the agreement with a code, or raise NotFound; locked until commit `for_update`."""
    query = select(SharingAgreement).where(col(SharingAgreement.code) == code)
    if for_update:
        # FOR NO KEY UPDATE: links that rest on the agreement can still be added meanwhile.
        query = query.with_for_update(key_share=True)
    found = session.execute(query).scalars().first()
    if found is None:
        raise NotFound("agreement", code)
    return found


def party_ids(session: Session, agreement_id: int) -> set[int]:
    """Return the organisations party to an agreement."""
    return set(session.execute(select(col(AgreementParty.organisation_id))
                               .where(col(AgreementParty.agreement_id) == agreement_id)).scalars())


def party_codes(session: Session, agreement_id: int) -> dict[int, str]:
    """Return the codes of the organisations party to an agreement, by their ids."""
    return dict(session.execute(
        select(col(Organisation.id), col(Organisation.code))
        .join(AgreementParty, col(AgreementParty.organisation_id) == col(Organisation.id))
        .where(col(AgreementParty.agreement_id) == agreement_id)).all())


def may_manage(actor: Actor | None, parties: set[int]) -> bool:
    """Tell whether the actor may edit an agreement with these parties (leads: their own)."""
    if actor is None:
        return False
    mine = actor.organisation_id if actor.organisation_id in parties else None
    return can(actor, Capability.MANAGE_AGREEMENTS, {"organisation_id": mine})


def may_sign(actor: Actor | None, agreement: dict[str, Any],
             parties: dict[int, str]) -> dict[str, Any] | None:
    """Return the party the actor may sign an agreement for now (as listed), or None.

    `parties` are the agreement's parties' codes by organisation id (party_codes).
    """
    mine = _unsigned_party(actor, agreement, parties)
    return None if mine is None or _past_expiry(agreement) else mine


def sign_refusal(actor: Actor | None, agreement: dict[str, Any],
                 parties: dict[int, str]) -> str | None:
    """Return why the actor's party may not sign a draft it has not signed yet, or None."""
    mine = _unsigned_party(actor, agreement, parties)
    if mine is None or not _past_expiry(agreement):
        return None
    return (f"{mine['name']} cannot sign it: it expired on {agreement['expires_on']}. Agree a "
            "new expiry date first.")


def _unsigned_party(actor: Actor | None, agreement: dict[str, Any],
                    parties: dict[int, str]) -> dict[str, Any] | None:
    """Return the actor's party to a draft, as listed, while it has not signed; else None."""
    if actor is None or actor.organisation_id not in parties:
        return None
    own = parties[actor.organisation_id]
    mine = next((p for p in agreement["parties"] if p["organisation"] == own), None)
    if (mine is None or mine["signed"]
            or agreement["status"] != AgreementStatus.DRAFTING.value
            or not may_manage(actor, {actor.organisation_id})):
        return None
    return mine


def _past_expiry(agreement: dict[str, Any]) -> bool:
    """Return whether an agreement's expiry day has passed (sign_agreement's rule)."""
    expires = agreement.get("expires_on")
    return expires is not None and expires < date.today()


def _require_manage(actor: Actor, parties: set[int]) -> None:
    if not may_manage(actor, parties):
        mine = actor.organisation_id if actor.organisation_id in parties else None
        raise NotAllowed(refusal(actor, Capability.MANAGE_AGREEMENTS, {"organisation_id": mine},
                                 "register or edit data-sharing agreements their organisation "
                                 "is not party to", among="a party to the agreement"))


@dataclass(frozen=True)
class _Resolved:
    parties: list[tuple[int, str]]
    datasets: list[int]


def _resolve(session: Session, values: AgreementInput) -> _Resolved:
    """Find the parties and datasets named, refusing what is not there or named twice."""
    errors: dict[str, str] = {}
    codes = [p.organisation for p in values.parties]
    found: dict[str, int] = dict(session.execute(
        select(col(Organisation.code), col(Organisation.id))
        .where(col(Organisation.code).in_(codes))).all()) if codes else {}
    unknown = [c for c in codes if c not in found]
    if not codes:
        errors["parties"] = "Name at least one organisation party to the agreement."
    elif unknown:
        errors["parties"] = (f"{', '.join(repr(c) for c in unknown)} is not an organisation: "
                             "each party must be an organisation in the portfolio.")
    elif len(set(codes)) < len(codes):
        twice = sorted({c for c in codes if codes.count(c) > 1})
        errors["parties"] = f"{', '.join(twice)} is named twice: give each party once."
    datasets = values.datasets
    ids: dict[str, int] = dict(session.execute(
        select(col(Dataset.code), col(Dataset.id))
        .where(col(Dataset.code).in_(datasets))).all()) if datasets else {}
    missing = [d for d in datasets if d not in ids]
    twice_ds = sorted(d for d, times in Counter(datasets).items() if times > 1)
    if twice_ds:
        errors["datasets"] = (f"{', '.join(twice_ds)} is covered twice: list each dataset "
                              "once.")
    elif missing:
        errors["datasets"] = f"No dataset {', '.join(repr(d) for d in missing)} is registered."
    if values.special_category_condition and not values.lawful_basis:
        errors["lawful_basis"] = ("Special category data needs an Article 6 lawful basis as "
                                  "well as its Article 9 condition.")
    if errors:
        raise Invalid(errors)
    return _Resolved([(found[p.organisation], p.role.value) for p in values.parties],
                     [ids[d] for d in datasets])


def _require_holders(session: Session, resolved: _Resolved) -> None:
    """Refuse datasets whose publisher is not a party: the holder signs for what it shares."""
    parties = {organisation for organisation, _ in resolved.parties}
    rows = session.execute(
        select(col(Dataset.code), col(Organisation.name))
        .join(Organisation, col(Organisation.id) == col(Dataset.publisher_id))
        .where(col(Dataset.id).in_(resolved.datasets),
               col(Dataset.publisher_id).not_in(parties))
        .order_by(col(Dataset.code))).all() if resolved.datasets else []
    if rows:
        named = "; ".join(f"{code} is held by {name}" for code, name in rows)
        raise Invalid({"datasets": f"{named}, not a party: the organisation holding a dataset "
                                   "must be party to an agreement that shares it."})


def _require_resting_owners(session: Session, agreement_id: int | None,
                            resolved: _Resolved) -> None:
    """Refuse an edit that drops a party whose projects' links rest on the agreement."""
    parties = {organisation for organisation, _ in resolved.parties}
    rows = session.execute(
        select(col(Project.slug), col(Organisation.name))
        .join(ProjectDataset, col(ProjectDataset.project_id) == col(Project.id))
        .join(Organisation, col(Organisation.id) == col(Project.owner_id))
        .where(col(ProjectDataset.sharing_agreement_id) == agreement_id,
               col(Project.owner_id).not_in(parties))
        .order_by(col(Project.slug))).all()
    if rows:
        named = "; ".join(f"{slug} ({name})" for slug, name in rows)
        raise Invalid({"parties": f"Projects rest on this agreement whose organisation would "
                                  f"no longer be party to it: {named}. Keep their "
                                  "organisations as parties, or move those links first."})


FIELDS = ("title", "purpose", "lawful_basis", "special_category_condition", "dpia_reference",
          "signed_on", "review_on", "expires_on", "status", "document_url")
# What the parties sign: a change to any of these clears their signatures (a title, the DPIA
# reference, the review date and the document's address are the register's bookkeeping).
TERMS = ("purpose", "lawful_basis", "special_category_condition", "signed_on", "expires_on",
         "parties", "datasets")


def _state(session: Session, agreement: SharingAgreement) -> dict[str, Any]:
    """Return an agreement as its history records it, parties and datasets included."""
    state = as_record(agreement)
    state["parties"] = sorted(f"{code}:{role}" for code, role in session.execute(
        select(col(Organisation.code), col(AgreementParty.role))
        .join(AgreementParty, col(AgreementParty.organisation_id) == col(Organisation.id))
        .where(col(AgreementParty.agreement_id) == agreement.id)).all())
    state["datasets"] = sorted(session.execute(
        select(col(Dataset.code))
        .join(AgreementDataset, col(AgreementDataset.dataset_id) == col(Dataset.id))
        .where(col(AgreementDataset.agreement_id) == agreement.id)).scalars())
    return state


def _write(session: Session, agreement: SharingAgreement, values: AgreementInput,
           resolved: _Resolved) -> None:
    """Set an agreement's fields, parties and datasets from valid input."""
    for name in FIELDS:
        value = getattr(values, name)
        setattr(agreement, name, getattr(value, "value", value))
    agreement.updated_at = utcnow()
    add_new(session, agreement, taken=_code_taken(agreement.code))
    assert agreement.id is not None
    session.execute(delete(AgreementParty)
                    .where(col(AgreementParty.agreement_id) == agreement.id))
    session.execute(delete(AgreementDataset)
                    .where(col(AgreementDataset.agreement_id) == agreement.id))
    session.add_all([AgreementParty(agreement_id=agreement.id, organisation_id=o, role=r)
                     for o, r in resolved.parties])
    session.add_all([AgreementDataset(agreement_id=agreement.id, dataset_id=d)
                     for d in resolved.datasets])
    session.flush()


def signatures(session: Session, agreement_id: int) -> dict[int, AgreementSignature]:
    """Return an agreement's signatures by the organisation that signed."""
    rows: list[AgreementSignature] = list(session.execute(
        select(AgreementSignature)
        .where(col(AgreementSignature.agreement_id) == agreement_id)).scalars())
    return {row.organisation_id: row for row in rows}


def _names(session: Session, ids: set[int]) -> str:
    """Return organisations' names in words ("Camden and LOTI"), sorted."""
    names: list[str] = sorted(session.execute(select(col(Organisation.name))
                                              .where(col(Organisation.id).in_(ids))).scalars())
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _have_not_signed(session: Session, ids: set[int]) -> str:
    """Return "X has not signed it" or "X and Y have not signed it"."""
    return f"{_names(session, ids)} {'has' if len(ids) == 1 else 'have'} not signed it"


def _signs_for_all(actor: Actor) -> bool:
    """Tell whether the actor records an agreement signed outside the portfolio (not a lead)."""
    return actor.id is None or not only_own_organisation(actor, Capability.MANAGE_AGREEMENTS)


def _signing(session: Session, actor: Actor, values: AgreementInput, resolved: _Resolved,
             signed: set[int]) -> set[int]:
    """Return the parties whose signature a save records, refusing a `signed` status whose
    other parties have not signed.

    A lead signs only for their own organisation; the CDO, an admin and the system record an
    agreement signed outside the portfolio, every party's signature as of its signed date.
    """
    if values.status != AgreementStatus.SIGNED:
        return set()
    parties = {o for o, _ in resolved.parties}
    if _signs_for_all(actor):
        return parties - signed
    mine = {o for o in parties if o == actor.organisation_id}
    unsigned = parties - signed - mine
    if unsigned:
        raise Invalid({"status": f"{_have_not_signed(session, unsigned)}: each party signs "
                                 "for itself on the agreement's page, and it is signed when "
                                 "every party has. Record it as drafting until then."})
    return mine - signed


def _record_signatures(session: Session, actor: Actor, agreement: SharingAgreement,
                       parties: set[int], signed_on: date | None) -> None:
    """Record parties' signatures of an agreement as of a day, by the actor."""
    if not parties:
        return
    assert agreement.id is not None and signed_on is not None
    session.add_all([AgreementSignature(agreement_id=agreement.id, organisation_id=o,
                                        signed_on=signed_on, signed_by_id=actor.id)
                     for o in sorted(parties)])
    session.flush()


def create_agreement(*, session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Register a data-sharing agreement (CDO, admin, or a lead whose organisation is party)."""
    values: AgreementInput = parse(AgreementInput, data)
    if not values.code:
        raise Invalid({"code": "This is required: fill it in."})
    resolved = _resolve(session, values)
    _require_manage(actor, {o for o, _ in resolved.parties})
    _require_holders(session, resolved)
    taken = session.execute(select(col(SharingAgreement.id))
                            .where(col(SharingAgreement.code) == values.code)).first()
    if taken is not None:
        raise Invalid(_code_taken(values.code))
    signing = _signing(session, actor, values, resolved, set())
    agreement = SharingAgreement(code=values.code, title=values.title)
    _write(session, agreement, values, resolved)
    _record_signatures(session, actor, agreement, signing, values.signed_on)
    record(session, actor, action="create", entity="agreement", entity_id=agreement.id,
           after=_state(session, agreement))
    return {"code": agreement.code, "version": agreement.version}


def _code_taken(code: str) -> dict[str, str]:
    """Return the refusal of a code another agreement has."""
    return {"code": f"An agreement {code!r} is already registered: choose another code."}


def agreement_to_edit(*, session: Session, actor: Actor, code: str) -> dict[str, Any]:
    """Return an agreement for its edit form, refusing one whose save would be refused."""
    agreement = agreement_by_code(session, code)
    assert agreement.id is not None
    _require_manage(actor, party_ids(session, agreement.id))
    return get_agreement(session=session, code=code, values={})


def update_agreement(*, session: Session, actor: Actor, code: str,
                     data: dict[str, Any]) -> dict[str, Any]:
    """Edit an agreement from the version read; a stale version is refused with 409."""
    # Locked to the commit: a save waiting on another's compares its version with that one's.
    agreement = agreement_by_code(session, code, for_update=True)
    assert agreement.id is not None
    _require_manage(actor, party_ids(session, agreement.id))
    values: AgreementInput = parse(AgreementInput, {**data, "code": None})
    if values.version is None:
        raise Invalid({"version": "Send the version you edited (see the agreement's version)."})
    resolved = _resolve(session, values)
    # A lead edits only while their organisation stays party to it.
    _require_manage(actor, {o for o, _ in resolved.parties})
    require_known_version(values.version, agreement.version, f"agreement {code!r}")
    if values.version != agreement.version:
        raise _stale(session, agreement, values)
    _require_holders(session, resolved)
    _require_resting_owners(session, agreement.id, resolved)
    before = _state(session, agreement)
    typed = _as_typed(values)
    had = signatures(session, agreement.id)
    # The parties signed the terms as they were: changed terms are signed again.
    terms_changed = any(before[k] != typed[k] for k in TERMS)
    kept = {} if terms_changed else had
    others = {o for o, _ in resolved.parties} - {actor.organisation_id}
    if (terms_changed and others and agreement.status == AgreementStatus.SIGNED.value
            and values.status == AgreementStatus.SIGNED and not _signs_for_all(actor)):
        # A lead's edit of a signed agreement's terms (its form still says signed) is saved
        # as drafting, for every party to sign the new terms (DESIGN "Signatures").
        values = values.model_copy(update={"status": AgreementStatus.DRAFTING})
    signing = _signing(session, actor, values, resolved, set(kept))
    agreement.version += 1
    _write(session, agreement, values, resolved)
    if not kept:
        session.execute(delete(AgreementSignature)
                        .where(col(AgreementSignature.agreement_id) == agreement.id))
    _record_signatures(session, actor, agreement, signing, values.signed_on)
    record(session, actor, action="update", entity="agreement", entity_id=agreement.id,
           before=before, after=_state(session, agreement))
    return {"code": agreement.code, "version": agreement.version, "status": agreement.status,
            "signatures_cleared": bool(had) and not kept
            and agreement.status != AgreementStatus.SIGNED.value}


class SignInput(Input):
    """The version of the agreement whose terms the party signs."""

    version: Annotated[int, Field(ge=1), NumberOnly]


def sign_agreement(*, session: Session, actor: Actor, code: str,
                   data: dict[str, Any]) -> dict[str, Any]:
    """Record the acting lead's organisation's signature; the last party's signs the agreement.

    Only a party signs, only for itself, and only the version it read (409 otherwise).
    """
    values = parse(SignInput, data)
    # Locked to the commit: two parties signing at once both see the other's signature.
    agreement = agreement_by_code(session, code, for_update=True)
    assert agreement.id is not None
    parties = party_ids(session, agreement.id)
    mine = actor.organisation_id
    if mine not in parties:
        raise NotAllowed(f"a {actor.role.value} may not sign an agreement their organisation "
                         "is not party to; a lead or staff member of each party signs for it")
    _require_manage(actor, parties)
    require_known_version(values.version, agreement.version, f"agreement {code!r}")
    if values.version != agreement.version:
        raise Conflict(f"agreement {code!r} was changed since you read it (now version "
                       f"{agreement.version}, you read version {values.version}): read its "
                       "terms again before signing", current=_state(session, agreement))
    today = date.today()
    if agreement.status != AgreementStatus.DRAFTING.value:
        raise Invalid({"status": f"It is recorded as {agreement.status}: only an agreement "
                                 "being drafted is signed."})
    if agreement.expires_on is not None and agreement.expires_on < today:
        raise Invalid({"expires_on": f"It expired on {agreement.expires_on}: agree a new "
                                     "expiry date before signing."})
    signed = signatures(session, agreement.id)
    if mine in signed:
        raise Invalid({"status": f"{_names(session, {mine})} has signed it already."})
    _record_signatures(session, actor, agreement, {mine}, today)
    before = {"status": agreement.status, "signed_on": as_json(agreement.signed_on),
              "version": agreement.version}
    after: dict[str, Any] = {"organisation_id": mine, "signed_on": today.isoformat()}
    if set(signed) | {mine} >= parties:
        agreement.status = AgreementStatus.SIGNED.value
        agreement.signed_on = today
        agreement.version += 1
        agreement.updated_at = utcnow()
        session.add(agreement)
        session.flush()
        after |= {"status": agreement.status, "version": agreement.version}
    # With the version it made when it signs the agreement, so an older edit merges knowing it.
    record(session, actor, action="sign", entity="agreement", entity_id=agreement.id,
           before=before if "version" in after else None, after=after)
    return {"code": agreement.code, "version": agreement.version, "status": agreement.status}


def _as_typed(values: AgreementInput) -> dict[str, Any]:
    """Return an edit's input as the history records an agreement, to compare the two."""
    typed = {name: as_json(getattr(getattr(values, name), "value", getattr(values, name)))
             for name in FIELDS}
    typed["parties"] = sorted(f"{p.organisation}:{p.role.value}" for p in values.parties)
    typed["datasets"] = sorted(values.datasets)
    return typed


def _stale(session: Session, agreement: SharingAgreement, values: AgreementInput) -> Conflict:
    """Return the refusal of an edit from an older version: what changed since (`changed`) and
    where the edit differs from both that version and the change (`conflicts`)."""
    assert values.version is not None
    current = _state(session, agreement)
    base = values_at(session, entity="agreement", entity_id=agreement.id,
                     version=values.version, current=current)
    changed = {k: current[k] for k in (*FIELDS, "parties", "datasets")
               if current.get(k) != base.get(k)}
    typed = _as_typed(values)
    _, conflicts = three_way(base, current, {k: typed[k] for k in changed})
    return Conflict(f"agreement {agreement.code!r} was changed by someone else since you opened "
                    f"it (now version {agreement.version}, you edited version {values.version})",
                    current=_shown(session, agreement),
                    changed={k: _party_rows(v) if k == "parties" else v
                             for k, v in changed.items()},
                    conflicts={k: {side: _party_rows(v) for side, v in sides.items()}
                               if k == "parties" else sides for k, sides in conflicts.items()})


def _party_rows(parties: list[str]) -> list[dict[str, str]]:
    """Return the history's parties ("GLA:controller") as an edit sends them."""
    return [dict(zip(("organisation", "role"), party.rsplit(":", 1), strict=True))
            for party in parties]


def _shown(session: Session, agreement: SharingAgreement) -> dict[str, Any]:
    """Return an agreement as the API's GET shows it, less the links and value it rests on."""
    assert agreement.id is not None
    # A refusal's `current`: the public fields, not the row (its id, parties as history's
    # "GLA:controller").
    return _public(agreement, date.today()) | {
        "parties": _parties(session, [agreement.id])[agreement.id],
        "datasets": _datasets(session, [agreement.id])[agreement.id]}


def _public(agreement: SharingAgreement, today: date) -> dict[str, Any]:
    """Return an agreement's own fields with its standing today."""
    now = standing(agreement.status, agreement.signed_on, agreement.expires_on, today)
    days = (agreement.expires_on - today).days if agreement.expires_on else None
    return {
        "code": agreement.code, "title": agreement.title, "purpose": agreement.purpose,
        "lawful_basis": agreement.lawful_basis,
        "special_category_condition": agreement.special_category_condition,
        "dpia_reference": agreement.dpia_reference,
        "signed_on": agreement.signed_on, "review_on": agreement.review_on,
        "expires_on": agreement.expires_on, "status": agreement.status, "standing": now,
        "days_to_expiry": days, "document_url": agreement.document_url,
        "version": agreement.version,
    }


def _parties(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Return each agreement's parties (organisation code, name, role)."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = cast(list[tuple[int, str, str, str, int]], session.execute(
        select(col(AgreementParty.agreement_id), col(Organisation.code), col(Organisation.name),
               col(AgreementParty.role), col(Organisation.id))
        .join(Organisation, col(Organisation.id) == col(AgreementParty.organisation_id))
        .where(col(AgreementParty.agreement_id).in_(ids))
        .order_by(col(AgreementParty.role), col(Organisation.name))
    ).all())
    signed = {(a, o): (on, by) for a, o, on, by in cast(
        list[tuple[int, int, date | None, str | None]], session.execute(
            select(col(AgreementSignature.agreement_id), col(AgreementSignature.organisation_id),
                   col(AgreementSignature.signed_on), col(User.name))
            .outerjoin(User, col(User.id) == col(AgreementSignature.signed_by_id))
            .where(col(AgreementSignature.agreement_id).in_(ids))).all())}
    for agreement_id, code, name, role, org_id in rows:
        on, by = signed.get((agreement_id, org_id), (None, None))
        out[agreement_id].append({"organisation": code, "name": name, "role": role,
                                  "signed": (agreement_id, org_id) in signed,
                                  "signed_on": on, "signed_by": by})
    return out


def _datasets(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Return the datasets each agreement covers."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = cast(list[tuple[int, str, str, str]], session.execute(
        select(col(AgreementDataset.agreement_id), col(Dataset.code), col(Dataset.title),
               col(Dataset.access))
        .join(Dataset, col(Dataset.id) == col(AgreementDataset.dataset_id))
        .where(col(AgreementDataset.agreement_id).in_(ids)).order_by(col(Dataset.title))
    ).all())
    for agreement_id, code, title, access in rows:
        out[agreement_id].append({"code": code, "title": title, "access": access})
    return out


def relying_links(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Return the project links that refer to each agreement."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    rows = cast(list[tuple[int, str, str, str, str, str, str, bool]], session.execute(
        select(col(ProjectDataset.sharing_agreement_id), col(Project.slug), col(Project.title),
               col(Project.status), col(Dataset.code), col(Dataset.title),
               col(ProjectDataset.relation), col(ProjectDataset.required))
        .join(Project, col(Project.id) == col(ProjectDataset.project_id))
        .join(Dataset, col(Dataset.id) == col(ProjectDataset.dataset_id))
        .where(col(ProjectDataset.sharing_agreement_id).in_(ids))
        .order_by(col(Project.title), col(Dataset.title))
    ).all())
    for agreement_id, slug, title, status, code, ds_title, relation, required in rows:
        out[agreement_id].append({"project": slug, "title": title, "status": status,
                                  "dataset": code, "dataset_title": ds_title,
                                  "relation": relation, "required": required})
    return out


def value_relying(links: list[dict[str, Any]], values: dict[str, float]) -> float:
    """Return the value of active projects with a required use resting on an agreement.

    Each project counts once, at its composite in the current ranking (DESIGN.md).
    """
    projects = {link["project"] for link in links
                if link["required"] and link["relation"] == "uses"
                and link["status"] not in INACTIVE}
    return round(sum(values.get(p) or 0.0 for p in projects), 2)


def list_agreements(
    *, session: Session, values: dict[str, float], party: str | None = None,
    status: str | None = None, expiring_within: int | None = None, today: date | None = None,
) -> list[dict[str, Any]]:
    """Return agreements with parties, datasets, relying projects and the value resting on each.

    `status` filters on the standing today (so a signed agreement past its expiry is expired);
    `expiring_within` keeps agreements in force whose expiry is within that many days.
    """
    if expiring_within is not None and not 0 <= expiring_within <= LONGEST_EXPIRY_WINDOW:
        raise Invalid({"expiring_within": "Enter a number of days from 0 to "
                                          f"{LONGEST_EXPIRY_WINDOW}, such as 60."})
    day = today or date.today()
    query = select(SharingAgreement).order_by(col(SharingAgreement.title))
    if party:
        query = query.where(col(SharingAgreement.id).in_(
            select(col(AgreementParty.agreement_id)).join(
                Organisation, col(Organisation.id) == col(AgreementParty.organisation_id))
            .where(col(Organisation.code) == party)))
    if expiring_within is not None:
        query = query.where(
            col(SharingAgreement.expires_on) >= day,
            col(SharingAgreement.expires_on) <= day + timedelta(days=expiring_within))
    agreements: list[SharingAgreement] = list(session.execute(query).scalars())
    ids = [a.id for a in agreements if a.id is not None]
    parties, datasets, links = (_parties(session, ids), _datasets(session, ids),
                                relying_links(session, ids))
    out = []
    for agreement in agreements:
        row = _public(agreement, day)
        if status and row["standing"] != status:
            continue
        if expiring_within is not None and row["standing"] != "signed":
            continue
        assert agreement.id is not None
        row |= {"parties": parties[agreement.id], "datasets": datasets[agreement.id],
                "projects": len({x["project"] for x in links[agreement.id]}),
                "value": value_relying(links[agreement.id], values)}
        out.append(row)
    if expiring_within is not None:
        out.sort(key=lambda r: (r["expires_on"], r["title"]))
    return out


def get_agreement(*, session: Session, code: str, values: dict[str, float],
                  today: date | None = None) -> dict[str, Any]:
    """Return an agreement with its parties, datasets, relying projects and value waiting."""
    agreement = agreement_by_code(session, code)
    assert agreement.id is not None
    day = today or date.today()
    links = relying_links(session, [agreement.id])[agreement.id]
    for link in links:
        link["value"] = values.get(link["project"])
    detail = _public(agreement, day) | {
        "parties": _parties(session, [agreement.id])[agreement.id],
        "datasets": _datasets(session, [agreement.id])[agreement.id],
        "links": links, "value": value_relying(links, values),
    }
    detail["value_waiting"] = detail["value"] if detail["standing"] != "signed" else 0.0
    return detail


def agreements_for_dataset(*, session: Session, dataset_id: int) -> list[dict[str, Any]]:
    """Return the agreements covering a dataset, for a link's choice of agreement."""
    rows = session.execute(
        select(col(SharingAgreement.code), col(SharingAgreement.title),
               col(SharingAgreement.status))
        .join(AgreementDataset, col(AgreementDataset.agreement_id) == col(SharingAgreement.id))
        .where(col(AgreementDataset.dataset_id) == dataset_id)
        .order_by(col(SharingAgreement.title))
    ).all()
    return [{"code": c, "title": t, "status": s} for c, t, s in rows]


def agreement_choices(*, session: Session, party: str | None = None) -> list[dict[str, Any]]:
    """Return every agreement's code and title with the dataset codes it covers (only those
    an organisation is party to, when one is named by its code).
    """
    covered: dict[int, list[str]] = {}
    for agreement_id, code in cast(list[tuple[int, str]], session.execute(
            select(col(AgreementDataset.agreement_id), col(Dataset.code))
            .join(Dataset, col(Dataset.id) == col(AgreementDataset.dataset_id))).all()):
        covered.setdefault(agreement_id, []).append(code)
    chosen = select(SharingAgreement).order_by(col(SharingAgreement.title))
    if party is not None:
        chosen = chosen.where(col(SharingAgreement.id).in_(
            select(col(AgreementParty.agreement_id))
            .join(Organisation, col(Organisation.id) == col(AgreementParty.organisation_id))
            .where(col(Organisation.code) == party)))
    agreements: list[SharingAgreement] = list(session.execute(chosen).scalars())
    return [{"code": a.code, "title": a.title, "datasets": covered.get(a.id or 0, [])}
            for a in agreements]


def agreement_word(word: str, code: str | None, status: str | None, signed_on: date | None,
                   expires_on: date | None, today: date | None = None) -> str:
    """Return a link's agreement word: its record's standing today, else its own word."""
    if code is None or status is None:
        return word
    return standing(status, signed_on, expires_on, today or date.today())


def link_agreement_id(session: Session, code: str | None, dataset_id: int,
                      owner_id: int) -> int | None:
    """Return the id of the agreement a link refers to, refusing one not covering its dataset
    or one its project's owner is not party to (another organisation's agreement shares nothing
    with it).
    """
    if not code:
        return None
    found = session.execute(select(col(SharingAgreement.id))
                            .where(col(SharingAgreement.code) == code)).scalar()
    if found is None:
        raise Invalid({"sharing_agreement": f"No agreement {code!r} is registered."})
    if owner_id not in party_ids(session, found):
        owner = session.execute(select(col(Organisation.name))
                                .where(col(Organisation.id) == owner_id)).scalar()
        raise Invalid({"sharing_agreement": f"{owner} is not party to the agreement {code!r}: "
                                            "choose one it is party to, or add it as a party "
                                            "first."})
    covers = session.execute(select(col(AgreementDataset.id)).where(
        col(AgreementDataset.agreement_id) == found,
        col(AgreementDataset.dataset_id) == dataset_id)
    ).first()
    if covers is None:
        raise Invalid({"sharing_agreement": f"The agreement {code!r} does not cover this "
                                            "dataset: add the dataset to it first."})
    return int(found)


# Expiry sweep: the scheduled revision bump (DESIGN.md, "Data-sharing agreements").

def expire_due(session: Session, *, today: date | None = None) -> int:
    """Record as expired every signed agreement past its expiry day; return how many."""
    day = today or date.today()
    # Locked as read: on PostgreSQL an agreement renewed meanwhile is read again after that
    # renewal commits, and no longer due, is left alone (SQLite's one writer is already alone).
    due: list[SharingAgreement] = list(session.execute(select(SharingAgreement).where(
        col(SharingAgreement.status) == AgreementStatus.SIGNED.value,
        col(SharingAgreement.expires_on) < day).with_for_update(key_share=True)
    ).scalars())
    for agreement in due:
        before = {"status": agreement.status, "version": agreement.version}
        agreement.status = AgreementStatus.EXPIRED.value
        agreement.version += 1
        agreement.updated_at = utcnow()
        session.add(agreement)
        session.flush()
        # With the version it made, so an edit from before it is merged knowing of it.
        record(session, SYSTEM, action="expire", entity="agreement", entity_id=agreement.id,
               before=before, after={"status": agreement.status, "version": agreement.version,
                                     "reason": f"past its expiry date {agreement.expires_on}"})
    return len(due)


def notice_expiring(session: Session, *, today: date | None = None,
                    within_days: int = EXPIRING_SOON_DAYS) -> int:
    """Write an 'agreement_expiring' event for each active project resting on a signed agreement
    that expires within the window; once per project, agreement and expiry date."""
    day = today or date.today()
    expiring: list[SharingAgreement] = list(session.execute(select(SharingAgreement).where(
        col(SharingAgreement.status) == AgreementStatus.SIGNED.value,
        col(SharingAgreement.expires_on) >= day,
        col(SharingAgreement.expires_on) <= day + timedelta(days=within_days))).scalars())
    due = {a.id: a for a in expiring}
    if not due:
        return 0
    resting = set(cast(list[tuple[int, int]], session.execute(
        select(col(ProjectDataset.project_id), col(ProjectDataset.sharing_agreement_id))
        .join(Project, col(Project.id) == col(ProjectDataset.project_id))
        .where(col(ProjectDataset.sharing_agreement_id).in_(list(due)),
               col(Project.status).notin_(INACTIVE), col(Project.archived_at).is_(None))).all()))
    events = cast(list[tuple[int | None, dict[str, Any] | None]], session.execute(
        select(col(NotificationEvent.project_id), col(NotificationEvent.payload))
        .where(col(NotificationEvent.kind) == "agreement_expiring")).all())
    # A renewal moves the expiry date, so the next expiry is told again.
    told = {(pid, (payload or {}).get("code"), (payload or {}).get("expires_on"))
            for pid, payload in events}
    written = 0
    for project_id, agreement_id in sorted(resting):
        agreement = due[agreement_id]
        expires_on = agreement.expires_on.isoformat() if agreement.expires_on else ""
        if (project_id, agreement.code, expires_on) in told:
            continue
        session.add(NotificationEvent(kind="agreement_expiring", project_id=project_id,
                                      payload={"agreement": agreement.title,
                                               "code": agreement.code,
                                               "expires_on": expires_on}))
        written += 1
    session.flush()
    return written


_swept: dict[int, date] = {}


def expire_due_once_a_day(db: Any, today: date | None = None) -> None:
    """Sweep expired agreements at most once a day per process (ranking reads call this)."""
    day = today or date.today()
    if _swept.get(id(db)) == day:
        return
    _swept[id(db)] = day
    with db.read() as session:
        overdue = session.execute(select(col(SharingAgreement.id)).where(
            col(SharingAgreement.status) == AgreementStatus.SIGNED.value,
            col(SharingAgreement.expires_on) < day).limit(1)).first()
    if overdue is not None:
        with db.write() as session:
            expire_due(session, today=day)


def count_agreements(*, session: Session) -> int:
    """Return how many agreements are registered."""
    return int(session.execute(select(func.count()).select_from(SharingAgreement)).scalar()
               or 0)


def snapshot_rows(session: Session, today: date) -> list[list[Any]]:
    """Return the agreements table of a snapshot or export, by code, standing on `today`."""
    agreements: list[SharingAgreement] = list(session.execute(select(SharingAgreement)).scalars())
    ids = [a.id for a in agreements if a.id is not None]
    parties, datasets = _parties(session, ids), _datasets(session, ids)
    rows = []
    for a in sorted(agreements, key=lambda x: x.code):
        assert a.id is not None
        rows.append([
            a.code, a.title, a.status, standing(a.status, a.signed_on, a.expires_on, today),
            sorted(f"{p['organisation']}:{p['role']}" for p in parties[a.id]),
            sorted(d["code"] for d in datasets[a.id]), a.lawful_basis,
            a.special_category_condition, a.dpia_reference,
            *(d.isoformat() if d else None for d in (a.signed_on, a.review_on, a.expires_on)),
            a.document_url, a.version, a.purpose,
        ])
    return rows
