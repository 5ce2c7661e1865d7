"""Who is acting, and what each role may do (enforced by the services)."""

from __future__ import annotations

from dataclasses import dataclass

from portfolio.enums import Role
from portfolio.errors import NotAllowed


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf a service runs."""

    id: int | None
    role: Role
    organisation_id: int | None = None
    email: str = "system"

    @property
    def is_staff(self) -> bool:
        """Tell whether the actor administers the whole portfolio (admin or CDO)."""
        return self.role in (Role.ADMIN, Role.CDO)


SYSTEM = Actor(id=None, role=Role.ADMIN, email="system")


def require_role(actor: Actor, *roles: Role, doing: str) -> None:
    """Refuse unless the actor has one of the roles."""
    if actor.role not in roles:
        raise NotAllowed(f"a {actor.role.value} may not {doing}")


def require_organisation_member(actor: Actor, organisation_id: int, *, doing: str) -> None:
    """Refuse a lead acting on another organisation's work; staff may act anywhere."""
    if actor.is_staff:
        return
    if actor.role == Role.LEAD and actor.organisation_id == organisation_id:
        return
    raise NotAllowed(f"a {actor.role.value} may not {doing} for another organisation")
