"""`make bench`'s table of issue 19's aims, and the README section it rewrites."""

from __future__ import annotations

from pathlib import Path

from bench import aims


def results() -> dict:
    return {"machine": {"date": "2026-12-04", "commit": "abc1234", "cores": 2},
            "benchmarks": {
                "recompute sqlite 100,000": {"status": "ok", "figures": {
                    "this": {"end_to_end_s": 4.0, "peak_rss_mb": 650.0},
                    "baseline": {"end_to_end_s": 10.0, "peak_rss_mb": 780.0}}},
                "exports": {"status": "ok", "figures": {"exports": [
                    {"format": "csv", "seconds": 0.8, "baseline_seconds": 1.6}]}},
                "pages sqlite 100,000": {"status": "failed", "detail": "boom"}}}


def test_each_aim_says_met_or_not_with_the_ratio_to_todays_code() -> None:
    found = {row[0]: row for row in aims.rows(results())}
    assert found["full re-ranking, end to end (SQLite)"][1:] == [
        "4.00 s", "10.00 s (2.50x)", "under 5.00 s", "met"]
    assert found["its peak memory (SQLite)"][-1] == "NOT met"
    csv = found["export of a snapshot: CSV (sent from the copy kept when it was taken)"]
    assert csv[2:] == ["1.60 s (2.00x)", "under 0.50 s", "NOT met"]
    assert found["backlog page no worker has shown yet, p95 (SQLite)"][-1] == (
        "not measured (failed)")
    assert found["full re-ranking, end to end (PostgreSQL)"][-1] == "not measured (not run)"


def test_the_readme_table_is_rewritten_between_its_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Intro\n\n{aims.BEGIN}\nold table\n{aims.END}\n\n## After\n")
    assert aims.update_readme(results(), readme)
    text = readme.read_text()
    assert "old table" not in text and "| full re-ranking, end to end (SQLite) | 4.00 s" in text
    assert text.startswith("# Intro\n\n") and text.endswith(f"{aims.END}\n\n## After\n")
    untouched = tmp_path / "OTHER.md"
    untouched.write_text("no markers\n")
    assert not aims.update_readme(results(), untouched)
    assert untouched.read_text() == "no markers\n"
