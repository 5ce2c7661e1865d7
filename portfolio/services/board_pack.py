"""What a board pack holds: weights, top candidates and why, the roadmap, blockers, changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from portfolio.db import Database
from portfolio.services import agreement_pages, history, planning, profiles, ranking
from portfolio.services import roadmap as roadmap_service
from portfolio.services.common import consistent_read
from portfolio.services.frames import load_profile
from scoring.ranking import CANDIDATES
from scoring.weights import shares_of_dimension

TOP = 10


def _why(row: dict[str, Any]) -> str:
    """Say in a line why a project ranks where it does: its largest contributions and more."""
    parts = sorted(row["contributions"].items(), key=lambda kv: -kv[1])[:3]
    text = ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in parts if v > 0)
    if row.get("unlock_value"):
        text += f"; unlocks {row['unlock_value']:.1f} points of waiting work"
    if row.get("effective_mandatory"):
        text += "; mandatory, or needed by mandatory work"
    return text


def board_pack_data(db: Database, *, budget: float, today: date, profile: str | None = None,
                    horizon: int = roadmap_service.DEFAULT_HORIZON,
                    capacity: float | None = None,
                    discount_rate: float = roadmap_service.DEFAULT_DISCOUNT_RATE,
                    wall_clock_seconds: float = 60.0, force_in: tuple[str, ...] = (),
                    force_out: tuple[str, ...] = (),
                    deadlines: dict[str, date] | None = None) -> dict[str, Any]:
    """Gather a board pack's contents at today's portfolio for a profile and a budget."""
    run, rows = ranking.ranked_rows(db, profile=profile)
    with db.read() as session:
        consistent_read(session)
        stored = load_profile(session, run.profile)
        dimension_of = profiles.criterion_dimensions(session)
    # The candidates view (idea, proposed, approved): paused work is committed, though the plan
    # and the roadmap may restart it.
    candidates = [r for r in rows if r["view"] == CANDIDATES]
    top = [{**r, "why": _why(r)} for r in candidates[:TOP]]
    blocked = [r for r in candidates if r["blocked_by"]]
    plan = roadmap_service.roadmap(db, budget=budget, horizon=horizon, profile=run.profile,
                                   capacity=capacity, discount_rate=discount_rate, today=today,
                                   wall_clock_seconds=wall_clock_seconds, force_in=force_in,
                                   force_out=force_out, deadlines=deadlines)
    return {
        "today": today.isoformat(), "profile": run.profile, "revision": run.revision,
        "description": stored.description,
        "dimension_weights": dict(sorted(stored.weights.dimension_weights.items())),
        # Shares of their dimension: what the engine reads, whichever way a version stored them.
        "criterion_weights": dict(sorted(shares_of_dimension(
            stored.weights.criterion_weights, dimension_of).items())),
        "top": top, "blocked": blocked[:20], "blocked_count": len(blocked),
        "plumbing": planning.plumbing(db, profile=run.profile, top=TOP),
        "roadmap": plan, "changes": history.changes_since_last_snapshot(db),
        "over_time": history.portfolio_over_time(db),
        "agreements": agreement_pages.agreements_for_board(db, today=today),
    }
