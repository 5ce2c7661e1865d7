"""Users who sign in through an OpenID Connect provider, and the groups that give them a role.

A group mapped here gives its members a role (and, for a lead, an organisation); a member of
several mapped groups gets the strongest role. Each sign-in applies the mapping again, so the
provider's groups stay the source of truth. A first sign-in with no mapped group creates the
user with no role: they wait until an admin gives one (on the users page, or by mapping one of
their groups).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import Role
from portfolio.errors import DomainError, Invalid, NotFound
from portfolio.models import ExternalIdentity, GroupMapping, Organisation, User, utcnow
from portfolio.oidc import Identity
from portfolio.services.accounts import only_active_admin, require_signed_in_person
from portfolio.services.common import add_new, one_at_a_time, organisation_by_code, record
from portfolio.text import control_problem

# Strongest first: a member of several mapped groups gets the first of these it maps to.
STRENGTH = (Role.ADMIN, Role.CDO, Role.LEAD, Role.RESEARCHER)
SYSTEM_ACTOR_EMAIL = "single sign-on"


class EmailTaken(DomainError):
    """A local account already has the email the provider gave, unverified."""

    status_code = 409

    def __init__(self, email: str) -> None:
        super().__init__(f"an account with the email {email} already exists here, and the "
                         "provider has not verified that email, so this sign-in cannot be "
                         "linked to it: verify the address with your identity provider (or ask "
                         "its administrator to), then sign in again")


class IdentityTaken(DomainError):
    """The account with the provider's email is already linked to another identity there."""

    status_code = 409

    def __init__(self, email: str) -> None:
        super().__init__(f"the account with the email {email} is already linked to another "
                         "identity at this provider: sign in with the identity it is linked to")


