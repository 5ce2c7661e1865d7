"""Fault injection: what users see when the database goes away, and what survives a kill -9.

Two parts, each printing errors by kind, lost writes (must be 0) and recovery time:

1. **PostgreSQL "restarts" under load.** Restarting the shared PostgreSQL server is not safe
   here (other people use it), so a restart is simulated on a database this benchmark creates:
   new connections to it are refused (`ALLOW_CONNECTIONS false`) and every backend the app
   holds is ended (`pg_terminate_backend`), for `--outage` seconds, several times, while
   simulated users read pages and edit projects through `portfolio serve --workers 2`.
   Every answer is counted by kind (200, 409, 503 with its `detail` kind, other 5xx, transport
   errors); lost writes are accepted edits (200) missing from the audit trail; recovery time is
   from the end of each outage to the first 200 answer to a request sent after it.
2. **kill -9 at random points** of an import (`portfolio import projects`), a ranking store
   (`portfolio rank` after an edit) and a snapshot (`portfolio snapshot create`), on SQLite
   and on PostgreSQL. After each kill: the write is all or nothing (projects, audit events,
   snapshots and complete ranking runs are whole or absent), nothing committed before is lost,
   and recovery time is until the next write through the CLI succeeds.

    python -m bench.bench_faults                 # both parts
    python -m bench.bench_faults --kills 10 --users 12 --seconds 40
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Part 1: PostgreSQL outages under load


def _admin_sql(sql: str) -> list[tuple]:
    """Run one statement on the admin database (autocommit) and return its rows."""
    import psycopg

    with psycopg.connect(common._admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def outage(database: str, seconds: float) -> None:
    """Refuse new connections to one database and end its backends, then allow them again."""
    _admin_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        _admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
        time.sleep(seconds)
    finally:
        _admin_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


class Tally:
    """Every answer of the load, by kind, with its time."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.accepted = 0
        self.answers: list[tuple[float, float, str]] = []  # (sent, answered, kind)

    def note(self, sent: float, response: httpx.Response | None, error: str = "") -> None:
        if response is None:
            kind = f"transport error ({error})"
        elif response.status_code == 503:
            try:
                detail = response.json().get("fault", "?")
            except ValueError:
                detail = "not JSON"
            retry = "Retry-After" if "retry-after" in response.headers else "no Retry-After"
            kind = f"503 {detail} ({retry})"
        else:
            kind = str(response.status_code)
        self.kinds[kind] += 1
        self.answers.append((sent, time.monotonic(), kind))


async def simulated_user(client: httpx.AsyncClient, tally: Tally, rng: random.Random,
                         slugs: list[str], fields: list[str], deadline: float) -> None:
    """Read and edit until the deadline (a third of the actions are edits)."""
    while time.monotonic() < deadline:
        slug = rng.choice(slugs)
        sent = time.monotonic()
        try:
            read = await client.get(f"/api/v1/projects/{slug}")
            tally.note(sent, read)
            if read.status_code != 200 or rng.random() > 0.33:
                if read.status_code != 200:
                    await asyncio.sleep(0.05)
                continue
            project = read.json()
            body = {k: project[k] for k in fields if k in project and k != "owner"}
            body.update(owner=project["organisation"], description=f"fault edit {sent:.3f}",
                        version=project["version"])
            sent = time.monotonic()
            edited = await client.put(f"/api/v1/projects/{slug}", json=body)
            tally.note(sent, edited)
            if edited.status_code == 200:
                tally.accepted += 1
        except httpx.HTTPError as exc:
            tally.note(sent, None, type(exc).__name__)
            await asyncio.sleep(0.05)


