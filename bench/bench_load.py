"""Load the app (2 workers, PostgreSQL) with concurrent readers and writers; check the audit.

Simulated users mix backlog pages, project pages and API lists with edits
(`PUT /api/v1/projects/{slug}` from the version just read, as CDO users with bearer tokens).
A 409 conflict is an expected answer; an error is any 5xx, timeout or connection failure.
Afterwards the audit trail must hold exactly one project update per accepted (200) edit. Each
edit's text is its own (user and count): an edit whose text another user had already saved
would answer 200 with nothing to write, and nothing to audit.

    python -m bench.bench_load --users 20 --seconds 60 --projects 2000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

THEMES = ("housing", "transport", "health_social_care", "cost_of_living")
REQUEST_TIMEOUT_S = 30.0
# Share of the reads a simulated user picks; edits take `edit_share` of all actions.
READS = (("backlog", 0.40), ("project_page", 0.30), ("api_list", 0.30))


def action_mix(edit_share: float) -> tuple[list[str], list[float]]:
    """Return the actions and their weights for a share of edits."""
    actions = [a for a, _ in READS] + ["edit"]
    weights = [w * (1 - edit_share) for _, w in READS] + [edit_share]
    return actions, weights


class Tally:
    """Latencies and outcomes of every request of a run."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.accepted_writes = 0
        self.conflicts = 0
        self.error_samples: list[str] = []

    def error(self, kind: str, detail: str) -> None:
        """Count an error and keep a few examples."""
        self.errors[kind] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{kind}: {detail[:300]}")


async def call(client: httpx.AsyncClient, tally: Tally, label: str, method: str, url: str,
               **kwargs: Any) -> httpx.Response | None:
    """Send one request, timing it under a label and classifying its outcome."""
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        tally.error("timeout", f"{method} {url}: {exc!r}")
        return None
    except httpx.TransportError as exc:
        tally.error("connection", f"{method} {url}: {exc!r}")
        return None
    tally.latencies.setdefault(f"{method} {label}", []).append(time.perf_counter() - started)
    tally.statuses[f"{method} {response.status_code}"] += 1
    if response.status_code >= 500:
        tally.error("5xx", f"{method} {url} -> {response.status_code}: {response.text}")
    return response


def edit_body(project: dict[str, Any], fields: list[str], n: str) -> dict[str, Any]:
    """Return a full edit of a project read from the API, from the version read."""
    body = {k: project[k] for k in fields if k in project and k != "owner"}
    body["owner"] = project["organisation"]
    body["description"] = f"load-test edit {n}"
    body["version"] = project["version"]
    return body


async def user(client: httpx.AsyncClient, tally: Tally, rng: random.Random, token: str,
               slugs: list[str], hot: list[str], last_after: int, fields: list[str],
               deadline: float, edit_share: float) -> None:
    """One simulated user: pick an action, send it, repeat until the deadline."""
    auth = {"Authorization": f"Bearer {token}"}
    page = {**auth, "Accept": "text/html"}
    actions, weights = action_mix(edit_share)
    n = 0
    while time.monotonic() < deadline:
        action = rng.choices(actions, weights)[0]
        n += 1
        if action == "backlog":
            params = rng.choice([{}, {"theme": rng.choice(THEMES)},
                                 {"after": rng.randrange(0, max(1, last_after))}])
            await call(client, tally, "/backlog", "GET", "/backlog", params=params,
                       headers=page)
        elif action == "project_page":
            await call(client, tally, "/projects/{slug}", "GET",
                       f"/projects/{rng.choice(slugs)}", headers=page)
        elif action == "api_list":
            url, params = rng.choice([
                ("/api/v1/projects", {"theme": rng.choice(THEMES)}),
                ("/api/v1/backlog", {"top": 50}),
                ("/api/v1/organisations", {}),
            ])
            await call(client, tally, url, "GET", url, params=params, headers=auth)
        else:
            slug = rng.choice(hot)
            read = await call(client, tally, "/api/v1/projects/{slug}", "GET",
                              f"/api/v1/projects/{slug}", headers=auth)
            if read is None or read.status_code != 200:
                continue
            # The text names this user (its own generator) and the count: no two edits alike.
            body = edit_body(read.json(), fields, f"{id(rng)}-{n}")
            response = await call(client, tally, "/api/v1/projects/{slug}", "PUT",
                                  f"/api/v1/projects/{slug}", json=body, headers=auth)
            if response is None:
                continue
            if response.status_code == 200:
                tally.accepted_writes += 1
            elif response.status_code == 409:
                tally.conflicts += 1
            elif response.status_code < 500:
                tally.unexpected[f"PUT {response.status_code}"] += 1
                if len(tally.error_samples) < 10:
                    tally.error_samples.append(f"PUT {response.status_code}: "
                                               f"{response.text[:300]}")


