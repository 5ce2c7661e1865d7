"""What each role may do: one table from role to capability, read by services, routes and pages.

Services call `require(...)`, each web route's policy names a capability, and templates ask
`can(...)`, so a page never offers what the service would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from portfolio.actors import Actor
from portfolio.enums import Role
from portfolio.errors import NotAllowed


class Capability(StrEnum):
    """A named thing a user may do."""

    READ = "read"
    REGISTER_PROJECT = "register_project"
    EDIT_PROJECT = "edit_project"
    IMPORT_PROJECTS = "import_projects"
    EDIT_DATASET = "edit_dataset"
    DECIDE = "decide"
    SUBMIT_PROJECT = "submit_project"
    RUN_PROJECT = "run_project"
    CHANGE_STATUS = "change_status"
    ANSWER_REVIEW = "answer_review"
    MANAGE_PROFILES = "manage_profiles"
    MANAGE_SCENARIOS = "manage_scenarios"
    OVERRIDE_PRIORITY = "override_priority"
    CREATE_SNAPSHOT = "create_snapshot"
    HARVEST_CATALOGUE = "harvest_catalogue"
    MANAGE_USERS = "manage_users"
    MANAGE_ORGANISATIONS = "manage_organisations"
    RECORD_BENEFITS = "record_benefits"
    DISMISS_SUGGESTION = "dismiss_suggestion"
    JOIN_PROJECT = "join_project"
    SET_CAPACITY = "set_capacity"
    ATTACH_DOCUMENT = "attach_document"
    MANAGE_AGREEMENTS = "manage_agreements"
    RECORD_IG = "record_ig"
    OVERRIDE_IG = "override_ig"
    MAP_GROUPS = "map_groups"
    WATCH_JOBS = "watch_jobs"
    REPORT_PROGRESS = "report_progress"
    COMMENT = "comment"
    MODERATE_COMMENTS = "moderate_comments"
    WATCH = "watch"
    ARCHIVE_PROJECT = "archive_project"
    ASSESS_PROJECT = "assess_project"
    SEE_CONTACTS = "see_contacts"


class Scope(StrEnum):
    """Where a role may use a capability."""

    ANYWHERE = "anywhere"
    OWN_ORGANISATION = "own organisation"
    # The owning organisation's things, or those it is a partner in (a project's partners).
    OWN_OR_PARTNER = "own or partner organisation"


# What each capability is, in words, for messages ("a researcher may not {doing}").
DOING: dict[Capability, str] = {
    Capability.READ: "read the portfolio",
    Capability.REGISTER_PROJECT: "register projects",
    Capability.EDIT_PROJECT: "edit projects",
    Capability.IMPORT_PROJECTS: "import projects",
    Capability.EDIT_DATASET: "register or edit datasets",
    Capability.DECIDE: "decide on projects",
    Capability.SUBMIT_PROJECT: "submit projects for review or withdraw them",
    Capability.RUN_PROJECT: "start, pause, resume or deliver approved projects",
    Capability.CHANGE_STATUS: "change a project's status outside the workflow",
    Capability.ANSWER_REVIEW: "answer a reviewer's question",
    Capability.MANAGE_PROFILES: "change weight profiles",
    Capability.MANAGE_SCENARIOS: "save plan scenarios",
    Capability.OVERRIDE_PRIORITY: "override a project's priority",
    Capability.CREATE_SNAPSHOT: "create snapshots",
    Capability.HARVEST_CATALOGUE: "harvest datasets from open-data portals",
    Capability.MANAGE_USERS: "manage users",
    Capability.MANAGE_ORGANISATIONS: "manage organisations",
    Capability.RECORD_BENEFITS: "record a project's realised benefits",
    Capability.DISMISS_SUGGESTION: "dismiss a collaboration suggestion",
    Capability.JOIN_PROJECT: "join a project as a partner",
    Capability.SET_CAPACITY: "set an organisation's capacity per quarter",
    Capability.ATTACH_DOCUMENT: "attach or remove documents",
    Capability.MANAGE_AGREEMENTS: "register or edit data-sharing agreements",
    Capability.RECORD_IG: "record a project's information governance stages",
    Capability.OVERRIDE_IG: "start a project that processes personal data before its DPIA",
    Capability.MAP_GROUPS: "map the identity provider's groups to roles",
    Capability.WATCH_JOBS: "see background jobs that failed",
    Capability.REPORT_PROGRESS: "report a committed project's progress",
    Capability.COMMENT: "comment on projects",
    Capability.MODERATE_COMMENTS: "remove other people's comments",
    Capability.WATCH: "watch projects",
    Capability.ARCHIVE_PROJECT: "archive or restore projects",
    Capability.ASSESS_PROJECT: "assess projects on the criteria",
    Capability.SEE_CONTACTS: "see users' email addresses",
}

_ANY, _OWN, _PARTNER = Scope.ANYWHERE, Scope.OWN_ORGANISATION, Scope.OWN_OR_PARTNER
_STAFF = {c: _ANY for c in Capability if c not in {Capability.MANAGE_USERS,
                                                   Capability.MANAGE_ORGANISATIONS,
                                                   Capability.MAP_GROUPS,
                                                   Capability.WATCH_JOBS}}

# The one table: a role holds a capability anywhere, or only for its own organisation's things.
TABLE: dict[Role, dict[Capability, Scope]] = {
    Role.ADMIN: {c: _ANY for c in Capability},
    Role.CDO: _STAFF,
    Role.LEAD: {
        Capability.READ: _ANY,
        Capability.REGISTER_PROJECT: _OWN,
        Capability.EDIT_PROJECT: _OWN,
        Capability.IMPORT_PROJECTS: _OWN,
        Capability.EDIT_DATASET: _OWN,
        Capability.SUBMIT_PROJECT: _OWN,
        Capability.RUN_PROJECT: _OWN,
        Capability.ANSWER_REVIEW: _OWN,
        Capability.CREATE_SNAPSHOT: _ANY,
        # Their own organisation's delivered projects; suggestions involving their organisation;
        # their own organisation joining another's project.
        Capability.RECORD_BENEFITS: _OWN,
        Capability.DISMISS_SUGGESTION: _OWN,
        Capability.JOIN_PROJECT: _OWN,
        Capability.ATTACH_DOCUMENT: _OWN,
        # Agreements their organisation is party to; their own projects' IG stages.
        Capability.MANAGE_AGREEMENTS: _OWN,
        Capability.RECORD_IG: _OWN,
        Capability.REPORT_PROGRESS: _OWN,
        Capability.COMMENT: _ANY,
        Capability.WATCH: _ANY,
        Capability.ARCHIVE_PROJECT: _OWN,
        # A partner's lead is one more assessor of a shared project (several assessors).
        Capability.ASSESS_PROJECT: _PARTNER,
        Capability.SEE_CONTACTS: _ANY,
    },
    Role.RESEARCHER: {
        Capability.READ: _ANY,
        Capability.CREATE_SNAPSHOT: _ANY,
        Capability.COMMENT: _ANY,
        Capability.WATCH: _ANY,
        Capability.SEE_CONTACTS: _ANY,
    },
}

# Attributes or keys that name the organisation a thing belongs to, in the order tried.
_OWNER_KEYS = ("owner_id", "publisher_id", "organisation_id")
# The attribute or key that lists the organisations partnering in a thing (ids).
PARTNERS_KEY = "partner_ids"


def organisation_of(thing: Any) -> int | None:
    """Return the organisation a thing belongs to: an id, or a record with an owner."""
    if thing is None or isinstance(thing, bool):
        return None
    if isinstance(thing, int):
        return thing
    for key in _OWNER_KEYS:
        value = thing.get(key) if isinstance(thing, Mapping) else getattr(thing, key, None)
        if isinstance(value, int):
            return value
    return None


def roles_with(capability: Capability) -> frozenset[Role]:
    """Return the roles that hold a capability somewhere."""
    return frozenset(role for role, held in TABLE.items() if capability in held)


def can(actor: Actor | None, capability: Capability | str, thing: Any = None) -> bool:
    """Tell whether the actor may use a capability, on a thing when one is named."""
    if actor is None:
        return False
    scope = TABLE[actor.role].get(Capability(capability))
    if scope is None:
        return False
    if scope == Scope.ANYWHERE or thing is None:
        return True
    owner = organisation_of(thing)
    if owner is not None and owner == actor.organisation_id:
        return True
    return scope == Scope.OWN_OR_PARTNER and actor.organisation_id in partners_of(thing)


def contact(actor: Actor | None, email: str | None) -> str | None:
    """Return a user's email address if the reader may see it, else None.

    Every signed-in role sees colleagues' addresses; an anonymous visitor (public read) sees
    people's names and a project's public contact, never an account's address.
    """
    return email if can(actor, Capability.SEE_CONTACTS) else None


def partners_of(thing: Any) -> frozenset[int]:
    """Return the organisations partnering in a thing (none unless it lists them)."""
    found = thing.get(PARTNERS_KEY) if isinstance(thing, Mapping) \
        else getattr(thing, PARTNERS_KEY, None)
    return frozenset(found or ())


def only_own_organisation(actor: Actor, capability: Capability) -> bool:
    """Tell whether the actor holds a capability only for their own organisation's things."""
    return TABLE[actor.role].get(capability) == Scope.OWN_ORGANISATION


