"""Three-way merge of an edit made from an older version: base, theirs (now saved) and mine."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from portfolio.errors import Invalid
from portfolio.models import AuditEvent

# Audit actions that change a record's fields and carry the version they made (an agreement
# past its expiry day is recorded expired by the system).
FIELD_CHANGES = ("update", "transition", "expire", "sign")


def three_way(
    base: dict[str, Any], theirs: dict[str, Any], mine: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Merge the fields a user sent (mine) into what is saved now (theirs), per field.

    A field only I changed is applied; a field only they changed keeps their value; both
    changed to the same value needs nothing; both changed differently is a conflict, returned
    with the base, their value and mine. Returns (fields to apply, conflicts).
    """
    applied: dict[str, Any] = {}
    conflicts: dict[str, dict[str, Any]] = {}
    for field, value in mine.items():
        was, now = base.get(field), theirs.get(field)
        if value == now:
            continue
        if now == was:
            applied[field] = value
        elif value != was:
            conflicts[field] = {"base": was, "theirs": now, "mine": value}
    return applied, conflicts


def require_known_version(version: int, current: int, what: str) -> None:
    """Refuse an edit from a version newer than the record's: it never had that version, so
    nothing can be merged from it (it was taken as "nothing changed since" and overwrote)."""
    if version > current:
        raise Invalid({"version": f"{what} is at version {current} and has never been at "
                                  f"version {version}; read it again and edit from its version"})


def values_at(
    session: Session, *, entity: str, entity_id: int | None, version: int,
    current: dict[str, Any],
) -> dict[str, Any]:
    """Return a record's fields as they were at a version, undoing later changes from the audit.

    Every write records the fields it changed before and after with the version it made, so
    undoing the newer events, newest first, gives back what the user saw.
    """
    events = session.exec(
        select(AuditEvent.before, AuditEvent.after)
        .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id,
               col(AuditEvent.action).in_(FIELD_CHANGES))
        .order_by(col(AuditEvent.id).desc())
    ).all()
    values = dict(current)
    for before, after in events:
        if not after or int(after.get("version") or 0) <= version:
            continue
        for key, value in (before or {}).items():
            if key in values and key != "version":
                values[key] = value
    return values


def as_json(value: Any) -> Any:
    """Return a value as the audit trail stores it (dates as ISO text), for comparing."""
    return value.isoformat() if isinstance(value, date) else value
