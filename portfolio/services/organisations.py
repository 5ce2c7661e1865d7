"""Organisations: the GLA, boroughs, GLA group bodies and partners."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, only_own_organisation, require
from portfolio.errors import Invalid, NotFound
from portfolio.models import Organisation
from portfolio.schemas import OrganisationCreate, parse
from portfolio.services.common import as_record, record


def organisation_public(org: Organisation) -> dict[str, Any]:
    """Return the public shape of an organisation."""
    return {"code": org.code, "name": org.name, "kind": org.kind}


def create_organisation(*, session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Register an organisation (admins only)."""
    require(actor, Capability.MANAGE_ORGANISATIONS)
    values = parse(OrganisationCreate, data)
    if session.exec(select(Organisation.id).where(Organisation.code == values.code)).first():
        raise Invalid({"code": f"an organisation with code {values.code!r} already exists"})
    org = Organisation(code=values.code, name=values.name, kind=values.kind.value)
    session.add(org)
    session.flush()
    record(
        session,
        actor,
        action="create",
        entity="organisation",
        entity_id=org.id,
        after=as_record(org),
    )
    return organisation_public(org)


def get_organisation_row(*, session: Session, code: str) -> Organisation:
    """Return an organisation's row or raise NotFound."""
    org = session.exec(select(Organisation).where(Organisation.code == code)).first()
    if org is None:
        raise NotFound("organisation", code)
    return org


def organisation_names(*, session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Return the names of the organisations with these codes, by code."""
    rows = session.exec(select(Organisation.code, Organisation.name)
                        .where(col(Organisation.code).in_(list(codes)))).all()
    return dict(rows)


def list_organisations(*, session: Session, kind: str | None = None) -> list[dict[str, Any]]:
    """List organisations by kind and name."""
    query = select(Organisation.code, Organisation.name, Organisation.kind)
    if kind:
        query = query.where(Organisation.kind == kind)
    rows = session.exec(query.order_by(Organisation.kind, Organisation.name)).all()
    return [{"code": c, "name": n, "kind": k} for c, n, k in rows]


def organisations_for(*, session: Session, actor: Actor | None,
                      capability: Capability) -> list[dict[str, Any]]:
    """List the organisations an actor may use a capability for (a lead: their own only)."""
    query = select(Organisation.code, Organisation.name, Organisation.kind)
    if actor is None or only_own_organisation(actor, capability):
        query = query.where(Organisation.id == (actor.organisation_id if actor else None))
    rows = session.exec(query.order_by(Organisation.kind, Organisation.name)).all()
    return [{"code": c, "name": n, "kind": k} for c, n, k in rows]
