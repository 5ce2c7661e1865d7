"""Harvest a 10,000-dataset CKAN catalogue from the local replay server, end to end.

Run: python bench/bench_harvest.py [--datasets 10000]
The baseline, measured in the same run, reads the same pages with httpx and parses them and
nothing else: the ratio is what mapping, matching and writing cost on top. Memory is the
process's peak resident size (London and all) after the harvest. Aims: under 20 s and 300 MB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fresh_database, print_table  # noqa: E402
from portfolio import migrate  # noqa: E402
from portfolio.actors import SYSTEM  # noqa: E402
from portfolio.db import Database  # noqa: E402
from portfolio.services.harvest import Limits, harvest  # noqa: E402
from portfolio.settings import Settings  # noqa: E402
from seeds.loader import load_london  # noqa: E402
from tests import catalogue_server  # noqa: E402


def peak_mb() -> float:
    """Return this process's peak resident size in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(url: str, datasets: int) -> float:
    """Fetch and parse every page of the catalogue, nothing else; return seconds."""
    started = time.perf_counter()
    with httpx.Client() as client:
        for start in range(0, datasets, 1000):
            body = client.get(f"{url}/big/api/3/action/package_search",
                              params={"rows": 1000, "start": start}).content
            orjson.loads(body)
    return time.perf_counter() - started


def run(datasets: int = 10_000) -> dict[str, Any]:
    """Harvest the generated catalogue into a fresh London database; return the figures."""
    catalogue_server.BIG_CATALOGUE = datasets
    with catalogue_server.replay_portal() as url, fresh_database("sqlite") as database_url:
        db = Database(Settings(database_url=database_url))
        migrate.upgrade(db.engine)
        with db.write() as session:
            load_london(session)
        base_s = baseline(url, datasets)
        started = time.perf_counter()
        plan = harvest(db, actor=SYSTEM, url=f"{url}/big", default_publisher="GLA",
                       dry_run=False, limits=Limits(max_datasets=max(100_000, datasets)))
        harvest_s = time.perf_counter() - started
        peak = peak_mb()
        again_started = time.perf_counter()
        again = harvest(db, actor=SYSTEM, url=f"{url}/big", default_publisher="GLA",
                        dry_run=True, limits=Limits(max_datasets=max(100_000, datasets)))
        again_s = time.perf_counter() - again_started
        db.dispose()
    figures = {"datasets": datasets, "harvest_s": harvest_s, "added": len(plan.add),
               "peak_rss_mb": peak, "repeat_dry_run_s": again_s,
               "repeat_unchanged": len(again.leave), "baseline_fetch_parse_s": base_s,
               "ratio_to_baseline": harvest_s / base_s if base_s else None}
    print_table(["datasets", "harvest (write)", "again (dry run)", "fetch+parse only",
                 "ratio", "process peak RSS"],
                [[f"{datasets:,}", f"{harvest_s:.2f} s ({len(plan.add):,} added)",
                  f"{again_s:.2f} s ({len(again.leave):,} unchanged)", f"{base_s:.2f} s",
                  f"{figures['ratio_to_baseline']:.1f}x", f"{peak:.0f} MB"]])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000, help="catalogue size")
    run(parser.parse_args().datasets)


if __name__ == "__main__":
    main()
