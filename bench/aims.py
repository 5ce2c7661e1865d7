"""Issue 19's aims at 100,000 projects, read from one `make bench` run, and the README's table.

Each aim names the stage of bench/run_all.py that measures it and how its figure, and today's
code's figure in the same run (where the stage runs the earlier code too), are read from that
stage's figures. `update_readme` writes the table between two markers in README.md, so the
README's Performance section says what the last full run measured.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- bench:aims:begin (written by `make bench`: bench/aims.py) -->"
END = "<!-- bench:aims:end -->"

Figures = dict[str, Any]


# Today's code ranks again in full after any edit; bench/results.md has the same run's figure.
_SAME_RUN_FULL = "a full re-ranking (today's code after any edit), same run: bench/results.md"


@dataclass(frozen=True)
class Aim:
    """One figure of the issue, its aim, and where a run's figures hold it."""

    what: str
    stage: str
    aim: float
    unit: str  # "s", "MB" or "x floor"
    this: Callable[[Figures], float | None]
    today: Callable[[Figures], float | None] = lambda _f: None
    baseline: str = ""  # the same run's baseline, said in words, when it is not today's code


def _get(figures: Figures, *path: Any) -> Any:
    """Return figures[path...], or None where any step is missing."""
    found: Any = figures
    for step in path:
        if isinstance(found, dict):
            found = found.get(step)
        elif isinstance(found, list) and isinstance(step, int) and step < len(found):
            found = found[step]
        else:
            return None
    return found


def _export(fmt: str, key: str) -> Callable[[Figures], float | None]:
    """Read one format's figure from bench_exports' report."""
    def read(figures: Figures) -> float | None:
        for entry in figures.get("exports") or []:
            if isinstance(entry, dict) and entry.get("format") == fmt:
                value = entry.get(key)
                return None if value is None else float(value)
        return None
    return read


def _page(name: str, key: str) -> Callable[[Figures], float | None]:
    """Read one page's figure from bench_pages' table."""
    def read(figures: Figures) -> float | None:
        for row in figures.get("table") or []:
            if row.get("page") == name and row.get(key) is not None:
                return float(row[key])
        return None
    return read


def _whatif(database: str) -> Callable[[Figures], float | None]:
    """Read the p95 of slider moves (each weights once) in seconds from bench_pages' report."""
    def read(figures: Figures) -> float | None:
        found = _get(figures, "whatif", "what-if: slider moves (each weights once)", "p95_ms")
        return None if found is None else float(found) / 1000.0
    return read


def _memory(side: str, step: str | None) -> Callable[[Figures], float | None]:
    """Read the web process's resident MB after a step (None: the most over the session)."""
    def read(figures: Figures) -> float | None:
        steps = _get(figures, "sqlite", side, "steps") or []
        found = [row["vmrss_mb"] for row in steps if step is None or row["step"] == step]
        return float(max(found)) if found else None
    return read