def audit_updates(database_url: str, after_id: int) -> int:
    """Count project updates in the audit trail with an id above a mark."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM audit_event WHERE entity = 'project' "
                "AND action = 'update' AND id > :mark"), {"mark": after_id}).scalar_one())
    finally:
        engine.dispose()


def audit_mark(database_url: str) -> int:
    """Return the highest audit event id so far."""
    return _max_id(database_url, "audit_event")


def _max_id(database_url: str, table: str) -> int:
    """Return the highest id of a table (ids come from a sequence, so deltas count inserts)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
                       .scalar_one())
    finally:
        engine.dispose()


def ranking_runs_since(database_url: str, mark: int) -> dict[str, Any]:
    """Return how many ranking runs were stored after a mark, and the newest one's time."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            newest = conn.execute(text(
                "SELECT id, seconds FROM ranking_run ORDER BY id DESC LIMIT 1")).first()
    finally:
        engine.dispose()
    return {"ranking_runs_stored": (int(newest[0]) - mark) if newest else 0,
            "last_ranking_engine_s": float(newest[1]) if newest else None}


async def drive(base: str, tokens: list[str], slugs: list[str], hot: list[str],
                last_after: int, users: int, seconds: float, seed: int,
                edit_share: float) -> Tally:
    """Run the simulated users against a base URL for a number of seconds."""
    from portfolio.schemas import ProjectFields

    fields = list(ProjectFields.model_fields)
    tally = Tally()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S,
                                 limits=limits) as client:
        deadline = time.monotonic() + seconds
        tasks = [user(client, tally, random.Random(seed + i), tokens[i % len(tokens)], slugs,
                      hot, last_after, fields, deadline, edit_share) for i in range(users)]
        # Bounded: a request still in flight at the deadline has its own timeout.
        await asyncio.wait_for(asyncio.gather(*tasks), seconds + 2 * REQUEST_TIMEOUT_S + 10)
    return tally


def phase(tally: Tally, elapsed: float) -> dict[str, Any]:
    """Return the figures of one load phase."""
    every = [d for durations in tally.latencies.values() for d in durations]
    writes = [d for label, durations in tally.latencies.items() if label.startswith("PUT")
              for d in durations]
    reads = [d for label, durations in tally.latencies.items() if label.startswith("GET")
             for d in durations]
    return {
        "elapsed_s": elapsed, "responses": len(every),
        "throughput_rps": len(every) / elapsed,
        "all": common.summary_ms(every), "read": common.summary_ms(reads),
        "write": common.summary_ms(writes),
        "by_request": {label: common.summary_ms(d) for label, d in
                       sorted(tally.latencies.items())},
        "accepted_writes": tally.accepted_writes, "conflicts_409": tally.conflicts,
        "errors": sum(tally.errors.values()), "errors_by_kind": dict(tally.errors),
        "unexpected_4xx": dict(tally.unexpected), "statuses": dict(tally.statuses),
        "error_samples": tally.error_samples,
    }


def run(users: int = 20, seconds: float = 60, projects: int = 2000, hot_projects: int = 10,
        writers: int = 4, edit_share: float = 0.15, baseline_seconds: float = 0,
        seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Seed PostgreSQL, serve with 2 workers, drive the load; return the figures."""
    log = print if verbose else (lambda *_a, **_k: None)
    report: dict[str, Any] = {"users": users, "seconds": seconds, "projects": projects,
                              "workers": 2, "database": "postgresql",
                              "edit_share": edit_share}
    with common.fresh_database("postgresql") as url:
        log(f"[load] PostgreSQL {projects:,} projects: migrating and seeding ...", flush=True)
        report.update(common.prepare_database(url, projects, seed=1))
        tokens = [common.make_token(url, "cdo") for _ in range(max(1, writers))]
        with common.portfolio_server(url, workers=2) as base:
            with httpx.Client(base_url=base, timeout=600,
                              headers={"Authorization": f"Bearer {tokens[0]}"}) as client:
                started = time.perf_counter()
                warm = client.get("/api/v1/backlog", params={"top": 1})
                report["first_ranking_s"] = time.perf_counter() - started
                warm.raise_for_status()
                listed = client.get("/api/v1/projects")
                listed.raise_for_status()
                slugs = sorted(p["slug"] for p in listed.json())
                ranked = client.get("/api/v1/backlog").json()
            last_after = max(0, len(ranked) - 50)
            hot = random.Random(seed).sample(slugs, min(hot_projects, len(slugs)))
            report["hot_projects"] = len(hot)
            if baseline_seconds > 0:
                log(f"[load] read-only baseline: {users} users for {baseline_seconds:.0f} s "
                    "...", flush=True)
                started = time.perf_counter()
                tally = asyncio.run(drive(base, tokens, slugs, hot, last_after, users,
                                          baseline_seconds, seed + 1000, 0.0))
                report["read_only"] = phase(tally, time.perf_counter() - started)
            mark = audit_mark(url)
            run_mark = _max_id(url, "ranking_run")
            log(f"[load] {users} users for {seconds:.0f} s against 2 workers, "
                f"{edit_share:.0%} edits (first ranking {report['first_ranking_s']:.1f} s) "
                "...", flush=True)
            started = time.perf_counter()
            tally = asyncio.run(drive(base, tokens, slugs, hot, last_after, users, seconds,
                                      seed, edit_share))
            report.update(phase(tally, time.perf_counter() - started))
        report["audit_updates"] = audit_updates(url, mark)
        report.update(ranking_runs_since(url, run_mark))
    report["audit_matches"] = report["audit_updates"] == report["accepted_writes"]
    report["total_errors"] = report["errors"] + report.get("read_only", {}).get("errors", 0)
    if verbose:
        print_report(report)
    return report


