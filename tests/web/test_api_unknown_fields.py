"""Every JSON body the API takes refuses a field it does not know, naming it.

Found in review: a decision sent with `verison` (misspelt) was recorded without its version
check, and scenarios, capacities, profiles and AHP took any extra field in silence.
"""

from __future__ import annotations

import re

import pytest

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import Browser, token_for
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """Bodies are read before any database work: SQLite is enough."""
    return "sqlite"


def json_bodies(settings: Settings) -> list[tuple[str, str]]:
    """Return (method, path) of every API operation that takes a JSON object body."""
    schema = create_app(settings).openapi()
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body and path.startswith("/api/"):
                found.append((method.upper(), path))
    return found


def test_every_json_body_refuses_an_unknown_field(settings: Settings, db: Database) -> None:
    token = token_for(db, "admin")
    operations = json_bodies(settings)
    assert len(operations) > 20
    accepted = []
    with Browser(create_app(settings)) as client:
        client.headers["authorization"] = f"Bearer {token}"
        for method, path in operations:
            concrete = re.sub(r"\{[^}]*id\}", "1", path)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            answer = client.request(method, concrete, json={"junk": 1})
            errors = answer.json().get("errors", {}) if answer.status_code == 422 else {}
            if "junk" not in errors:
                accepted.append(f"{method} {path}: {answer.status_code} {answer.text[:120]}")
    assert not accepted, "\n".join(accepted)