AIMS = (
    Aim("full re-ranking, end to end (SQLite)", "recompute sqlite 100,000", 5.0, "s",
        lambda f: _get(f, "this", "end_to_end_s"),
        lambda f: _get(f, "baseline", "end_to_end_s")),
    Aim("its peak memory (SQLite)", "recompute sqlite 100,000", 600.0, "MB",
        lambda f: _get(f, "this", "peak_rss_mb"),
        lambda f: _get(f, "baseline", "peak_rss_mb")),
    Aim("full re-ranking, end to end (PostgreSQL)", "recompute postgresql 100,000", 5.0, "s",
        lambda f: _get(f, "this", "end_to_end_s"),
        lambda f: _get(f, "baseline", "end_to_end_s")),
    Aim("its peak memory (PostgreSQL)", "recompute postgresql 100,000", 600.0, "MB",
        lambda f: _get(f, "this", "peak_rss_mb"),
        lambda f: _get(f, "baseline", "peak_rss_mb")),
    Aim("single edit re-ranked: a field the ranking does not read (SQLite)",
        "single edit sqlite 100,000", 1.0, "s", lambda f: _get(f, "unranked_edit_s"),
        baseline=_SAME_RUN_FULL),
    Aim("single edit re-ranked: a field the ranking does not read (PostgreSQL)",
        "single edit postgresql 100,000", 1.0, "s", lambda f: _get(f, "unranked_edit_s"),
        baseline=_SAME_RUN_FULL),
    Aim("single edit re-ranked: a field the ranking reads (SQLite)",
        "single edit sqlite 100,000", 1.0, "s", lambda f: _get(f, "ranked_edit_s"),
        lambda f: _get(f, "ranked_full_read_s"),
        baseline="computed again in full, as by today's code"),
    Aim("single edit re-ranked: a field the ranking reads (PostgreSQL)",
        "single edit postgresql 100,000", 1.0, "s", lambda f: _get(f, "ranked_edit_s"),
        lambda f: _get(f, "ranked_full_read_s"),
        baseline="computed again in full, as by today's code"),
    Aim("single edit re-ranked: an assessment that moves its place (SQLite)",
        "single edit sqlite 100,000", 1.0, "s", lambda f: _get(f, "moving_edit_s"),
        lambda f: _get(f, "ranked_full_read_s"),
        baseline="computed again in full, as by today's code"),
    Aim("single edit re-ranked: an assessment that moves its place (PostgreSQL)",
        "single edit postgresql 100,000", 1.0, "s", lambda f: _get(f, "moving_edit_s"),
        lambda f: _get(f, "ranked_full_read_s"),
        baseline="computed again in full, as by today's code"),
    Aim("backlog page no worker has shown yet, p95 (SQLite)", "pages sqlite 100,000", 3.0,
        "x floor", _page("backlog pages viewed once each", "p95_ratio_to_floor"),
        baseline="the floor: one raw SQL query and f-string HTML, same run"),
    Aim("backlog page no worker has shown yet, p95 (PostgreSQL)", "pages postgresql 100,000",
        3.0, "x floor", _page("backlog pages viewed once each", "p95_ratio_to_floor"),
        baseline="the floor: one raw SQL query and f-string HTML, same run"),
    Aim("what-if slider move, p95 (SQLite)", "pages sqlite 100,000", 0.5, "s",
        _whatif("sqlite"), baseline="the stored-run page, same run: bench/results.md"),
    Aim("what-if slider move, p95 (PostgreSQL)", "pages postgresql 100,000", 0.5, "s",
        _whatif("postgresql"), baseline="the stored-run page, same run: bench/results.md"),
    Aim("web worker after its first backlog page (SQLite: it ranks in-process)",
        "worker memory sqlite 100,000", 500.0, "MB", _memory("this", "backlog first page"),
        _memory("baseline", "backlog first page")),
    Aim("web worker at the most through a session (graph, what-if, similar, export)",
        "worker memory sqlite 100,000", 500.0, "MB", _memory("this", None),
        _memory("baseline", None)),
    Aim("export of a snapshot: CSV (sent from the copy kept when it was taken)", "exports",
        0.5, "s", _export("csv", "seconds"),
        _export("csv", "baseline_seconds")),
    Aim("export of a snapshot: Data Package", "exports", 2.0, "s",
        _export("datapackage", "seconds"), _export("datapackage", "baseline_seconds")),
    Aim("export of a snapshot: GraphML", "exports", 3.0, "s", _export("graphml", "seconds"),
        _export("graphml", "baseline_seconds")),
    Aim("export of a 10,000-project snapshot: XLSX", "exports xlsx 10,000", 2.0, "s",
        _export("xlsx", "seconds"), _export("xlsx", "baseline_seconds")),
)


def _fmt(value: float | None, unit: str) -> str:
    """Format a figure with its unit ("-" when not measured)."""
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "x floor":
        return f"{value:.1f}x the floor"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"  # "0.00 s" would hide the figure
    return f"{value:,.2f} s"


def rows(results: dict[str, Any]) -> list[list[str]]:
    """Return a row per aim: figure, this code, today's code (ratio), aim, met."""
    out = []
    for aim in AIMS:
        entry = results.get("benchmarks", {}).get(aim.stage) or {}
        figures = entry.get("figures") if entry.get("status") == "ok" else None
        this = aim.this(figures) if isinstance(figures, dict) else None
        today = aim.today(figures) if isinstance(figures, dict) else None
        if this is None:
            state = f"not measured ({entry.get('status', 'not run')})"
        else:
            state = "met" if this <= aim.aim else "NOT met"
        before = (aim.baseline or "-") if today is None else (
            f"{_fmt(today, aim.unit)} ({today / this:.2f}x)" if this else _fmt(today, aim.unit))
        out.append([aim.what, _fmt(this, aim.unit), before,
                    f"under {_fmt(aim.aim, aim.unit)}", state])
    return out


def table(results: dict[str, Any]) -> str:
    """Return the aims as a markdown table with the run it comes from."""
    machine = results.get("machine", {})
    lines = [f"From `make bench` on {machine.get('date', '?')}, commit "
             f"{machine.get('commit', '?')}, {machine.get('cores', '?')} cores: a shared machine, "
             "so read the ratios (today's code is the code before issue 19's work, measured "
             "in the same run; a ratio above 1 is faster or smaller now).", "",
             "| figure at 100,000 projects | this code | today's code (ratio) | aim | |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    again = sorted({f"{name} ({e['run_again']['date'][:16]}, {e['run_again']['commit']})"
                    for name, e in results.get("benchmarks", {}).items()
                    if e.get("run_again") and name in {aim.stage for aim in AIMS}})
    if again:
        lines += ["", "Run again alone (`python -m bench.run_all --only STAGE`): "
                  + "; ".join(again) + "."]
    return "\n".join(lines) + "\n"


def update_readme(results: dict[str, Any], readme: Path = README) -> bool:
    """Replace the table between the markers in the README; False when they are missing."""
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda _m: f"{BEGIN}\n{table(results)}{END}", text, count=1))
    return True