def print_phase(title: str, r: dict[str, Any]) -> None:
    """Print the latency table of one phase."""
    print(f"\n{title} (elapsed {r['elapsed_s']:.1f} s): {r['responses']} responses, "
          f"{r['throughput_rps']:.1f} req/s")
    rows = [[name, r[name]["n"], common.fmt_ms(r[name]["p50_ms"]),
             common.fmt_ms(r[name]["p95_ms"]), common.fmt_ms(r[name]["max_ms"])]
            for name in ("all", "read", "write") if r[name]["n"]]
    rows += [[f"  {label}", f["n"], common.fmt_ms(f["p50_ms"]), common.fmt_ms(f["p95_ms"]),
              common.fmt_ms(f["max_ms"])] for label, f in r["by_request"].items()]
    common.print_table(["requests", "n", "p50 ms", "p95 ms", "max ms"], rows)
    print(f"statuses: {r['statuses']}")
    verdict = "OK" if r["errors"] == 0 else "FAILED"
    print(f"*** ERRORS (5xx, timeouts > {REQUEST_TIMEOUT_S:.0f} s, connection): {r['errors']} "
          f"{r['errors_by_kind'] or ''} -> {verdict} ***")
    for sample in r["error_samples"]:
        print(f"    {sample}")


def print_report(r: dict[str, Any]) -> None:
    """Print throughput, latencies, errors and the audit check."""
    print(f"\nLoad: {r['users']} users, {r['projects']:,} projects, PostgreSQL, "
          f"{r['workers']} workers; first ranking {r['first_ranking_s']:.1f} s")
    if "read_only" in r:
        print_phase("Read-only baseline", r["read_only"])
    print_phase(f"Mixed, {r['edit_share']:.0%} edits, {r['seconds']:.0f} s", r)
    print(f"accepted writes (200): {r['accepted_writes']}   conflicts (409, expected): "
          f"{r['conflicts_409']}   other 4xx: {r['unexpected_4xx'] or 0}")
    print(f"ranking runs computed and stored during the mixed phase: "
          f"{r['ranking_runs_stored']} (every accepted edit makes the stored ranking stale; "
          f"the last run's engine time {r['last_ranking_engine_s'] or 0:.2f} s)")
    match = "MATCH" if r["audit_matches"] else "MISMATCH"
    print(f"*** audit_event project updates during the run: {r['audit_updates']}; accepted "
          f"writes: {r['accepted_writes']} -> {match} ***")


def main() -> None:
    """Parse flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent simulated users")
    parser.add_argument("--seconds", type=float, default=60, help="duration of the load")
    parser.add_argument("--projects", type=int, default=2000, help="synthetic projects")
    parser.add_argument("--hot-projects", type=int, default=10,
                        help="projects the edits go to (few: conflicts happen)")
    parser.add_argument("--writers", type=int, default=4, help="CDO users with tokens")
    parser.add_argument("--edit-share", type=float, default=0.15, help="share of edits")
    parser.add_argument("--baseline-seconds", type=float, default=0,
                        help="run a read-only phase of this length first")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the users")
    args = parser.parse_args()
    report = run(args.users, args.seconds, args.projects, args.hot_projects, args.writers,
                 args.edit_share, args.baseline_seconds, args.seed)
    sys.exit(0 if report["total_errors"] == 0 and report["audit_matches"] else 1)


if __name__ == "__main__":
    main()
