"""A person's own choices on PostgreSQL: the same choice saved twice at once (two tabs) is saved.

A watch is one row per user and project, a notification channel one per user and kind: the
look-up before a save cannot see the row another tab's save has not committed, and the second
insert met the primary key as a 500. The choice the user asked for last is the one kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.db import Database
from portfolio.models import User
from portfolio.services import accounts, notifications, watching
from portfolio.services.common import project_by_slug
from tests.racing import sent_while_held
from tests.web.auth import Browser
from tests.web.conftest import SignedIn

SLUG = "london-datastore-replatforming"  # the GLA's


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these writes)."""
    return "postgresql"


def _watching(session: Session, user: User) -> bool:
    return watching.is_watching(session, accounts.actor_for(user),
                                project_by_slug(session, SLUG))


def _comments_by(session: Session, user: User) -> str:
    return notifications.preferences(session, user.id)["comment"]


# (the other tab's save, this tab's save of the opposite, how to read the choice, it as asked)
SAVES: dict[str, tuple[Callable[[Session, User], Any], Callable[[Browser], Any],
                       Callable[[Session, User], Any], Any]] = {
    "watch on the page": (
        lambda s, u: watching.set_watching(session=s, actor=accounts.actor_for(u), slug=SLUG,
                                           watching=False),
        lambda c: c.post(f"/projects/{SLUG}/watch", data={"csrf_token": c.csrf, "watching": "1"},
                         follow_redirects=False),
        _watching, True),
    "watch by the API": (
        lambda s, u: watching.set_watching(session=s, actor=accounts.actor_for(u), slug=SLUG,
                                           watching=True),
        lambda c: c.put(f"/api/v1/projects/{SLUG}/watch", json={"watching": False}),
        _watching, False),
    "preferences on the page": (
        lambda s, u: notifications.set_preferences(session=s, user_id=u.id,  # type: ignore[arg-type]
                                                   choices={"comment": "email"}),
        lambda c: c.post("/account/notifications", data={"csrf_token": c.csrf,
                                                         "pref_comment": "digest"},
                         follow_redirects=False),
        _comments_by, "digest"),
    "preferences by the API": (
        lambda s, u: notifications.set_preferences(session=s, user_id=u.id,  # type: ignore[arg-type]
                                                   choices={"comment": "email"}),
        lambda c: c.put("/api/v1/notifications/preferences",
                        json={"channels": {"comment": "off"}}),
        _comments_by, "off"),
}


@pytest.mark.parametrize("kind", list(SAVES))
def test_a_choice_saved_while_another_tab_saves_it_is_saved_not_a_server_error(
        signed_in: SignedIn, london: Database, kind: str) -> None:
    other_tab, this_tab, chosen, asked = SAVES[kind]
    client = signed_in("lead", "GLA", html=kind.endswith("page"))
    with london.read() as session:
        user = session.execute(select(User).order_by(col(User.id).desc())).scalars().first()
        assert user is not None
        session.expunge(user)

    # The other tab's first save of the choice is written, not yet committed.
    def meanwhile(session: Session) -> None:
        other_tab(session, user)

    answer = sent_while_held(london, meanwhile, lambda: this_tab(client))
    assert answer.status_code in {200, 303}, answer.text[:400]
    with london.read() as session:
        assert chosen(session, user) == asked
