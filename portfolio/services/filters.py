"""Filters over closed lists: a value that names nothing is said plainly, never an empty list."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel import Session, col, select

from portfolio.enums import (
    Access,
    AgreementStanding,
    AgreementStatus,
    ProjectStatus,
    ReadinessLevel,
    Theme,
)
from portfolio.errors import Invalid
from portfolio.models import Organisation


@dataclass(frozen=True)
class Closed:
    """What a filter's value names (theme, organisation...) and the values it may take."""

    noun: str
    values: Collection[str]
    # 63 organisations are too many to list in a message; the form's list offers them.
    listed: bool = True
    # Why a value people may expect is not one, by value.
    hints: Mapping[str, str] = field(default_factory=dict)

    def message(self, given: str) -> str:
        """Say that no such value exists, and, for a short list, which do."""
        given = str(given)  # an enum member is named by its value, not its repr
        if "\x00" in given:
            # As PostgreSQL's refusal of it says (portfolio/db.py), on every back-end alike.
            return "text must not contain the NUL character (U+0000)"
        if not self.listed:
            return f"There is no {self.noun} with the code {given!r} in the portfolio."
        choices = [str(v) for v in self.values]
        allowed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else \
            "".join(choices)
        hint = f"{self.hints[given]}; " if given in self.hints else ""
        return f"There is no {self.noun} called {given!r}: {hint}choose one of {allowed}."


def of_enum(noun: str, enum: type[StrEnum]) -> Closed:
    """Return the closed list of an enum's values."""
    return Closed(noun, tuple(member.value for member in enum))


THEMES = of_enum("theme", Theme)
PROJECT_STATUSES = of_enum("status", ProjectStatus)
# Agreements are filtered on their standing today, which is never "terminated".
AGREEMENT_STANDINGS = Closed(
    "standing", tuple(member.value for member in AgreementStanding),
    hints={AgreementStatus.TERMINATED.value: "a terminated agreement stands as expired"})
ACCESS_LEVELS = of_enum("access level", Access)
READINESS_LEVELS = of_enum("readiness level", ReadinessLevel)


def organisations(codes: Iterable[str]) -> Closed:
    """Return the closed list of the organisation codes given (a page's loaded choices)."""
    return Closed("organisation", frozenset(codes), listed=False)


def organisations_named(session: Session, code: str | None) -> Closed:
    """Return the organisations a filter may name, reading only the one it names."""
    # A code holding NUL names nothing, and PostgreSQL could not even be asked.
    found = session.exec(select(col(Organisation.code)).where(
        col(Organisation.code) == code)).all() if code and "\x00" not in code else []
    return organisations(found)


def sift(**given: tuple[Closed, str | None]) -> tuple[dict[str, str | None], dict[str, str]]:
    """Split filters into the values to apply and a message for each value naming nothing.

    An empty value is no filter; an unknown one is dropped from what is applied, so a page can
    show the list without it beside the message.
    """
    kept: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name, (closed, value) in given.items():
        if value and value not in closed.values:
            errors[name] = closed.message(value)
            kept[name] = None
        else:
            kept[name] = value or None
    return kept, errors


def sift_weights(**given: str | None) -> tuple[dict[str, float | None], dict[str, str]]:
    """Split what-if weights into the numbers to apply and a message for each not 0 to 100.

    An empty value is no weight; a refused one is dropped, as an unknown filter value is, so
    the page ranks without it beside the message.
    """
    kept: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name, value in given.items():
        text = (value or "").strip()
        try:
            number = float(text) if text else None
        except ValueError:
            number = math.nan
        # NaN and infinities fail the comparison too.
        if number is not None and not 0 <= number <= 100:
            errors[name] = f"Enter a weight from 0 to 100 (you entered {value!r})."
            number = None
        kept[name] = number
    return kept, errors


# The largest rank a page address may start after: past it no database compares integers.
LARGEST_RANK = 2**62


def sift_after(value: str | None) -> tuple[int, dict[str, str]]:
    """Return the rank a list's page starts after (0: the first page), and why when it is none.

    The address's `after` comes from the page's own links; one edited by hand that names no
    rank shows the first page, said in the summary, as an unknown filter is said beside it.
    """
    text = (value or "").strip()
    if not text:
        return 0, {}
    if text.isascii() and text.isdigit() and int(text) <= LARGEST_RANK:
        return int(text), {}
    return 0, {"form": f"The address asked for the page after rank {value!r}, which is no "
                       "rank: this is the first page."}


def require_known(**given: tuple[Closed, str | None]) -> dict[str, str | None]:
    """Return the filters to apply, or refuse (422) every one naming nothing, by name."""
    kept, errors = sift(**given)
    if errors:
        raise Invalid(errors)
    return kept


def require_organisation(session: Session, code: str | None, *,
                         name: str = "organisation") -> None:
    """Refuse (422) an organisation filter whose code names no organisation."""
    require_known(**{name: (organisations_named(session, code), code)})


def statuses_in_view(view: str) -> Closed:
    """Return the statuses a ranking view holds ("all": both views)."""
    from scoring.ranking import VIEW_OF_STATUS  # pure, but kept out of the filters' imports

    return Closed("status in this view", tuple(
        status for status, holder in VIEW_OF_STATUS.items() if view in (holder, "all")))
