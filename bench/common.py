"""Shared helpers for the benchmarks: machine info, percentiles, databases and app servers."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PORTFOLIO = str(BIN / "portfolio") if (BIN / "portfolio").exists() else "portfolio"
POSTGRES_ADMIN_URL = os.environ.get(
    "PORTFOLIO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BENCH_SECRET = "bench-secret-key-not-for-production-0123456789abcdef"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine_info() -> dict[str, Any]:
    """Return cores, memory, date, commit, Python and platform of this run."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {**_static_info(), "commit": commit, "uncommitted_changes": _dirty()}


def _dirty() -> list[str] | None:
    """Return tracked files outside bench/ that differ from the commit (read-only git)."""
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "diff", "--name-only", "HEAD", "--", ".",
             ":(exclude)bench"], cwd=ROOT, capture_output=True, text=True, timeout=30,
            check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.split()


def _static_info() -> dict[str, Any]:
    """Return cores, memory, date, Python and platform."""
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_mb": round(memory_kb / 1024),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentile(values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (0-100) with linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return n, p50, p95, mean and max (milliseconds) of durations given in seconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
        "max_ms": max(ms) if ms else math.nan,
    }


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(database_url: str | None = None, **extra: str) -> dict[str, str]:
    """Return an environment for the CLI and the app: development, a fixed secret key."""
    env = dict(os.environ)
    env.update({
        "PORTFOLIO_ENVIRONMENT": "development",
        "PORTFOLIO_SECRET_KEY": BENCH_SECRET,
        "PYTHONUNBUFFERED": "1",
    })
    if database_url:
        env["PORTFOLIO_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(args: Sequence[str], database_url: str, timeout: float = 900) -> float:
    """Run a `portfolio` command against a database; return its wall time; raise on failure."""
    started = time.perf_counter()
    done = subprocess.run(
        [PORTFOLIO, *args], cwd=ROOT, env=bench_env(database_url), capture_output=True,
        text=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"portfolio {' '.join(args)} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout)[-2000:]}")
    return time.perf_counter() - started


def prepare_database(database_url: str, projects: int, seed: int = 1) -> dict[str, float]:
    """Migrate a database and seed a synthetic portfolio; return both wall times."""
    upgrade_s = run_cli(["db", "upgrade"], database_url)
    seed_s = run_cli(["seed", "synthetic", "--projects", str(projects), "--seed", str(seed)],
                     database_url)
    return {"upgrade_s": upgrade_s, "seed_s": seed_s}


def _admin_conninfo() -> str:
    """Return a libpq connection string for the PostgreSQL admin database."""
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN_URL)
    return (f"host={url.host or '127.0.0.1'} port={url.port or 5432} "
            f"user={url.username or 'postgres'} dbname={url.database or 'test'}"
            + (f" password={url.password}" if url.password else ""))


def create_postgres_database(prefix: str = "portfolio_bench") -> str:
    """Create an empty PostgreSQL database on 127.0.0.1 and return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database a benchmark created."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_postgres_database(url: str, prefix: str = "portfolio_bench_copy") -> str:
    """Return a new PostgreSQL database made from another as its template."""
    import psycopg
    from sqlalchemy.engine import make_url

    copy = create_postgres_database(prefix)
    drop_postgres_database(copy)
    name, template = make_url(copy).database, make_url(url).database
    with psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return copy


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """Yield the URL of a new empty database (an SQLite temp file or a PostgreSQL database)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="portfolio-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def sqlite_path(database_url: str) -> str:
    """Return the file path of an SQLite URL."""
    from sqlalchemy.engine import make_url

    path = make_url(database_url).database
    if not path:
        raise ValueError(f"not an SQLite file URL: {database_url}")
    return path


BENCH_PASSWORD = "bench password, not for production"


