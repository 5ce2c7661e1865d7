"""The API's shared contract: the error every refusal answers and the statuses routes declare."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorOut(BaseModel):
    """A refused request: a sentence, and what the refusal is about when there is more to say."""

    model_config = ConfigDict(extra="allow")

    detail: str
    # 422: one plain-English message per field (`input` when no one field is at fault).
    errors: dict[str, str] | None = None
    # 422 for a dependency: the cycle it would close, as project slugs.
    cycle: list[str] | None = None
    # 409 for a stale edit: the record as it is now, what changed since, and clashing fields.
    current: dict[str, Any] | None = None
    changed: dict[str, Any] | None = None
    conflicts: dict[str, Any] | None = None
    # 503: the kind of database fault (busy, unavailable, read-only...).
    fault: str | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# What any /api/v1 route may answer besides success; routers declare these once.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("A body that is not the JSON (or form) the operation takes."),
    401: _error("No valid API token (send `Authorization: Bearer <token>`)."),
    403: _error("The token's user may not do this; `detail` names who may."),
    404: _error("A project, dataset, profile or other record named in the request does not "
                "exist."),
    409: _error("A stale edit (`current`, `changed`, `conflicts`) or a weight profile that "
                "cannot rank."),
    413: _error("An uploaded file is larger than the limit."),
    422: _error("Input that breaks a rule: `errors` has a message per field."),
    429: _error("Too many requests of this kind; try again later."),
    503: _error("The database is busy or unavailable; `Retry-After` says when to try again."),
}
