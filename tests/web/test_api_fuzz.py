"""schemathesis against /openapi.json with a signed-in client: no input makes the API answer 5xx."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import token_for
from web.app import create_app

# A bounded run for the suite; bench/bench_fuzz.py runs a longer one and prints its counts.
EXAMPLES_PER_OPERATION = 12
# Solving forty plans per example says nothing more about input handling than /plan does.
SLOW_OPERATIONS = r"/api/v1/plan/frontier"


@pytest.fixture
def backend() -> str:
    """Fuzz the API over SQLite: it probes input handling, not the database."""
    return "sqlite"


def fuzz(app, token: str, examples: int, skip: str = SLOW_OPERATIONS) -> dict[str, int]:  # type: ignore[no-untyped-def]  # noqa: E501
    """Send generated requests to every operation; return how many each got, failing on 5xx."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    counts: dict[str, int] = {}
    for result in loaded.get_all_operations():
        operation = result.ok()
        if re.search(skip, operation.path):
            continue
        label = f"{operation.method.upper()} {operation.path}"
        counts[label] = 0

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        @given(case=operation.as_strategy())
        def call(case) -> None:  # type: ignore[no-untyped-def]  # noqa: B023 - run at once
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            counts[label] += 1  # noqa: B023 - called before the loop moves on
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:300]}")

        call()
    return counts


def test_no_generated_input_makes_the_api_fail(settings: Settings, london: Database) -> None:
    app = create_app(settings)
    counts = fuzz(app, token_for(london, "admin"), EXAMPLES_PER_OPERATION)
    assert len(counts) >= 15
    assert sum(counts.values()) >= 5 * len(counts)
