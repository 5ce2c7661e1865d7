"""A JSON true or false where the API asks for a number is refused, naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.json_numbers import number_leaves, pydantic_bounds, true_at
from tests.web.auth import token_for
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """Run over SQLite: a body is refused before any database is asked."""
    return "sqlite"


@pytest.fixture
def client(settings: Settings, london: Database) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {token_for(london, 'admin')}"}
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/api/v1/projects", {"slug": "debt-advice", "title": "Debt advice",
                                  "owner": "GLA", "theme": "housing", "effort_pm": True},
     "effort_pm"),
    ("POST", "/api/v1/projects", {"slug": "debt-advice", "title": "Debt advice",
                                  "owner": "GLA", "theme": "housing", "cost_gbp": False},
     "cost_gbp"),
    ("PATCH", "/api/v1/projects/london-atlas", {"version": True, "title": "Debt"}, "version"),
    ("PATCH", "/api/v1/projects/london-atlas", {"version": 1, "confidence_pct": True},
     "confidence_pct"),
    ("PUT", "/api/v1/capacities", {"organisation": "GLA", "quarter": "2027 Q1",
                                   "person_months": True}, "person_months"),
    ("POST", "/api/v1/scenarios", {"name": "Winter", "budget": True}, "budget"),
    ("PUT", "/api/v1/projects/london-atlas/override",
     {"value": True, "justification": "A statutory duty"}, "value"),
    ("PUT", "/api/v1/profiles/Quick%20wins", {"dimension_weights": {"impact": True},
                                          "criterion_weights": {}}, "dimension_weights.impact"),
    ("POST", "/api/v1/ahp", {"labels": ["a", "b"], "matrix": [[1, True], [1, 1]]},
     "matrix.0.1"),
    ("PUT", "/api/v1/projects/london-atlas/benefits", {
        "outcome": "Fewer evictions", "measured_on": "2026-04-01", "people_reached": True},
     "people_reached"),
])
def test_a_boolean_for_a_number_is_refused_naming_the_field(
        client: TestClient, method: str, path: str, body: dict[str, Any], field: str) -> None:
    # Pydantic's lax mode read true as 1 and false as 0: {"effort_pm": true} saved one
    # person-month.
    refused = client.request(method, path, json=body)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert field in errors, errors
    assert "number" in errors[field], errors[field]
    assert "true" in errors[field] or "false" in errors[field], errors[field]


def json_bodies(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield each operation that takes a JSON body, with the body's schema."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                yield method.upper(), path, content["application/json"]["schema"]


def test_every_number_in_every_json_body_refuses_a_boolean(client: TestClient) -> None:
    # The whole class, read from /openapi.json: a number field added later is covered too.
    spec = client.get("/openapi.json").json()
    tried = []
    for method, path, schema in json_bodies(spec):
        url = path.replace("{", "").replace("}", "")  # any name will do: the body is refused
        for leaf in dict.fromkeys(number_leaves(schema, spec)):
            refused = client.request(method, url, json=true_at(leaf))
            field = ".".join(leaf)
            tried.append(f"{method} {path} {field}")
            assert refused.status_code == 422, (method, path, field, refused.text)
            message = refused.json()["errors"].get(field, "")
            assert "number" in message and "true" in message, (method, path, field,
                                                               refused.json())
    assert len(tried) >= 40, tried


def test_the_contract_still_states_every_bound(client: TestClient) -> None:
    # Refusing true before a field's bounds are checked hid them: /openapi.json said "ge": 0,
    # which no client reads, where it said "minimum": 0.
    assert pydantic_bounds(client.get("/openapi.json").json()) == []