def sign_in(base_url: str, database_url: str, role: str = "admin") -> httpx.Cookies:
    """Add a user of a role with a password, sign in through /login; return the session cookies.

    Pages are measured as a signed-in browser sees them: session cookie, CSRF token and all.
    """
    import re

    from portfolio.actors import SYSTEM
    from portfolio.db import Database
    from portfolio.services import accounts
    from portfolio.settings import Settings

    email = f"bench-browser-{role}-{uuid.uuid4().hex[:8]}@example.london"
    db = Database(Settings(database_url=database_url, secret_key=BENCH_SECRET))
    try:
        with db.write() as session:
            accounts.add_user(session=session, actor=SYSTEM, password=BENCH_PASSWORD,
                              data={"email": email, "name": f"Bench {role}", "role": role,
                                    "organisation": None})
    finally:
        db.dispose()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if csrf is None:
            raise RuntimeError(f"no CSRF token on /login ({page.status_code})")
        done = client.post("/login", data={"email": email, "password": BENCH_PASSWORD,
                                           "csrf_token": csrf.group(1), "next": "/"})
        if done.status_code not in (200, 303):
            raise RuntimeError(f"sign-in -> {done.status_code}: {done.text[:200]}")
        return client.cookies


def make_token(database_url: str, role: str = "admin", email: str | None = None,
               organisation: str | None = None) -> str:
    """Add a user of a role (as the system) and return an API token of theirs."""
    from sqlalchemy import select

    from portfolio.actors import SYSTEM
    from portfolio.db import Database
    from portfolio.models import User
    from portfolio.services import accounts
    from portfolio.settings import Settings

    email = email or f"bench-{role}-{uuid.uuid4().hex[:8]}@example.london"
    db = Database(Settings(database_url=database_url, secret_key=BENCH_SECRET))
    try:
        with db.write() as session:
            accounts.add_user(session=session, actor=SYSTEM, data={
                "email": email, "name": f"Bench {role}", "role": role,
                "organisation": organisation})
            user = session.execute(select(User).where(User.email == email)).scalars().one()
            created = accounts.create_token(session=session, actor=accounts.actor_for(user),
                                            name="bench")
    finally:
        db.dispose()
    return str(created["token"])


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a server we started (its own process group): SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout)


@contextmanager
def serve(command: Sequence[str], *, port: int, env: Mapping[str, str] | None = None,
          health_path: str = "/healthz", timeout: float = 90) -> Iterator[str]:
    """Start a server subprocess on 127.0.0.1:port, wait until health_path answers, stop it."""
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            list(command), cwd=ROOT, env=dict(env or os.environ), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            with httpx.Client(timeout=5) as client:
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"server exited with {process.returncode}: "
                                           f"{_tail(log)}")
                    try:
                        if client.get(base + health_path).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"server not healthy after {timeout:.0f} s: "
                                           f"{_tail(log)}")
                    time.sleep(0.1)
            try:
                yield base
            except Exception:
                # A failed request is easier to explain with the server's own traceback.
                print(f"--- server log ({command[0]}), last lines:\n{_tail(log)}",
                      file=sys.stderr, flush=True)
                raise
        finally:
            _stop(process)


def _tail(log: Any, size: int = 3000) -> str:
    """Return the end of a log file object."""
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


@contextmanager
def portfolio_server(database_url: str, *, workers: int = 1,
                     extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run `portfolio serve` on a free loopback port over a database; yield its base URL."""
    port = free_port()
    command = [PORTFOLIO, "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    with serve(command, port=port, env=bench_env(database_url, **dict(extra_env or {}))) as base:
        yield base


def timed_get(client: httpx.Client, url: str, n: int, **kwargs: Any) -> list[float]:
    """GET a URL n times in sequence; return the durations; raise on a non-200 answer."""
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, **kwargs)
        response.read()
        durations.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} -> {response.status_code}: {response.text[:300]}")
    return durations


def fmt_ms(value: float | None) -> str:
    """Format milliseconds for a table (a dash when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain aligned table."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