def audit_updates(url: str) -> int:
    """Count project updates in the audit trail."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM audit_event WHERE entity = 'project' "
                                  "AND action = 'update'")).scalar_one()
    engine.dispose()
    return int(found)


def postgres_outages(*, users: int, seconds: float, outages: int, outage_s: float,
                     projects: int) -> dict[str, Any]:
    """Run the load with outages on a database of our own; return what users saw."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from portfolio.schemas import ProjectFields

    fields = list(ProjectFields.model_fields)
    with common.fresh_database("postgresql") as url:
        database = str(make_url(url).database)
        common.prepare_database(url, projects)
        tokens = [common.make_token(url, "cdo") for _ in range(min(users, 4))]
        engine = create_engine(url)
        with engine.connect() as conn:
            slugs = list(conn.execute(text("SELECT slug FROM project ORDER BY id LIMIT 500"))
                         .scalars())
        engine.dispose()
        before = audit_updates(url)
        tally = Tally()
        ends: list[float] = []
        with common.portfolio_server(url, workers=2) as base:

            async def run() -> None:
                deadline = time.monotonic() + seconds
                clients = [httpx.AsyncClient(base_url=base, timeout=30.0, headers={
                    "authorization": f"Bearer {tokens[i % len(tokens)]}"}) for i in range(users)]
                tasks = [asyncio.create_task(simulated_user(clients[i], tally,
                                                            random.Random(i), slugs, fields,
                                                            deadline)) for i in range(users)]
                for n in range(outages):
                    await asyncio.sleep(0.7 * seconds / outages)
                    await asyncio.to_thread(outage, database, outage_s)
                    ends.append(time.monotonic())
                    print(f"outage {n + 1} of {outages} over", flush=True)
                await asyncio.gather(*tasks)
                for client in clients:
                    await client.aclose()

            asyncio.run(run())
        lost = tally.accepted - (audit_updates(url) - before)
    recoveries = []
    for end in ends:
        firsts = [answered for sent, answered, kind in tally.answers
                  if sent >= end and kind == "200"]
        recoveries.append(min(firsts) - end if firsts else float("nan"))
    return {"kinds": tally.kinds, "accepted": tally.accepted, "lost": lost,
            "recoveries": recoveries}


# ---------------------------------------------------------------------------------------------
# Part 2: kill -9 at random points