class AccountSwitchedOff(DomainError):
    """The provider vouches for the person, but an admin has switched their account off here."""

    status_code = 403

    def __init__(self, email: str) -> None:
        super().__init__(f"the account {email} may not sign in here; ask an admin")


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a sign-in through the provider: an actor, or a user waiting for a role."""

    actor: Actor | None
    email: str
    name: str
    groups: tuple[str, ...]


def stored_groups(groups: tuple[str, ...]) -> str:
    """Return groups as an identity keeps them: a JSON list, every name whole."""
    return json.dumps(list(groups), ensure_ascii=False)


def listed_groups(stored: str) -> tuple[str, ...]:
    """Return the groups an identity keeps, from a JSON list or an older comma-joined row."""
    if stored.startswith("["):
        try:
            found = json.loads(stored)
        except ValueError:
            found = None
        if isinstance(found, list):
            return tuple(str(g) for g in found)
    # Rows written before migration 0034 that it could not convert.
    return tuple(g for g in stored.split(",") if g)


def _mapped_role(session: Session, groups: tuple[str, ...]) -> tuple[Role, int | None] | None:
    """Return the strongest role (and its organisation) the groups map to, or None."""
    if not groups:
        return None
    found = cast(list[tuple[str, int | None]], session.execute(
        select(col(GroupMapping.role), col(GroupMapping.organisation_id))
        .where(col(GroupMapping.group_name).in_(groups))).all())
    if not found:
        return None
    role, organisation = min(found, key=lambda row: STRENGTH.index(Role(row[0])))
    return Role(role), organisation


def sign_in_identity(*, session: Session, identity: Identity) -> SignedIn:
    """Find or create the user a verified identity stands for, and apply the group mapping."""
    email = (identity.email or f"{identity.subject}@{_host(identity.issuer)}").lower()[:254]
    # A person's first sign-in from two browsers at once: each would miss the user and link the
    # other creates until it commits, and create them again. The second waits, then finds them.
    one_at_a_time(session, f"sign-in as {email}")
    link = session.execute(select(ExternalIdentity).where(
        col(ExternalIdentity.issuer) == identity.issuer,
        col(ExternalIdentity.subject) == identity.subject)).scalars().first()
    user = session.get(User, link.user_id) if link is not None else None
    if user is None:
        user = session.execute(select(User).where(func.lower(col(User.email)) == email)
                               ).scalars().first()
        if user is not None and not identity.email_verified:
            raise EmailTaken(email)
        # Linked by email once per provider: another subject claiming the same address later
        # (a reassigned or mistyped one at the provider) does not sign in as its owner.
        if user is not None and session.execute(select(col(ExternalIdentity.id)).where(
                col(ExternalIdentity.issuer) == identity.issuer,
                col(ExternalIdentity.user_id) == user.id)).first() is not None:
            raise IdentityTaken(email)
        if user is None:
            # Without a name from the provider, the address's local part: a name is shown
            # where the address is not (public read), so the address must not stand in.
            name = identity.name.strip()[:200] or email.split("@", 1)[0] or identity.subject
            user = User(email=email, name=name, role=None)
            session.add(user)
            session.flush()
            record(session, _system(), action="create", entity="user", entity_id=user.id,
                   after={"email": email, "role": None, "via": identity.issuer})
        assert user.id is not None  # flushed above or read from the database
        link = ExternalIdentity(issuer=identity.issuer, subject=identity.subject,
                                user_id=user.id)
    assert link is not None and user.id is not None
    link.groups = stored_groups(identity.groups)
    link.last_sign_in_at = utcnow()
    session.add(link)
    _apply_groups(session, user, link, identity.groups)
    session.flush()
    if not user.is_active:
        raise AccountSwitchedOff(user.email)
    actor = (Actor(id=user.id, role=Role(user.role), organisation_id=user.organisation_id,
                   email=user.email)
             if user.role else None)
    return SignedIn(actor=actor, email=user.email, name=user.name, groups=identity.groups)


def _apply_groups(session: Session, user: User, link: ExternalIdentity,
                  groups: tuple[str, ...]) -> None:
    """Give the user the role their mapped groups give, or take away one they no longer give.

    A role the groups gave at the last sign-in, unchanged since, goes when no group gives one
    now (the user waits for access again); a role an admin gave by hand stays; the only active
    admin stays one.
    """
    mapped = _mapped_role(session, groups)
    held = (user.role, user.organisation_id)
    if mapped is not None:
        access: tuple[str | None, int | None] = (mapped[0].value, mapped[1])
    elif link.mapped_role is not None and held == (link.mapped_role,
                                                   link.mapped_organisation_id):
        access = (None, None)
    else:
        access = held
    if (held[0] == Role.ADMIN.value and access[0] != Role.ADMIN.value
            and only_active_admin(session, user)):
        # As on the users page, there is always an active admin: the role goes at a sign-in
        # after another admin is made (what the groups gave is remembered until then).
        record(session, _system(), action="update", entity="user", entity_id=user.id,
               before={"role": user.role}, after={"role": user.role, "kept": "the only active "
                                                  "admin", "groups": list(groups)})
        return
    link.mapped_role, link.mapped_organisation_id = (access if mapped is not None
                                                     else (None, None))
    if access != held:
        before = {"role": user.role, "organisation_id": user.organisation_id}
        user.role, user.organisation_id = access
        session.add(user)
        record(session, _system(), action="update", entity="user", entity_id=user.id,
               before=before, after={"role": user.role, "organisation_id": user.organisation_id,
                                     "groups": list(groups)})


def _system() -> Actor:
    """Return the actor that records what the provider's sign-ins change."""
    return Actor(id=None, role=Role.ADMIN, email=SYSTEM_ACTOR_EMAIL)


def _host(issuer: str) -> str:
    """Return the provider's host name, for an email-less user's placeholder address."""
    return issuer.split("//", 1)[-1].split("/", 1)[0] or "provider"


