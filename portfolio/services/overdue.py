"""Overdue work: a project still in progress after its planned end date.

The rule is in docs/DESIGN.md ("Overdue work"). It depends on the day, not on the portfolio's
revision, so it is worked out when a page or an answer is made, never stored.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlmodel import Session, col, select

from portfolio.enums import ProjectStatus
from portfolio.models import Project


def is_overdue(status: str, end_date: date | None, *, today: date) -> bool:
    """Tell whether a project is overdue on a day: in progress, its planned end day passed."""
    return status == ProjectStatus.IN_PROGRESS and end_date is not None and end_date < today


def end_dates(session: Session, slugs: Collection[str]) -> dict[str, date | None]:
    """Return these projects' planned end dates by slug."""
    return dict(session.execute(select(col(Project.slug), col(Project.end_date))
                                .where(col(Project.slug).in_(sorted(slugs)))).all())
