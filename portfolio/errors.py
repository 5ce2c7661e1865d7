"""Domain errors raised by the services and mapped to HTTP by the web app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """Base of every error a user can cause."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to this user)."""

    status_code = 404

    def __init__(self, entity: str, key: object, *, message: str | None = None) -> None:
        super().__init__(message or f"no {entity} {key!r}")
        self.entity = entity
        self.key = key


class Unrankable(DomainError):
    """A weight profile whose stored weights cannot rank anything (pages show why, not a 500)."""

    status_code = 409


class NotAllowed(DomainError):
    """The user's role or organisation does not permit this."""

    status_code = 403


class Invalid(DomainError):
    """Input that breaks a rule, with a message per field."""

    status_code = 422

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in self.errors.items()))


class CycleRefused(Invalid):
    """A dependency that would close a cycle, with the cycle's path."""

    def __init__(self, path: Sequence[str], titles: Sequence[str] | None = None) -> None:
        self.path = list(path)
        # People read titles; the slugs stay in `path` for the API.
        cycle = " -> ".join(titles or self.path)
        if len(self.path) == 2:
            text = f"a project cannot depend on itself ({cycle})"
        else:
            text = f"this dependency would close a cycle: {cycle}"
        super().__init__({"depends_on": text})


class Conflict(DomainError):
    """The record changed since the user read it; nothing was written."""

    status_code = 409

    def __init__(
        self,
        message: str,
        *,
        current: Mapping[str, Any] | None = None,
        changed: Mapping[str, Any] | None = None,
        conflicts: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.current = dict(current or {})
        self.changed = dict(changed or {})
        # Fields both people changed differently: {field: {"base", "theirs", "mine"}}.
        self.conflicts = dict(conflicts or {})


class WorkerStopped(Exception):
    """A job's worker died while running it (killed, or out of memory)."""