def list_mappings(*, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """List the group mappings (admins only)."""
    require(actor, Capability.MAP_GROUPS)
    rows = cast(list[tuple[GroupMapping, str | None]], session.execute(
        select(GroupMapping, col(Organisation.code))
        .outerjoin(Organisation, col(Organisation.id) == col(GroupMapping.organisation_id))
        .order_by(col(GroupMapping.group_name))).all())
    return [{"id": m.id, "group": m.group_name, "role": m.role, "organisation": code}
            for m, code in rows]


def add_mapping(*, session: Session, actor: Actor, group: str, role: str,
                organisation: str | None) -> dict[str, Any]:
    """Map a provider group to a role and organisation (admins only, signed in)."""
    # Members waiting for a role get it at once, as their next sign-in would (by the groups
    # listed at their last sign-in); `waiting_given` says how many. Others' roles change at
    # their next sign-in.
    require(actor, Capability.MAP_GROUPS)
    # A mapping gives its group's members a role: power, given only by a person at the site.
    require_signed_in_person(actor, "map the provider's groups to roles")
    errors: dict[str, str] = {}
    group = group.strip()
    if not group or len(group) > 255:
        errors["group"] = "enter the group's name as the provider sends it (1 to 255 characters)"
    elif problem := control_problem(group):
        errors["group"] = problem
    elif session.execute(select(col(GroupMapping.id)).where(col(GroupMapping.group_name) == group)
                         ).first():
        errors |= _group_taken(group)
    try:
        chosen = Role(role)
    except ValueError:
        errors["role"] = "choose a role: admin, cdo, lead or researcher"
        chosen = None
    organisation_id = None
    if organisation:
        try:
            organisation_id = organisation_by_code(session, organisation).id
        except Invalid as exc:
            errors.update(exc.errors)
    if chosen == Role.LEAD and organisation_id is None and "organisation" not in errors:
        errors["organisation"] = "a lead must belong to an organisation: choose one"
    if errors:
        raise Invalid(errors)
    assert chosen is not None
    mapping = GroupMapping(group_name=group, role=chosen.value, organisation_id=organisation_id)
    add_new(session, mapping, taken=_group_taken(group))
    after = {"group": group, "role": chosen.value, "organisation": organisation or None}
    record(session, actor, action="create", entity="group_mapping", entity_id=mapping.id,
           after=after)
    given = _apply_to_members(session, group, waiting_only=True)
    return {"id": mapping.id, **after, "waiting_given": given}


def _group_taken(group: str) -> dict[str, str]:
    """Return the refusal of a group already mapped."""
    return {"group": f"the group {group!r} is already mapped; remove that mapping first"}


def remove_mapping(*, session: Session, actor: Actor, mapping_id: int) -> int:
    """Remove a group mapping (admins only, signed in); return how many members' roles changed.

    The roles it gave go at once, not at the members' next sign-in (their API tokens would
    keep them meanwhile): each member's access is worked out again from the groups the
    provider listed at their last sign-in, as that sign-in would now.
    """
    require(actor, Capability.MAP_GROUPS)
    require_signed_in_person(actor, "remove the provider's group mappings")
    mapping = session.get(GroupMapping, mapping_id)
    if mapping is None:
        raise NotFound("group mapping", str(mapping_id))
    session.execute(delete(GroupMapping).where(col(GroupMapping.id) == mapping_id))
    record(session, actor, action="delete", entity="group_mapping", entity_id=mapping_id,
           before={"group": mapping.group_name, "role": mapping.role})
    return _apply_to_members(session, mapping.group_name)


def _apply_to_members(session: Session, group: str, *, waiting_only: bool = False) -> int:
    """Work out again a group's members' access (their last sign-in's groups); count changes."""
    query = select(ExternalIdentity, User).join(User, col(User.id) == col(ExternalIdentity.user_id))
    # A cheap filter first (the name as JSON holds it); each row's list is then read exactly.
    query = query.where(col(ExternalIdentity.groups).contains(group, autoescape=True)
                        | col(ExternalIdentity.groups).contains(
                            json.dumps(group, ensure_ascii=False)[1:-1], autoescape=True))
    if waiting_only:
        query = query.where(col(User.role).is_(None))
    changed = 0
    for link, user in cast(list[tuple[ExternalIdentity, User]], session.execute(query).all()):
        groups = listed_groups(link.groups)
        if group not in groups:
            continue
        held = (user.role, user.organisation_id)
        _apply_groups(session, user, link, groups)
        session.add(link)
        changed += (user.role, user.organisation_id) != held
    return changed


def waiting_users(*, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """List users who signed in through the provider and wait for a role, with their groups."""
    require(actor, Capability.MAP_GROUPS)
    rows = cast(list[tuple[str, str, str, Any]], session.execute(
        select(col(User.email), col(User.name), col(ExternalIdentity.groups), col(User.created_at))
        .join(ExternalIdentity, col(ExternalIdentity.user_id) == col(User.id))
        .where(col(User.role).is_(None)).order_by(col(User.created_at))).all())
    return [{"email": e, "name": n, "groups": list(listed_groups(groups))}
            for e, n, groups, _at in rows]
