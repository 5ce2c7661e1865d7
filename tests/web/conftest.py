"""Browsers signed in to the London demo, shared by the web tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in
from web.app import create_app

SignedIn = Callable[..., Browser]


@pytest.fixture
def signed_in(settings: Settings, london: Database) -> Iterator[SignedIn]:
    """Return a maker of browsers on one app, each signed in as a role; all closed after."""
    app = create_app(settings)
    made: list[Browser] = []

    def browser(role: str = "admin", organisation: str | None = None, *,
                html: bool = False) -> Browser:
        client = Browser(app, headers={"accept": "text/html"} if html else None)
        client.__enter__()
        made.append(client)
        sign_in(client, london, role, organisation)
        return client

    yield browser
    for client in made:
        client.__exit__(None, None, None)
