"""Edits while a large ranking is stored on SQLite: p99 edit latency and 503s, against a baseline.

One `portfolio serve` worker over an SQLite file holding a synthetic portfolio takes API edits
(`PUT /api/v1/projects/{slug}` from the version just read), one after another, in three
phases measured in the same run:

1. baseline: edits with no re-ranking;
2. batched: edits while another process re-ranks and stores the whole portfolio again and again
   the way the app does (rows in short batches, the lock let go between them);
3. one transaction: the same, storing each run's rows in one transaction (how runs were stored
   before; `--skip-one-transaction` leaves it out at 100,000 projects, where it takes minutes).

Only the PUT is timed. An error is any 5xx (a 503 "busy" included), a timeout or a refused
connection; lost writes are accepted edits (200) missing from the audit trail.

    python -m bench.bench_edits_under_ranking                 # 10,000 projects
    python -m bench.bench_edits_under_ranking --projects 100000
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402


def rank_loop(database_url: str, one_transaction: bool, stop: Any, stored: Any,
              store_seconds: Any, held_seconds: Any) -> None:
    """Re-rank and store the portfolio until told to stop (a worker's background job)."""
    from portfolio.db import Database
    from portfolio.services import ranking
    from portfolio.settings import Settings

    pause = ranking._let_writers_in
    if one_transaction:
        ranking.STORE_BATCH = 10**9
        ranking.STORE_HOLD_SECONDS = 10**9

    def let_writers_in(db: Any, held: float, freed: float) -> None:
        # How long each batch held the write lock: what a waiting edit waits for at most.
        held_seconds.append(held)
        if not one_transaction:
            pause(db, held, freed)

    ranking._let_writers_in = let_writers_in
    db = Database(Settings(database_url=database_url, secret_key=common.BENCH_SECRET))
    store = ranking._store_rows

    def timed_store(*args: Any) -> None:
        started = time.perf_counter()
        store(*args)
        store_seconds.append(time.perf_counter() - started)

    ranking._store_rows = timed_store
    while not stop.is_set():
        ranking._compute_and_store(db, None)
        stored.value += 1
    db.dispose()


def edit_phase(base: str, token: str, slugs: list[str], fields: list[str], *,
               edits: int | None = None, until: Any = None, seed: int = 0) -> dict[str, Any]:
    """Edit projects one after another; return the PUT latencies and the outcomes."""
    rng = random.Random(seed)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30.0, headers=headers) as client:
        n = 0
        while (edits is not None and n < edits) or (until is not None and not until()):
            n += 1
            slug = rng.choice(slugs)
            try:
                project = client.get(f"/api/v1/projects/{slug}").json()
                body = {k: project[k] for k in fields if k in project and k != "owner"}
                body.update(owner=project["organisation"], description=f"edit {n}",
                            version=project["version"])
                started = time.perf_counter()
                response = client.put(f"/api/v1/projects/{slug}", json=body)
                latencies.append(time.perf_counter() - started)
                outcomes[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
    return {"latencies": latencies, "outcomes": outcomes}


def audit_updates(database_url: str) -> int:
    """Count project updates in the audit trail."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM audit_event WHERE entity = 'project' "
                                  "AND action = 'update'")).scalar_one()
    engine.dispose()
    return int(found)


def under_ranking(base: str, url: str, token: str, slugs: list[str], fields: list[str], *,
                  one_transaction: bool, runs: int, seed: int) -> dict[str, Any]:
    """Edit while another process stores rankings, until it has stored `runs` of them."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    stored = context.Value("i", 0)
    manager = context.Manager()
    store_seconds = manager.list()
    held_seconds = manager.list()
    process = context.Process(target=rank_loop, args=(url, one_transaction, stop, stored,
                                                      store_seconds, held_seconds), daemon=True)
    process.start()
    try:
        result = edit_phase(base, token, slugs, fields, seed=seed,
                            until=lambda: stored.value >= runs or not process.is_alive())
    finally:
        stop.set()
        process.join(timeout=600)
    result["runs_stored"] = stored.value
    result["store_seconds"] = list(store_seconds)
    result["held_seconds"] = list(held_seconds)
    manager.shutdown()
    if process.exitcode not in (0, None):
        raise RuntimeError(f"the ranking process failed (exit {process.exitcode})")
    return result


def row(name: str, phase: dict[str, Any], baseline_p99: float | None) -> list[str]:
    """Return one printed row of a phase."""
    summary = common.summary_ms(phase["latencies"]) if phase["latencies"] else {}
    errors = sum(n for k, n in phase["outcomes"].items() if not k.isdigit() or int(k) >= 500)
    p99 = common.percentile(phase["latencies"], 99) * 1000 if phase["latencies"] else None
    ratio = f"{p99 / baseline_p99:.1f}x" if p99 and baseline_p99 else "-"
    store = phase.get("store_seconds") or []
    held = [h * 1000 for h in phase.get("held_seconds") or []]
    slow = sum(1 for s in phase["latencies"] if s > 0.5)
    return [name, str(len(phase["latencies"])), common.fmt_ms(summary.get("p50_ms")),
            common.fmt_ms(summary.get("p95_ms")), common.fmt_ms(p99),
            common.fmt_ms(summary.get("max_ms")), ratio, str(slow), str(errors),
            str(phase.get("runs_stored", "-")),
            f"{sum(store) / len(store):.1f} s" if store else "-",
            f"{common.fmt_ms(common.percentile(held, 99))} / {common.fmt_ms(max(held))}"
            if held else "-"]


def main() -> None:
    """Run the three phases and print edit latency against the baseline."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=10_000, help="portfolio size")
    parser.add_argument("--baseline-edits", type=int, default=300,
                        help="edits in the baseline phase")
    parser.add_argument("--runs", type=int, default=3,
                        help="rankings stored during each phase under re-ranking")
    parser.add_argument("--skip-one-transaction", action="store_true",
                        help="leave out the phase storing each run in one transaction")
    args = parser.parse_args()
    from portfolio.schemas import ProjectFields

    fields = list(ProjectFields.model_fields)
    with common.fresh_database("sqlite") as url:
        print(f"seeding {args.projects:,} projects ...", flush=True)
        common.prepare_database(url, args.projects)
        common.run_cli(["rank", "--top", "1"], url)  # a stored ranking to start from
        token = common.make_token(url, "cdo")
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            slugs = list(conn.execute(text("SELECT slug FROM project ORDER BY id LIMIT 2000"))
                         .scalars())
        engine.dispose()
        before = audit_updates(url)
        with common.portfolio_server(url) as base:
            phases = {"baseline": edit_phase(base, token, slugs, fields,
                                             edits=args.baseline_edits, seed=1)}
            print("baseline done; editing under re-rankings (batched) ...", flush=True)
            phases["batched"] = under_ranking(base, url, token, slugs, fields,
                                              one_transaction=False, runs=args.runs, seed=2)
            if not args.skip_one_transaction:
                print("editing under re-rankings (one transaction) ...", flush=True)
                phases["one transaction"] = under_ranking(base, url, token, slugs, fields,
                                                          one_transaction=True, runs=args.runs,
                                                          seed=3)
        accepted = sum(p["outcomes"]["200"] for p in phases.values())
        lost = accepted - (audit_updates(url) - before)
    base_p99 = common.percentile(phases["baseline"]["latencies"], 99) * 1000
    print(f"\nEdits under a re-ranking of {args.projects:,} projects on SQLite "
          f"(one worker, sequential API edits; {common.machine_info()['cores']} cores)")
    common.print_table(
        ["phase", "edits", "p50 ms", "p95 ms", "p99 ms", "max ms", "p99 x baseline",
         "edits > 500 ms", "errors (5xx, timeouts)", "runs stored", "store time per run",
         "lock held per batch p99 / max ms"],
        [row(name, phase, base_p99 if name != "baseline" else None)
         for name, phase in phases.items()])
    print(f"accepted edits {accepted}, lost writes {lost} (must be 0)")
    print("A waiting edit waits at most for one batch's hold of the write lock (plus SQLite's "
          "busy-handler polling); 'one transaction' holds it for every row of a run at once.")


if __name__ == "__main__":
    main()
