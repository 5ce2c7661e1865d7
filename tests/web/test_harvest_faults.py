"""The harvest page says in words why a portal could not be read (no Python class names)."""

from __future__ import annotations

import re

import pytest

from portfolio.settings import Settings
from tests.oidc_provider import free_port
from tests.web.auth import Browser
from tests.web.conftest import SignedIn


@pytest.fixture
def backend() -> str:
    """In-process harvests run on SQLite; the queued ones are in tests/portfolio."""
    return "sqlite"


CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Error|Failed|Exception)\b")


def test_an_unreachable_portal_is_said_in_words(settings: Settings,
                                                signed_in: SignedIn) -> None:
    client: Browser = signed_in("cdo", html=True)
    url = f"http://127.0.0.1:{free_port()}/api/3"
    page = client.get("/catalogue/harvest", params={"url": url, "publisher": "GLA"})
    assert page.status_code == 422
    words = " ".join(page.text.split())
    assert "could not be reached" in words
    assert not CLASS_NAME.findall(words), CLASS_NAME.findall(words)
