"""Two adds of the same name at once on PostgreSQL: the second is told it is taken, never a 500.

The check before an insert cannot see a row another transaction has not committed: the
unique constraint refuses it then, and that refusal must read as the check's would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import accounts, agreements, identities, profiles, scenarios
from tests.factories import make_dataset, make_project
from tests.racing import sent_while_held
from tests.web.auth import Browser
from tests.web.conftest import SignedIn
from tests.web.test_agreements import GOOD as AGREEMENT


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these adds)."""
    return "postgresql"


def _profile(session: Session) -> None:
    default = profiles.list_profiles(session=session)[0]
    profiles.set_weights(session=session, actor=SYSTEM, name="Prevention first", create=True,
                         dimension_weights=default["weights"]["dimension"],
                         criterion_weights=default["weights"]["criterion"])


def _based_on(client: Browser) -> str:
    return str(client.get("/api/v1/profiles").json()[0]["name"])


# (what another adds meanwhile, the same add by this user, the field that says it is taken)
ADDS: dict[str, tuple[Callable[[Session], Any], Callable[[Browser], Any], str]] = {
    "project": (
        lambda s: make_project(s, "same-slug", owner="GLA"),
        lambda c: c.post("/api/v1/projects", json={"slug": "same-slug", "title": "Same",
                                                   "owner": "GLA", "theme": "housing"}),
        "slug"),
    "dataset": (
        lambda s: make_dataset(s, "same-code", publisher="GLA"),
        lambda c: c.post("/api/v1/datasets", json={"code": "same-code", "title": "Same",
                                                   "publisher": "GLA", "access": "open"}),
        "code"),
    "agreement": (
        lambda s: agreements.create_agreement(session=s, actor=SYSTEM, data=AGREEMENT),
        lambda c: c.post("/api/v1/agreements", json=AGREEMENT),
        "code"),
    "scenario": (
        lambda s: scenarios.create_scenario(session=s, actor=SYSTEM, data={
            "name": "Same name", "budget": 1000000, "capacity": 100}),
        lambda c: c.post("/api/v1/scenarios", json={"name": "Same name", "budget": 1000000,
                                                    "capacity": 100}),
        "name"),
    "profile": (
        _profile,
        lambda c: c.post("/profiles", data={"csrf_token": c.csrf, "name": "Prevention first",
                                            "based_on": _based_on(c)}),
        "name"),
    "user": (
        lambda s: accounts.add_user(session=s, actor=SYSTEM, data={
            "email": "same@london.gov.uk", "name": "Same", "role": "researcher"}),
        lambda c: c.post("/admin/users", data={
            "csrf_token": c.csrf, "email": "same@london.gov.uk", "name": "Same",
            "role": "researcher", "password": "a long enough password 1"}),
        "email"),
    "group mapping": (
        lambda s: identities.add_mapping(session=s, actor=SYSTEM, group="same-group",
                                         role="researcher", organisation=None),
        lambda c: c.post("/admin/groups", data={"csrf_token": c.csrf, "group": "same-group",
                                                "role": "researcher", "organisation": ""}),
        "group"),
}


@pytest.mark.parametrize("kind", list(ADDS))
def test_the_same_name_added_twice_at_once_is_refused_as_taken_not_a_server_error(
        signed_in: SignedIn, london: Database, kind: str) -> None:
    meanwhile, add, field = ADDS[kind]
    client = signed_in("admin")

    # The other add is written, not yet committed, when this user's arrives.
    answer = sent_while_held(london, meanwhile, lambda: add(client))
    assert answer.status_code == 422, answer.text[:400]
    assert field in answer.text
