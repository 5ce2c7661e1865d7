"""What the agreements pages, the API and the dashboard read: agreements with the value on them.

The value resting on an agreement is read from the current stored ranking (the default
profile), so these pages cost a ranking read, never a recomputation; the "as of" view scores
the portfolio once more with agreements as they will stand on the chosen day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlmodel import col

from portfolio.db import Database
from portfolio.errors import Invalid, NotFound, Unrankable
from portfolio.models import (
    AgreementParty,
    Organisation,
    ProjectDataset,
    SharingAgreement,
)
from portfolio.services import agreements
from portfolio.services.common import consistent_read
from portfolio.services.frames import load_links, load_profile
from portfolio.services.planning import project_values
from portfolio.services.ranking import ensure_ranking, portfolio_frames
from scoring.agreements import standing
from scoring.composite import composite_scores
from scoring.engine import criterion_values

# Furthest ahead an "as of" view may look, in years (further is a typing slip, not a plan).
LONGEST_AHEAD_YEARS = 10


def ten_years_on(day: date) -> date:
    """Return the furthest day an "as of" view may look: the same day ten years on."""
    try:
        return day.replace(year=day.year + LONGEST_AHEAD_YEARS)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + LONGEST_AHEAD_YEARS, day=28)


def current_values(db: Database, *, seen: int | None = None,
                   resting_on_agreements: bool = False) -> dict[str, float]:
    """Return each active project's composite in the current ranking of the default profile.

    With `resting_on_agreements`, only the projects with a dataset link under an agreement:
    the only values the agreements' lists and pages look up. Empty when nothing can be
    ranked yet (no weight profile, or one that cannot rank).
    """
    try:
        run = ensure_ranking(db, None, wait_seconds=db.settings.ranking_wait_seconds, seen=seen)
    except (NotFound, Unrankable):
        return {}
    # Every project's value (100,000 at the largest) took a third of a second of each
    # dashboard, which lists the agreements expiring soon (measured).
    resting = select(col(ProjectDataset.project_id)).where(
        col(ProjectDataset.sharing_agreement_id).is_not(None)) if resting_on_agreements else None
    with db.read() as session:
        found = project_values(session, run, among=resting)
    return {slug: float(v) for slug, v in found.items() if pd.notna(v)}


def agreements_page(db: Database, *, party: str | None = None, status: str | None = None,
                    expiring_within: int | None = None, seen: int | None = None,
                    today: date | None = None) -> dict[str, Any]:
    """Return the filtered agreements with the value resting on each, and the party choices."""
    values = current_values(db, seen=seen, resting_on_agreements=True)
    with db.read() as session:
        rows = agreements.list_agreements(session=session, values=values, party=party,
                                          status=status, expiring_within=expiring_within,
                                          today=today)
        parties = session.execute(
            select(col(Organisation.code), col(Organisation.name)).where(col(Organisation.id).in_(
                select(col(AgreementParty.organisation_id)).distinct()))
            .order_by(col(Organisation.name))).tuples().all()
    return {"agreements": rows, "parties": [{"code": c, "name": n} for c, n in parties]}


def agreement_page(db: Database, *, code: str, seen: int | None = None) -> dict[str, Any]:
    """Return one agreement with its parties, datasets, relying projects and value waiting."""
    values = current_values(db, seen=seen, resting_on_agreements=True)
    with db.read() as session:
        return agreements.get_agreement(session=session, code=code, values=values)


def expiring_soon(db: Database, *, organisation_id: int | None = None,
                  days: int = agreements.EXPIRING_SOON_DAYS,
                  seen: int | None = None) -> list[dict[str, Any]]:
    """Return agreements in force expiring within `days`, soonest first (one party's, if named)."""
    party = None
    if organisation_id is not None:
        with db.read() as session:
            party = session.execute(select(col(Organisation.code))
                                    .where(col(Organisation.id) == organisation_id)).scalar()
        if party is None:
            return []
    return agreements_page(db, party=party, expiring_within=days, seen=seen)["agreements"]


def _scores(frames: Any, links: pd.DataFrame, profile: Any) -> pd.DataFrame:
    """Return each project's composite and readiness with the given links."""
    values, readiness = criterion_values(frames.projects, frames.criteria, frames.levels, links)
    scores = composite_scores(values, list(frames.criteria), profile.weights).scores
    return pd.DataFrame({"composite": scores["composite"].to_numpy(),
                         "readiness": readiness["readiness"].to_numpy()},
                        index=scores.index)


def what_breaks(db: Database, *, as_of: date, today: date | None = None) -> dict[str, Any]:
    """Return what changes if nothing is renewed by a day: agreements lapsed, scores lost.

    Projects are scored as today and with every agreement as it will stand on `as_of`
    (DESIGN.md, "Data-sharing agreements"); the difference is the value put at risk.
    """
    day = today or date.today()
    if as_of < day:
        raise Invalid({"as_of": f"Choose a day from today ({day}) on."})
    if as_of > ten_years_on(day):
        raise Invalid({"as_of": "Look at most ten years ahead."})
    ensure_ranking(db, None)
    with db.read() as session:
        consistent_read(session)
        frames = portfolio_frames(db, session)
        later = load_links(session, as_of)
        profile = load_profile(session, None)
        records: list[SharingAgreement] = list(
            session.execute(select(SharingAgreement)).scalars())
    now = _scores(frames, frames.links, profile)
    then = _scores(frames, later, profile)
    active = frames.projects.set_index("slug")
    active = active[~active["status"].isin(agreements.INACTIVE)]
    lapsing = []
    for record in records:
        before = standing(record.status, record.signed_on, record.expires_on, day)
        after = standing(record.status, record.signed_on, record.expires_on, as_of)
        if before != after:
            lapsing.append({"code": record.code, "title": record.title,
                            "expires_on": record.expires_on, "now": before, "then": after})
    lapsing.sort(key=lambda r: (r["expires_on"] or as_of, r["title"]))
    projects = []
    for slug in active.index:
        a, b = now.loc[slug], then.loc[slug]
        if pd.isna(a["readiness"]) or a["readiness"] == b["readiness"]:
            continue
        projects.append({
            "slug": slug, "title": active.loc[slug, "title"],
            "readiness_now": round(float(a["readiness"]), 2),
            "readiness_then": round(float(b["readiness"]), 2),
            "score_now": None if pd.isna(a["composite"]) else round(float(a["composite"]), 2),
            "score_then": None if pd.isna(b["composite"]) else round(float(b["composite"]), 2),
        })
    projects.sort(key=lambda p: ((p["score_then"] or 0) - (p["score_now"] or 0), p["slug"]))
    lost = sum((p["score_now"] or 0) - (p["score_then"] or 0) for p in projects)
    return {"as_of": as_of, "today": day, "agreements": lapsing, "projects": projects,
            "points_lost": round(lost, 2)}


def agreements_for_board(db: Database, *, today: date, top: int = 10) -> dict[str, Any]:
    """Return the agreements a board should see: expiring within 60 days, and those holding value.

    Holding value: not in force on `today` (drafting or expired) while active projects rest on
    them, most value first.
    """
    values = current_values(db, resting_on_agreements=True)
    with db.read() as session:
        every = agreements.list_agreements(session=session, values=values, today=today)
    soon = [a for a in every if a["standing"] == "signed" and a["days_to_expiry"] is not None
            and 0 <= a["days_to_expiry"] <= agreements.EXPIRING_SOON_DAYS]
    soon.sort(key=lambda a: (a["expires_on"], a["title"]))
    holding = sorted((a for a in every if a["standing"] != "signed" and a["value"] > 0),
                     key=lambda a: (-a["value"], a["title"]))
    return {"expiring": soon, "holding": holding[:top]}
