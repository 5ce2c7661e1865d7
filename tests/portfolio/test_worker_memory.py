"""What a web worker keeps resident: heavy libraries imported only when used, caches trimmed."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import weakref
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from portfolio.cache import Memo, release_freed_memory, release_garbage
from portfolio.services.collaboration import ProjectRows, SlugIds, _project_columns
from web import server

ROOT = Path(__file__).resolve().parents[2]


def _modules_after_import(module: str, wanted: tuple[str, ...]) -> list[str]:
    """Return which of some modules a fresh interpreter has loaded after importing one."""
    done = subprocess.run(
        [sys.executable, "-c", f"import json, sys, {module}; "
         f"print(json.dumps([m for m in {list(wanted)!r} if m in sys.modules]))"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_web_app_imports_no_scikit_learn_or_optimiser_until_they_are_asked_for() -> None:
    # Nor Alembic (migrations run from the CLI) or the single sign-on's HTTP client.
    wanted = ("sklearn", "scipy.optimize", "scipy.stats", "alembic",
              "authlib.integrations.requests_client", "requests")
    assert _modules_after_import("web.app", wanted) == []


def test_the_plan_and_roadmap_solvers_import_no_optimiser_until_they_solve() -> None:
    assert _modules_after_import("scoring.roadmap", ("scipy.optimize",)) == []


def test_memo_keeps_only_the_latest_value_of_a_kind() -> None:
    memo = Memo(entries=4)
    memo.put_latest(("graph", 1), "old")
    memo.put(("other", 1), "kept")
    memo.put_latest(("graph", 2), "new")
    assert memo.get(("graph", 1)) is None
    assert memo.get(("graph", 2)) == "new" and memo.get(("other", 1)) == "kept"


def test_releasing_freed_memory_can_be_asked_for_at_any_time() -> None:
    release_freed_memory()
    release_freed_memory()
    release_garbage()


def test_project_rows_give_each_project_as_a_dict_and_share_repeated_values() -> None:
    given = [(1, "a", "A", 7, "housing", "idea", 100, "cmd", "Camden", "borough"),
             (2, "b", "B", 7, "housing", "approved", 0, "cmd", "Camden", "borough")]
    # Copies, as a database driver hands them out: one object per row.
    rows: list[tuple[object, ...]] = [
        tuple("".join(v) if isinstance(v, str) else v for v in r) for r in given]
    columns = _project_columns(rows)
    projects = ProjectRows(columns, {1: 0, 2: 1})
    assert projects[2] == {"id": 2, "slug": "b", "title": "B", "owner_id": 7,
                           "theme": "housing", "status": "approved", "cost_gbp": 0,
                           "organisation": "cmd", "organisation_name": "Camden",
                           "organisation_kind": "borough"}
    assert list(projects) == [1, 2] and len(projects) == 2 and 3 not in projects
    # Numbers are kept in arrays and handed out as Python's (JSON takes only those).
    assert all(type(projects[2][name]) is int for name in ("id", "owner_id", "cost_gbp"))
    assert type(projects.value(1, "cost_gbp")) is int
    assert projects.value(1, "status") == "idea"
    assert columns["organisation_name"][0] is columns["organisation_name"][1]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=8), unique=True), st.lists(st.text(max_size=8), max_size=10))
def test_a_projects_id_is_found_by_its_slug_as_a_dict_finds_it(slugs, probes) -> None:
    ids = np.arange(len(slugs), dtype=np.int64) * 7
    expected = dict(zip(slugs, ids.tolist(), strict=True))
    found = SlugIds(slugs, ids)
    for probe in [*slugs, *probes, 3]:
        assert found.get(probe) == expected.get(probe)
    assert dict(found) == expected and len(found) == len(expected)


def _counting_app(monkeypatch, after_seconds: float) -> tuple[TestClient, list[int]]:
    """Return a client of a tiny app behind ReleaseFreedMemory, and the trims it asked for."""
    trims: list[int] = []
    monkeypatch.setattr(server, "release_garbage", lambda: trims.append(1))

    def slow(request: Request) -> PlainTextResponse:
        time.sleep(float(request.query_params.get("sleep", "0")))
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/", slow)])
    app.add_middleware(server.ReleaseFreedMemory, after_seconds=after_seconds)
    return TestClient(app), trims


def test_a_long_request_hands_its_freed_memory_back_and_a_short_one_does_not(
        monkeypatch) -> None:
    client, trims = _counting_app(monkeypatch, after_seconds=0.2)
    assert client.get("/").text == "done"
    assert trims == []
    assert client.get("/?sleep=0.3").text == "done"
    assert trims == [1]


def test_the_web_app_hands_back_what_long_requests_freed(settings) -> None:
    from web.app import create_app

    app = create_app(settings)
    assert server.ReleaseFreedMemory in [m.cls for m in app.user_middleware]
    with TestClient(app):
        # What start-up made is left out of the collections that follow long requests.
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_garbage_in_a_reference_cycle_is_collected_before_memory_is_released() -> None:
    class Node:
        """A value that refers to itself, as data frames and graphs do."""

    node = Node()
    node.itself = node  # type: ignore[attr-defined]
    gone = weakref.ref(node)
    enabled = gc.isenabled()
    gc.disable()  # only release_garbage may collect it
    try:
        del node
        assert gone() is not None
        release_garbage()
        assert gone() is None
    finally:
        if enabled:
            gc.enable()
