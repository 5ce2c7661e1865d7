"""A project's links on PostgreSQL: two adds or removes of one link at once never fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import projects
from tests.racing import sent_while_held
from tests.web.auth import Browser
from tests.web.conftest import SignedIn

SLUG = "london-datastore-replatforming"  # the GLA's
OTHER = "retrofit-targeting-london"
PARTNER = {"organisation": "E09000002", "role": "partner"}
LINK = {"dataset": "lsoa-2021-boundaries", "relation": "uses", "required": True,
        "fit_for_task": "partial", "agreement": "not_needed"}


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these writes)."""
    return "postgresql"


def _add_partner(session: Session) -> Any:
    return projects.add_partner(session=session, actor=SYSTEM, slug=SLUG, data=PARTNER)


def _link(session: Session) -> Any:
    return projects.link_dataset(session=session, actor=SYSTEM, slug=SLUG, data=LINK)


def _depend(session: Session) -> Any:
    return projects.add_dependency(session=session, actor=SYSTEM, slug=SLUG,
                                   data={"depends_on": OTHER})


# (what is there before, what another does meanwhile, the same by this user, answers allowed)
WRITES: dict[str, tuple[Callable[[Session], Any] | None, Callable[[Session], Any],
                        Callable[[Browser], Any], set[int]]] = {
    "partner added": (None, _add_partner, lambda c: c.post(
        f"/projects/{SLUG}/partners", data={"csrf_token": c.csrf, **PARTNER},
        follow_redirects=False), {303}),
    "dataset linked": (None, _link, lambda c: c.put(
        f"/api/v1/projects/{SLUG}/datasets/{LINK['dataset']}",
        json={k: v for k, v in LINK.items() if k != "dataset"}), {200}),
    "dependency added": (None, _depend, lambda c: c.post(
        f"/api/v1/projects/{SLUG}/dependencies", json={"depends_on": OTHER}), {201}),
    "partner removed": (_add_partner, lambda s: projects.remove_partner(
        session=s, actor=SYSTEM, slug=SLUG, organisation="E09000002"), lambda c: c.post(
        f"/projects/{SLUG}/partners/remove",
        data={"csrf_token": c.csrf, "organisation": "E09000002"}), {422}),
    "dependency removed": (_depend, lambda s: projects.remove_dependency(
        session=s, actor=SYSTEM, slug=SLUG, depends_on=OTHER), lambda c: c.post(
        f"/projects/{SLUG}/dependencies/remove",
        data={"csrf_token": c.csrf, "depends_on": OTHER}), {422}),
}


@pytest.mark.parametrize("kind", list(WRITES))
def test_the_same_link_written_twice_at_once_is_never_a_server_error(
        signed_in: SignedIn, london: Database, kind: str) -> None:
    before, meanwhile, write, allowed = WRITES[kind]
    if before is not None:
        with london.write() as session:
            before(session)
    client = signed_in("admin", html=kind.startswith(("partner", "dependency removed")))
    answer = sent_while_held(london, meanwhile, lambda: write(client))
    assert answer.status_code in allowed, answer.text[:400]


def test_two_dependencies_that_close_a_cycle_added_at_once_are_not_both_kept(
        signed_in: SignedIn, london: Database) -> None:
    # Each add locked only its own project, so each cycle check missed the other's uncommitted
    # edge and both were kept: a cycle, which no order of the portfolio can follow.
    client = signed_in("admin")
    answer = sent_while_held(london, _depend, lambda: client.post(  # SLUG depends on OTHER
        f"/api/v1/projects/{OTHER}/dependencies", json={"depends_on": SLUG}))
    assert answer.status_code == 422 and answer.json()["cycle"][0] == OTHER, answer.text
    with london.read() as session:
        kept = projects.get_project(session=session, slug=OTHER)["depends_on"]
        assert SLUG not in {d["slug"] for d in kept}


def test_an_import_closing_a_cycle_with_a_dependency_added_meanwhile_writes_nothing(
        signed_in: SignedIn, london: Database) -> None:
    client = signed_in("admin")
    with london.read() as session:
        other = projects.get_project(session=session, slug=OTHER)
    sheet = (f"slug,title,owner,theme,depends_on\n"
             f"{OTHER},{other['title']},{other['organisation']},{other['theme']},{SLUG}\n")
    answer = sent_while_held(london, _depend, lambda: client.post(  # SLUG depends on OTHER
        "/api/v1/import/projects", files={"file": ("cycle.csv", sheet.encode(), "text/csv")}))
    assert answer.status_code == 422 and "cycle" in answer.text, answer.text
    with london.read() as session:
        kept = projects.get_project(session=session, slug=OTHER)["depends_on"]
        assert SLUG not in {d["slug"] for d in kept}


def test_a_dependency_closing_a_cycle_with_an_import_meanwhile_is_refused(
        signed_in: SignedIn, london: Database) -> None:
    from portfolio.services import imports

    client = signed_in("admin")
    with london.read() as session:
        slug = projects.get_project(session=session, slug=SLUG)
    sheet = (f"slug,title,owner,theme,depends_on\n"
             f"{SLUG},{slug['title']},{slug['organisation']},{slug['theme']},{OTHER}\n")

    def imported(session: Session) -> None:  # SLUG depends on OTHER, not committed yet
        report = imports.import_projects(session=session, actor=SYSTEM, content=sheet.encode(),
                                         filename="cycle.csv")
        assert not report.errors

    answer = sent_while_held(london, imported, lambda: client.post(
        f"/api/v1/projects/{OTHER}/dependencies", json={"depends_on": SLUG}))
    assert answer.status_code == 422 and answer.json()["cycle"][0] == OTHER, answer.text
    with london.read() as session:
        kept = projects.get_project(session=session, slug=OTHER)["depends_on"]
        assert SLUG not in {d["slug"] for d in kept}
