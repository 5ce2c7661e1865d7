"""Migration 0034 keeps an identity's groups as a JSON list, a distinguished name whole."""

from __future__ import annotations

import json

from sqlalchemy import text

from portfolio import migrate
from portfolio.db import make_engine

ROWS = """
INSERT INTO user_account (id, email, name, role, is_active, must_change_password, created_at)
VALUES (1, 'ann@example.london', 'Ann', NULL, true, false, CURRENT_TIMESTAMP);
INSERT INTO external_identity (id, issuer, subject, user_id, groups, last_sign_in_at)
VALUES (1, 'https://idp', 'ann', 1, :groups, CURRENT_TIMESTAMP),
       (2, 'https://idp', 'bob', 1, '', CURRENT_TIMESTAMP)
"""


def test_comma_joined_groups_become_a_list_with_distinguished_names_whole(
        empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0033")
    joined = "staff,CN=Data Team,OU=Groups,DC=gla,CN=Leads\\, North,OU=Groups,DC=gla"
    with engine.begin() as connection:
        for statement in ROWS.strip().split(";"):
            connection.execute(text(statement), {"groups": joined})
    migrate.upgrade(engine)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT id, groups FROM external_identity")).all())
    assert json.loads(stored[1]) == ["staff", "CN=Data Team,OU=Groups,DC=gla",
                                     "CN=Leads\\, North,OU=Groups,DC=gla"]
    assert json.loads(stored[2]) == []
    migrate.downgrade(engine, "0033")
    with engine.connect() as connection:
        back = connection.execute(text("SELECT groups FROM external_identity WHERE id = 1")
                                  ).scalar_one()
    engine.dispose()
    assert back == joined
