"""Similar projects: quality on the labelled London pairs, time and memory at 100,000 projects.

Run: python -m bench.bench_similarity [--projects 100000] [--panel-projects 10000]
Prints precision at 5 and recall at 10 on tests/fixtures/similar_pairs.csv; the time and peak
memory of the whole-portfolio similarity on a synthetic portfolio, against fitting the TF-IDF
terms of the same texts alone in the same run (the floor any text similarity pays); and the
registration panel's latency over HTTP at --panel-projects, against /healthz in the same run.
Nothing asserts a time: machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine_info, percentile  # noqa: E402
from scoring import similarity  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "tests" / "fixtures" / "similar_pairs.csv"
SEEDS = ROOT / "seeds" / "london"

# Ideas that recur across organisations, with the words their write-ups share.
IDEAS = [
    "damp mould risk council homes repairs", "fuel poverty targeting energy advice EPC",
    "retrofit insulation heat pump targeting", "homelessness prevention early identification",
    "temporary accommodation demand forecast", "school place planning forecast census",
    "SEND EHCP demand forecasting", "adult social care demand forecast care market",
    "household support fund targeting low income", "rent arrears early warning debt",
    "single view resident matching council tax", "fly tipping hotspot prediction enforcement",
    "HMO licensing rogue landlord detection", "single person discount review electoral",
    "digital exclusion mapping connectivity devices", "air quality monitoring schools",
    "street works coordination utilities", "business rates forecasting reliefs",
    "hospital discharge data sharing", "serious violence data hub",
]


VARIANTS = 100  # each idea recurs in variants with words of their own: 2,000 ideas in all


def synthetic_portfolio(projects: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return synthetic projects (an idea's words among Zipf-drawn filler) and dataset links.

    Column `idea` says which idea a project repeats: projects of one idea are "the same idea".
    """
    rng = np.random.default_rng(seed)
    filler = np.array([f"w{i}" for i in range(20_000)])
    weights = 1.0 / np.arange(1, filler.size + 1) ** 1.05
    weights /= weights.sum()
    idea = rng.integers(0, len(IDEAS) * VARIANTS, projects)
    lengths = rng.integers(10, 60, projects)
    words = rng.choice(filler, size=int(lengths.sum()), p=weights)
    cut = np.concatenate([[0], np.cumsum(lengths)])
    titles, descriptions = [], []
    for i in range(projects):
        own = IDEAS[idea[i] % len(IDEAS)].split()
        variant = [f"v{idea[i]}{suffix}" for suffix in "abc"]
        picked = [*rng.choice(own, size=2, replace=False), *rng.choice(variant, size=2,
                                                                      replace=False)]
        titles.append(" ".join(picked[:3]))
        descriptions.append(" ".join([*picked, *words[cut[i]:cut[i + 1]]]))
    frame = pd.DataFrame({
        "key": np.arange(projects), "organisation": rng.integers(0, 400, projects),
        "theme": [f"t{i % 12}" for i in idea], "title": titles, "description": descriptions,
        "idea": idea,
    })
    per = rng.integers(0, 6, projects)
    owners = np.repeat(np.arange(projects), per)
    # Half the datasets a project uses are its idea's own, half from a long tail.
    own_dataset = idea[owners] * 5 + rng.integers(0, 5, owners.size)
    tail = 10_000_000 + rng.integers(0, 5_000, owners.size)
    links = pd.DataFrame({"project": owners,
                          "dataset": np.where(rng.random(owners.size) < 0.5, own_dataset, tail)})
    return frame, links


def _similarity_in_child(projects: int, queue: Any) -> None:
    """Build the model in a fresh process and report its time and peak memory."""
    frame, links = synthetic_portfolio(projects)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    texts = [similarity.project_text(t, d) for t, d in zip(frame["title"], frame["description"],
                                                         strict=True)]
    similarity._hasher().transform(texts)
    floor = time.perf_counter() - started
    started = time.perf_counter()
    model = similarity.build_model(frame, links)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    top5 = model.neighbours[model.neighbours["rank"] <= 5]
    idea = frame["idea"].to_numpy()
    synthetic_precision = float((idea[top5["project"].to_numpy()]
                                 == idea[top5["other"].to_numpy()]).mean())
    queue.put({"projects": projects, "seconds": seconds, "counting_terms_only_seconds": floor,
               "ratio_to_counting_terms": seconds / floor, "peak_rss_mb": peak / 1024,
               "rss_before_mb": before / 1024, "pairs": len(model.neighbours),
               "synthetic_precision_at_5": synthetic_precision})


