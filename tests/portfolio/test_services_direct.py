"""Services tested directly, not only through the pages that call them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portfolio.actors import SYSTEM, Actor
from portfolio.cache import Background, Memo
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import Invalid, NotAllowed, NotFound
from portfolio.models import Project
from portfolio.services import accounts, dashboard, datasets, profiles, reviews

RESEARCHER = Actor(id=None, role=Role.RESEARCHER, email="researcher@example.org")


def test_memo_forgets_the_least_recently_used_value_first() -> None:
    memo = Memo(entries=2)
    memo.put(("a",), 1)
    memo.put(("b",), 2)
    assert memo.get(("a",)) == 1  # "a" is now the more recently used
    memo.put(("c",), 3)
    assert memo.get(("b",)) is None and memo.get(("a",)) == 1 and memo.get(("c",)) == 3


def test_background_runs_one_job_per_key() -> None:
    background = Background()
    started, release = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait(30)
        return "done"

    first = background.submit(("job",), work)
    assert started.wait(30)
    assert background.submit(("job",), lambda: "other") is first
    release.set()
    assert first.result(30) == "done"


def test_accounts_refuse_a_second_user_with_the_same_email_in_other_case(
        london: Database) -> None:
    with london.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, data={
            "email": "Ada@Example.org", "name": "Ada", "role": "researcher"})
    with london.write() as session, pytest.raises(Invalid) as refused:
        accounts.add_user(session=session, actor=SYSTEM, data={
            "email": "ada@example.org", "name": "Ada again", "role": "researcher"})
    assert "already exists" in refused.value.errors["email"]


def test_accounts_let_only_admins_add_users(london: Database) -> None:
    with london.write() as session, pytest.raises(NotAllowed):
        accounts.add_user(session=session, actor=RESEARCHER, data={
            "email": "x@example.org", "name": "X", "role": "researcher"})


def test_reviews_let_only_deciders_decide(london: Database) -> None:
    with london.write() as session, pytest.raises(NotAllowed):
        reviews.decide(session=session, actor=RESEARCHER, slug="bd-one-view-phase-2",
                       decision="approve", rationale="Looks good")


def test_profiles_list_the_seeded_profiles_with_weights_for_every_dimension(
        london: Database) -> None:
    with london.read() as session:
        listed = profiles.list_profiles(session=session)
        one = profiles.get_profile(session=session, name=listed[0]["name"])
    assert listed and one["name"] == listed[0]["name"]
    assert set(one["weights"]["dimension"]) == {"impact", "feasibility", "readiness"}


def test_datasets_filter_by_publisher_and_refuse_an_unknown_code(london: Database) -> None:
    with london.read() as session:
        every = datasets.list_datasets(session=session)
        publisher = every[0]["publisher"]
        theirs = datasets.list_datasets(session=session, publisher=publisher)
        assert theirs and all(d["publisher"] == publisher for d in theirs)
        assert len(theirs) <= len(every)
        with pytest.raises(NotFound):
            datasets.get_dataset(session=session, code="no-such-dataset")


def test_dashboard_counts_every_project_once(london: Database) -> None:
    shown = dashboard.dashboard(london)
    with london.read() as session:
        total = session.execute(select(func.count()).select_from(Project)).scalar_one()
    assert sum(shown["by_status"].values()) == total
