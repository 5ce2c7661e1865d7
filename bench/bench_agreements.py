"""Re-ranking after an agreement expires, against re-ranking after any other edit, same run.

A synthetic portfolio (10,000 projects by default) on an SQLite file gets one agreement record
per dataset its signed links use, each expiring on its own day, and its signed links rest on
them. Then, alternately:

- *edit*: a project's cost changes through the service (any other portfolio write);
- *expiry*: the date passes one agreement's expiry day: the daily sweep records it expired
  (the scheduled revision bump, DESIGN.md "Data-sharing agreements").

Each is followed by the stored re-ranking of the default profile (`ensure_ranking`, as a page
or the CLI asks for it); the time from the write to the stored run is measured, and the ratio
expiry / edit is printed. The rule: no slower than any other edit (ratio about 1).

    python -m bench.bench_agreements                  # 10,000 projects, 3 rounds
    python -m bench.bench_agreements --projects 2000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402


def attach_agreements(db: Any, rounds: int) -> list[date]:
    """Give each dataset with signed links an agreement record; return the expiry days used."""
    from sqlalchemy import func, insert, select, update

    from portfolio.models import AgreementDataset, Dataset, ProjectDataset, SharingAgreement

    today = date.today()
    with db.write() as session:
        used = session.execute(
            select(ProjectDataset.dataset_id, func.count())
            .where(ProjectDataset.agreement == "signed")
            .group_by(ProjectDataset.dataset_id).order_by(func.count().desc())).all()
        codes = dict(session.execute(select(Dataset.id, Dataset.code)).all())
        days = []
        for i, (dataset_id, _n) in enumerate(used):
            # The busiest datasets' agreements expire first, one a round; the rest much later.
            expires = today + timedelta(days=1 + i if i < rounds else 3650)
            days.append(expires)
            agreement_id = session.execute(insert(SharingAgreement).values(
                code=f"dsa-{codes[dataset_id]}"[:120], title=f"Sharing {codes[dataset_id]}",
                purpose="", dpia_reference="", status="signed", document_url="",
                signed_on=today - timedelta(days=365), expires_on=expires, version=1,
                created_at=func.now(), updated_at=func.now(),
            ).returning(SharingAgreement.id)).scalar_one()
            session.execute(insert(AgreementDataset).values(agreement_id=agreement_id,
                                                            dataset_id=dataset_id))
            session.execute(update(ProjectDataset).where(
                ProjectDataset.dataset_id == dataset_id, ProjectDataset.agreement == "signed"
            ).values(sharing_agreement_id=agreement_id, agreement="none"))
    return sorted(days)[:rounds]


def timed_rerank(db: Any) -> float:
    """Return the seconds until the current revision's ranking is stored."""
    from portfolio.services import ranking

    started = time.perf_counter()
    ranking.ensure_ranking(db, None)
    return time.perf_counter() - started


def edit_once(db: Any, round_: int) -> float:
    """Change one project's cost, then re-rank; return write plus re-rank seconds."""
    from sqlalchemy import select

    from portfolio.actors import SYSTEM
    from portfolio.models import Project
    from portfolio.services import projects

    started = time.perf_counter()
    with db.write() as session:
        slug, version, cost = session.execute(
            select(Project.slug, Project.version, Project.cost_gbp).order_by(Project.id)
            .offset(round_)).first()
        projects.patch_project(session=session, actor=SYSTEM, slug=slug,
                               data={"cost_gbp": cost + 1000, "version": version})
    return time.perf_counter() - started + timed_rerank(db)


def expire_once(db: Any, expiry: date) -> float:
    """Let the date pass one agreement's expiry, sweep, then re-rank; return the seconds."""
    from portfolio.services import agreements

    agreements._swept.clear()
    started = time.perf_counter()
    agreements.expire_due_once_a_day(db, today=expiry + timedelta(days=1))
    return time.perf_counter() - started + timed_rerank(db)


def run(projects: int, rounds: int) -> dict[str, Any]:
    """Seed, attach agreements, and time both kinds of change alternately."""
    from portfolio.db import Database
    from portfolio.services import agreements
    from portfolio.settings import Settings

    with common.fresh_database("sqlite") as url:
        prepared = common.prepare_database(url, projects)
        db = Database(Settings(database_url=url, secret_key=common.BENCH_SECRET))
        expiries = attach_agreements(db, rounds)
        # The sweep on the first read must not expire anything early: today is before them all.
        agreements._swept.clear()
        first = timed_rerank(db)
        edits, expiries_s = [], []
        for i, expiry in enumerate(expiries):
            edits.append(edit_once(db, i))
            expiries_s.append(expire_once(db, expiry))
        db.dispose()
    ratio = statistics.median(expiries_s) / statistics.median(edits)
    return {"projects": projects, "rounds": rounds, **prepared, "first_rank_s": first,
            "edit_s": edits, "expiry_s": expiries_s,
            "edit_median_s": statistics.median(edits),
            "expiry_median_s": statistics.median(expiries_s), "ratio": ratio,
            "machine": common.machine_info()}


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = run(args.projects, args.rounds)
    print(f"{result['projects']:,} projects, {result['rounds']} rounds")
    print(f"re-rank after an edit:   median {result['edit_median_s']:.2f} s "
          f"({', '.join(f'{s:.2f}' for s in result['edit_s'])})")
    print(f"re-rank after an expiry: median {result['expiry_median_s']:.2f} s "
          f"({', '.join(f'{s:.2f}' for s in result['expiry_s'])})")
    print(f"ratio expiry / edit: {result['ratio']:.2f} (no slower: about 1 or less)")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, default=str))


if __name__ == "__main__":
    main()
