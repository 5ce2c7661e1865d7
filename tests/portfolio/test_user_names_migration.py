"""Migration 0033 renames users whose name was their email address by its local part."""

from __future__ import annotations

from sqlalchemy import text

from portfolio import migrate
from portfolio.db import make_engine

USERS = """
INSERT INTO user_account (id, email, name, role, is_active, must_change_password, created_at)
VALUES (1, 'new.lead@example.london', 'New.Lead@Example.London', 'researcher', true, false,
        CURRENT_TIMESTAMP),
       (2, 'ann@example.london', 'Ann Other', 'cdo', true, false, CURRENT_TIMESTAMP)
"""


def test_a_name_that_is_the_users_address_becomes_its_local_part(
        empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0032")
    with engine.begin() as connection:
        connection.execute(text(USERS))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        names = dict(connection.execute(text("SELECT id, name FROM user_account")).all())
    engine.dispose()
    assert names == {1: "New.Lead", 2: "Ann Other"}