def cli(args: list[str], url: str) -> subprocess.Popen[bytes]:
    """Start a `portfolio` command in its own process group."""
    return subprocess.Popen([common.PORTFOLIO, *args], cwd=common.ROOT,
                            env=common.bench_env(url), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def state(url: str) -> dict[str, int]:
    """Count what the kills may touch."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    queries = {
        "projects": "SELECT count(*) FROM project",
        "project_audit": "SELECT count(*) FROM audit_event WHERE entity = 'project' AND "
                         "action IN ('create', 'update')",
        "snapshots": "SELECT count(*) FROM snapshot",
        "complete_runs": "SELECT count(*) FROM ranking_run WHERE complete",
        "incomplete_runs": "SELECT count(*) FROM ranking_run WHERE NOT complete",
        "rows_of_complete_runs_missing": "SELECT count(*) FROM ranking_run r WHERE r.complete "
            "AND r.rows_stored <> (SELECT count(*) FROM ranking_row w WHERE w.run_id = r.id)",
        "edits": "SELECT count(*) FROM audit_event WHERE action = 'update'",
    }
    with engine.connect() as conn:
        found = {name: int(conn.execute(text(sql)).scalar_one())
                 for name, sql in queries.items()}
    engine.dispose()
    return found


def timed_run(args: list[str], url: str) -> float:
    """Run a command to its end; return its wall time."""
    started = time.monotonic()
    process = cli(args, url)
    if process.wait(timeout=900) != 0:
        raise RuntimeError(f"portfolio {' '.join(args)} failed ({process.returncode})")
    return time.monotonic() - started


def kill_at_random(args: list[str], url: str, full_s: float, rng: random.Random) -> bool:
    """Start a command and SIGKILL it at a random moment of its usual run; True if killed."""
    process = cli(args, url)
    try:
        process.wait(timeout=rng.uniform(0.05, full_s))
        return False  # it finished first
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        return True


def recovery(url: str, tmp: Path, n: int) -> float:
    """Return the seconds until a small write goes through after a kill."""
    started = time.monotonic()
    small = tmp / f"recover-{n}.csv"
    small.write_text(f"slug,title,owner,theme\nrecover-{n},Recovery {n},SYN0000,housing\n")
    deadline = started + 120
    while time.monotonic() < deadline:
        if cli(["import", "projects", str(small)], url).wait(timeout=120) == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    return float("nan")


def kill_runs(kind: str, *, kills: int, projects: int, seed: int) -> dict[str, Any]:
    """Kill an import, a ranking store and a snapshot at random points on one database."""
    rng = random.Random(seed)
    problems: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    recoveries: list[float] = []
    with common.fresh_database(kind) as url, tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        common.prepare_database(url, projects)

        def big_file(n: int) -> str:
            path = tmp / f"import-{n}.csv"
            rows = "".join(f"killed-{n}-{i},Import {n} row {i},SYN0000,housing\n"
                           for i in range(5000))
            path.write_text(f"slug,title,owner,theme\n{rows}")
            return str(path)

        full = {
            "import": timed_run(["import", "projects", big_file(900)], url),
            "snapshot": timed_run(["snapshot", "create", "--label", "timing"], url),
        }
        # The same small write with nothing killed before it: the floor of a recovery time.
        baseline = recovery(url, tmp, 901)  # and it makes the ranking stale
        full["ranking store"] = timed_run(["rank", "--top", "1"], url)
        for n in range(kills):
            for what in ("import", "ranking store", "snapshot"):
                if what == "ranking store":
                    recovery(url, tmp, 1000 + n)  # an edit: the stored ranking is stale
                before = state(url)
                args = {"import": ["import", "projects", big_file(n)],
                        "ranking store": ["rank", "--top", "1"],
                        "snapshot": ["snapshot", "create", "--label", f"kill {n}"]}[what]
                if not kill_at_random(args, url, full[what], rng):
                    continue
                killed[what] += 1
                after = state(url)
                recoveries.append(recovery(url, tmp, n))
                if what == "import" and after["projects"] - before["projects"] not in (0, 5000):
                    problems["import partly written"] += 1
                if (after["project_audit"] - before["project_audit"]
                        != after["projects"] - before["projects"]):
                    problems["projects and audit events disagree"] += 1
                if after["projects"] < before["projects"] or after["snapshots"] < before[
                        "snapshots"] or after["edits"] < before["edits"]:
                    problems["committed writes lost"] += 1
                if after["rows_of_complete_runs_missing"]:
                    problems["a complete ranking run with missing rows"] += 1
        final = state(url)
        # A run left half-stored is never read and is replaced by the next store.
        timed_run(["rank", "--top", "1"], url)
        left = state(url)["incomplete_runs"]
    return {"killed": killed, "problems": problems, "recoveries": recoveries,
            "baseline": baseline,
            "incomplete_left_before_next_store": final["incomplete_runs"],
            "incomplete_left_after_next_store": left}


def main() -> None:
    """Run both parts and print what users saw."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=12, help="simulated users (part 1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration (part 1)")
    parser.add_argument("--outages", type=int, default=3, help="outages during the load")
    parser.add_argument("--outage", type=float, default=0.5, help="seconds of each outage")
    parser.add_argument("--projects", type=int, default=1000, help="portfolio size")
    parser.add_argument("--kills", type=int, default=5, help="kills of each operation")
    parser.add_argument("--skip-outages", action="store_true", help="part 2 only")
    parser.add_argument("--skip-kills", action="store_true", help="part 1 only")
    args = parser.parse_args()
    print(f"machine: {common.machine_info()}")
    if not args.skip_outages:
        found = postgres_outages(users=args.users, seconds=args.seconds, outages=args.outages,
                                 outage_s=args.outage, projects=args.projects)
        print(f"\nPostgreSQL outages ({args.outages} x {args.outage} s: connections refused and "
              f"backends ended) under {args.users} users for {args.seconds:.0f} s, "
              "portfolio serve --workers 2")
        common.print_table(["answer", "count"], sorted(found["kinds"].items()))
        rec = ", ".join(f"{r:.2f} s" for r in found["recoveries"])
        print(f"accepted edits {found['accepted']}, lost writes {found['lost']} (must be 0); "
              f"recovery after each outage: {rec}")
    if not args.skip_kills:
        for kind in ("sqlite", "postgresql"):
            found = kill_runs(kind, kills=args.kills, projects=args.projects, seed=7)
            print(f"\nkill -9 at random points on {kind}: killed "
                  + ", ".join(f"{n} {what}" for what, n in sorted(found["killed"].items())))
            problems = found["problems"] or {"none": 0}
            common.print_table(["problem after a kill", "count"], sorted(problems.items()))
            recs = sorted(r for r in found["recoveries"])
            if recs:
                print(f"recovery (next write through the CLI): median {recs[len(recs) // 2]:.2f}"
                      f" s, max {recs[-1]:.2f} s (the same write with nothing killed before "
                      f"it: {found['baseline']:.2f} s); half-stored ranking runs left: "
                      f"{found['incomplete_left_before_next_store']}, after the next store: "
                      f"{found['incomplete_left_after_next_store']}")


if __name__ == "__main__":
    main()