def time_and_memory(projects: int) -> dict[str, Any]:
    """Return the whole-portfolio similarity's time and peak memory, measured in a child."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_similarity_in_child, args=(projects, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def london_quality(k_precision: int = 5, k_recall: int = 10) -> dict[str, Any]:
    """Return precision at k and recall at k on the labelled London pairs."""
    seed = pd.read_csv(SEEDS / "projects.csv")
    frame = pd.DataFrame({"key": seed["slug"], "organisation": seed["owner"],
                          "theme": seed["theme"], "title": seed["title"],
                          "description": seed["description"].fillna("")})
    links = pd.read_csv(SEEDS / "project_datasets.csv")[["project", "dataset"]]
    model = similarity.build_model(frame, links, top_k=max(k_precision, k_recall))
    pairs = pd.read_csv(PAIRS)
    same = {(a, b) for a, b, label in pairs[["project_a", "project_b", "label"]].itertuples(
        index=False) if label == "same"}
    same |= {(b, a) for a, b in same}
    different = {(a, b) for a, b, label in pairs[["project_a", "project_b", "label"]].itertuples(
        index=False) if label == "different"}
    different |= {(b, a) for a, b in different}
    top = model.neighbours.groupby("project")["other"].apply(list).to_dict()
    queries = sorted({a for a, _ in same})
    strict, judged = [], []
    for query in queries:
        shown = top.get(query, [])[:k_precision]
        hits = sum((query, other) in same for other in shown)
        strict.append(hits / len(shown) if shown else 0.0)
        labelled = [o for o in shown if (query, o) in same or (query, o) in different]
        if labelled:
            judged.append(hits / len(labelled))
    recalled = sum(b in top.get(a, [])[:k_recall] for a, b in same)
    return {
        "labelled_same_pairs": len(same) // 2, "labelled_different_pairs": len(different) // 2,
        f"precision_at_{k_precision}": float(np.mean(strict)),
        f"precision_at_{k_precision}_judged_only": float(np.mean(judged)) if judged else None,
        f"recall_at_{k_recall}": recalled / len(same),
        "note": "precision counts an unlabelled suggestion as wrong; 'judged only' leaves "
                "unlabelled suggestions out",
    }


def panel_latency(projects: int, requests: int = 200) -> dict[str, Any]:
    """Return the registration panel's latency over HTTP (in process) against /healthz.

    The synthetic seed's projects get this benchmark's synthetic descriptions, so the panel
    compares real-sized texts.
    """
    import re
    import tempfile

    from fastapi.testclient import TestClient
    from sqlalchemy import select, update

    from portfolio.actors import SYSTEM
    from portfolio.db import Database
    from portfolio.migrate import upgrade
    from portfolio.models import Organisation, Project
    from portfolio.services import accounts
    from portfolio.services.collaboration import similarity_index
    from portfolio.settings import Settings
    from seeds.synthetic import seed_synthetic
    from web.app import create_app

    password = "bench-password-123456"
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/bench.db", environment="test",
                            secret_key="bench-secret")
        db = Database(settings)
        upgrade(db.engine)
        with db.write() as session:
            seed_synthetic(session, projects=projects, seed=1)
        texts, _ = synthetic_portfolio(projects, seed=3)
        with db.write() as session:
            ids = session.execute(select(Project.id).order_by(Project.id)).scalars().all()
            session.execute(update(Project), [
                {"id": i, "description": d} for i, d in zip(ids, texts["description"],
                                                             strict=False)])
            organisation = session.execute(select(Organisation.code)).scalars().first()
            accounts.add_user(session=session, actor=SYSTEM, password=password, data={
                "email": "cdo@bench.test", "name": "Bench CDO", "role": "cdo",
                "organisation": None})
        started = time.perf_counter()
        similarity_index(db)
        build_seconds = time.perf_counter() - started
        with TestClient(create_app(settings)) as client:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            client.post("/login", data={"email": "cdo@bench.test", "password": password,
                                         "csrf_token": csrf.group(1) if csrf else "",
                                         "next": "/"})
            page = client.get("/projects/new").text
            token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
            headers = {"HX-Request": "true", "X-CSRF-Token": token.group(1) if token else ""}
            drafts = [("Damp and mould risk in council homes",
                       "Predict council homes at risk of damp and mould from repairs data"),
                      ("Fuel poverty targeting", "Target energy advice at fuel poor homes"),
                      ("School place planning", "Forecast school place demand by area"),
                      ("Household support fund targeting", "Target hardship payments")]
            panel, floor = [], []
            for i in range(requests + 5):
                title, description = drafts[i % len(drafts)]
                form = {"title": title, "description": description, "theme": "housing",
                        "owner": organisation}
                started = time.perf_counter()
                answer = client.post("/projects/new/similar", data=form, headers=headers)
                took = (time.perf_counter() - started) * 1000
                assert answer.status_code == 200, answer.text[:300]
                started = time.perf_counter()
                client.get("/healthz")
                if i >= 5:  # the first few warm the process up
                    panel.append(took)
                    floor.append((time.perf_counter() - started) * 1000)
        db.dispose()
    return {"projects": projects, "requests": requests, "model_build_seconds": build_seconds,
            "panel_p50_ms": percentile(panel, 50), "panel_p95_ms": percentile(panel, 95),
            "healthz_p50_ms": percentile(floor, 50),
            "ratio_p50_to_healthz": percentile(panel, 50) / percentile(floor, 50)}


def run(projects: int = 100_000, panel_projects: int = 10_000) -> dict[str, Any]:
    """Return every figure of this benchmark."""
    return {"machine": machine_info(), "quality": london_quality(),
            "similarity": time_and_memory(projects),
            "panel": panel_latency(panel_projects) if panel_projects else None}


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=100_000,
                        help="synthetic projects for the whole-portfolio similarity")
    parser.add_argument("--panel-projects", type=int, default=10_000,
                        help="synthetic projects behind the registration panel (0 to skip)")
    args = parser.parse_args()
    print(json.dumps(run(args.projects, args.panel_projects), indent=2))


if __name__ == "__main__":
    main()
