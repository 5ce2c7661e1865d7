"""Who is acting; what each role may do is in portfolio/capabilities.py."""

from __future__ import annotations

from dataclasses import dataclass

from portfolio.enums import Role


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf a service runs."""

    id: int | None
    role: Role
    organisation_id: int | None = None
    email: str = "system"
    # Signed in with an API token rather than a browser session: a token acts on the portfolio
    # with its owner's permissions, but never makes, ends or changes credentials.
    by_token: bool = False

    @property
    def is_staff(self) -> bool:
        """Tell whether the actor administers the whole portfolio (admin or CDO)."""
        return self.role in (Role.ADMIN, Role.CDO)


SYSTEM = Actor(id=None, role=Role.ADMIN, email="system")
