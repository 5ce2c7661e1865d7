"""Fixtures for the outside review's findings: an app with one organisation and project."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portfolio.db import Database
from portfolio.settings import Settings
from tests.factories import make_organisation, make_project
from tests.web.auth import Browser, sign_in
from web.app import create_app


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    """Build the app over a database holding one borough and one project."""
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_project(session, "one-view", title="One View")
    return create_app(settings)


@pytest.fixture
def cdo(app, db: Database) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Yield a browser signed in as a CDO."""
    with Browser(app) as client:
        sign_in(client, db, "cdo")
        yield client


@pytest.fixture
def london_cdo(settings: Settings, london: Database) -> Iterator[Browser]:
    """Yield a browser signed in as a CDO over the London demo portfolio."""
    with Browser(create_app(settings)) as client:
        sign_in(client, london, "cdo")
        yield client
