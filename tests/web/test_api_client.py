"""A client generated from /openapi.json by openapi-python-client drives the API.

The client is generated into a temporary directory for the test run (never committed): if the
schema stops describing what the API takes and answers, these calls stop type-checking at run
time or fail to parse the answers.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import token_for
from web.app import create_app

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Generate the client package from the app's schema and import it."""
    where = tmp_path_factory.mktemp("client")
    schema_settings = Settings(database_url=f"sqlite:///{where}/schema.db", environment="test",
                               secret_key="schema")
    schema = where / "openapi.json"
    schema.write_text(json.dumps(create_app(schema_settings).openapi()))
    done = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(schema), "--meta", "none",
         "--output-path", str(where / "portfolio_client")],
        cwd=where, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("portfolio_client")
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n.split(".")[0] == "portfolio_client"]:
            del sys.modules[name]


@pytest.fixture
def client(generated: ModuleType, settings: Settings, london: Database) -> Iterator[Any]:
    """Return a generated client signed in as the CDO, talking to the app in process."""
    token = token_for(london, "cdo")
    api = generated.AuthenticatedClient(base_url="http://testserver", token=token)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as http:
        api.set_httpx_client(http)
        yield api


def operation(name: str) -> Any:
    return importlib.import_module(f"portfolio_client.api.api.{name}")


def model(name: str) -> Any:
    return getattr(importlib.import_module("portfolio_client.models"), name)


def test_the_generated_client_lists_projects_as_typed_models(client: Any) -> None:
    projects = operation("list_projects").sync(client=client)
    assert projects and all(type(p).__name__ == "ProjectSummary" for p in projects)
    assert all(p.slug and p.version >= 1 for p in projects)


def test_the_generated_client_creates_then_patches_with_the_version_read(client: Any) -> None:
    created = operation("create_project").sync(client=client, body=model("ProjectCreate")(
        slug="client-made", title="Made by the generated client", owner="GLA",
        theme=model("Theme")("housing")))
    assert type(created).__name__ == "ProjectSummary" and created.version == 1
    patched = operation("patch_project").sync(
        slug="client-made", client=client,
        body=model("ProjectPatchIn")(version=created.version, title="Renamed by the client"))
    assert type(patched).__name__ == "ProjectPatched"
    assert patched.title == "Renamed by the client" and patched.applied == ["title"]
    stale = operation("patch_project").sync_detailed(
        slug="client-made", client=client,
        body=model("ProjectPatchIn")(version=created.version, title="A third title"))
    assert stale.status_code == 409 and type(stale.parsed).__name__ == "ErrorOut"


def test_the_generated_client_refuses_a_bad_field_with_the_documented_error(client: Any) -> None:
    answer = operation("create_project").sync_detailed(client=client, body=model(
        "ProjectCreate")(slug="bad-cost", title="Bad cost", owner="GLA",
                         theme=model("Theme")("housing"), cost_gbp=-5))
    assert answer.status_code == 422
    assert "cost_gbp" in answer.parsed.errors.additional_properties


def test_the_generated_client_reads_the_backlog_and_a_plan(client: Any) -> None:
    rows = operation("get_backlog").sync(client=client, fresh=True)
    assert rows and [row.rank for row in rows] == sorted(row.rank for row in rows)
    assert all(type(row).__name__ == "BacklogRow" for row in rows)
    plan = operation("get_plan").sync(client=client, budget=2_000_000.0, capacity=120.0)
    assert type(plan).__name__ == "PlanPublic" and plan.status in {"optimal", "feasible"}
    assert set(plan.selected) <= {row.slug for row in rows} | {
        p.slug for p in operation("list_projects").sync(client=client)}