# Whose members hold a capability, where that is not the owner of the thing it is used on.
AMONG = {Capability.JOIN_PROJECT: "the organisation that joins"}


def who_may(capability: Capability, among: str | None = None) -> str:
    """Name in words the roles that may use a capability ("a CDO or an admin").

    `among` names the organisations whose members may where that is not the owner's ("a party
    to the agreement").
    """
    names = {Role.ADMIN: "an admin", Role.CDO: "the CDO", Role.LEAD: "a lead",
             Role.RESEARCHER: "a researcher"}
    among = among or AMONG.get(capability)
    parts = []
    for role in (Role.CDO, Role.ADMIN, Role.LEAD, Role.RESEARCHER):
        scope = TABLE[role].get(capability)
        if scope is not None:
            own = {Scope.OWN_ORGANISATION: " of the owning organisation",
                   Scope.OWN_OR_PARTNER: " of the owning or a partner organisation"}.get(scope, "")
            parts.append(names[role] + (f" of {among}" if among and own else own))
    return " or ".join(parts) if parts else "nobody"


def refusal(actor: Actor, capability: Capability, thing: Any = None,
            doing: str | None = None, *, among: str | None = None) -> str:
    """Say why an actor may not do something and who may.

    With `among` (whose members may, `who_may`), `doing` says itself which organisations it
    concerns ("join a project on behalf of another organisation"), so no scope is added.
    """
    what = doing or DOING[capability]
    scope = TABLE[actor.role].get(capability)
    where = {Scope.OWN_ORGANISATION: " for another organisation",
             Scope.OWN_OR_PARTNER: " for an organisation that neither owns nor partners in it",
             }.get(scope, "") if scope and among is None else ""
    return f"a {actor.role.value} may not {what}{where}; {who_may(capability, among)} may"


def require(actor: Actor, capability: Capability, thing: Any = None, *,
            doing: str | None = None, among: str | None = None) -> None:
    """Refuse with NotAllowed, naming who may, unless the actor may use the capability."""
    if not can(actor, capability, thing):
        raise NotAllowed(refusal(actor, capability, thing, doing, among=among))
