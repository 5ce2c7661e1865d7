"""The API keeps its OpenAPI contract: schemathesis with all its checks finds no failure."""

from __future__ import annotations

import re

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portfolio.db import Database
from portfolio.services.scenarios import ROADMAP_ONLY
from portfolio.settings import Settings
from tests.web.auth import token_for
from web.app import create_app

# Bounded for the suite: each operation gets this many valid and this many invalid requests.
EXAMPLES_PER_OPERATION = 6
# Solving forty plans per example says nothing more about the contract than /plan does.
SLOW_OPERATIONS = r"/api/v1/plan/frontier"
# Rules a JSON schema cannot state: a code that must name an existing record, a rule across
# fields, a date against today. A schema-valid request refused (422) for breaking one of these,
# and only these, is a correct answer; every other check still runs on it.
PROJECT_RULES = {"owner", "start_date", "end_date", "mandatory_justification", "dpia_status",
                 "status", "status_reason"}
AGREEMENT_RULES = {"parties", "datasets", "lawful_basis", "signed_on", "review_on", "expires_on",
                   "status", "document_url"}
BEYOND_SCHEMA: dict[str, set[str]] = {
    "POST /api/v1/projects": PROJECT_RULES,
    "PUT /api/v1/projects/{slug}": PROJECT_RULES,
    "PATCH /api/v1/projects/{slug}": PROJECT_RULES,
    "PUT /api/v1/datasets/{code}": {"publisher", "url"},
    "PATCH /api/v1/datasets/{code}": {"publisher", "url"},
    "POST /api/v1/projects/{slug}/dependencies": {"depends_on"},
    "POST /api/v1/projects/{slug}/status": {"status", "reason"},
    "POST /api/v1/projects/{slug}/decisions": {"decision", "rationale"},
    "PUT /api/v1/projects/{slug}/override": {"expires_on"},
    "POST /api/v1/projects/{slug}/join": {"organisation"},
    "PUT /api/v1/projects/{slug}/benefits": {"measured_on", "version"},
    "PUT /api/v1/capacities": {"organisation", "quarter"},
    "DELETE /api/v1/capacities/{organisation}/{quarter}": {"organisation", "quarter"},
    # The weights are given one way, once: `weights`, or the two maps (a rule across fields).
    "PUT /api/v1/profiles/{name}": {"weights", "dimension_weights", "criterion_weights",
                                    "ahp_matrix", "description"},
    "POST /api/v1/ahp": {"matrix", "labels", "assessors"},
    # A plan needs a capacity and a roadmap does not, and only a roadmap takes a horizon, a
    # discount rate and deadlines: rules across `kind` and those fields; a name and a
    # description hold no character a spreadsheet cannot (as every text input).
    "POST /api/v1/scenarios": {"profile", "force_in", "force_out", "capacity", "name",
                               "description", *ROADMAP_ONLY},
    "PUT /api/v1/scenarios/{scenario_id}": {"profile", "force_in", "force_out", "capacity",
                                            "name", "description", *ROADMAP_ONLY},
    "GET /api/v1/scenarios/compare": {"scenarios", "scenario"},
    "POST /api/v1/snapshots": {"profile"},
    "GET /api/v1/roadmap": {"deadline", "today", "horizon"},
    "GET /api/v1/export": {"table"},
    "GET /api/v1/snapshots/{snapshot_id}/export": {"table"},
    # Projects forced in or out that the plan cannot take are said by their field.
    "GET /api/v1/plan": {"plan", "force_in", "force_out"},
    # "portal": the portal could not be read (an address that is none, no answer, no JSON).
    "POST /api/v1/catalogue/harvest": {"url", "publisher", "portal"},
    "POST /api/v1/import/projects": {"file"},
    "POST /api/v1/collaboration/dismiss": {"group"},
    "POST /api/v1/datasets": {"code", "publisher", "url"},
    # Evidence that is more than spaces; a stage that is one the project records, done by
    # today, and a DPIA stage's status that is the project's.
    "POST /api/v1/datasets/{code}/readiness": {"evidence"},
    "PUT /api/v1/projects/{slug}/ig/{stage}": {"stage", "dated_on", "status"},
    # An agreement: a code already taken, parties and datasets that must exist, the dates
    # against its status and each other, a web address for its document.
    "POST /api/v1/agreements": AGREEMENT_RULES | {"code"},
    "PUT /api/v1/agreements/{code}": AGREEMENT_RULES,
    # A day from today on, and at most ten years ahead.
    "GET /api/v1/agreements/as-of": {"date"},
    # A link's own word other than not_needed or none needs an agreement record.
    "PUT /api/v1/projects/{slug}/datasets/{dataset}": {"dataset", "sharing_agreement",
                                                       "agreement"},
    # A filter's organisation code must name an organisation; a backlog status, one of its view.
    "GET /api/v1/projects": {"organisation"},
    "GET /api/v1/datasets": {"publisher"},
    "GET /api/v1/benefits": {"organisation"},
    "GET /api/v1/backlog": {"organisation", "status"},
    "GET /api/v1/graph": {"organisation"},
    "GET /api/v1/collaboration": {"organisation"},
    "GET /api/v1/agreements": {"party"},
}


def beyond_schema(label: str, response) -> bool:  # type: ignore[no-untyped-def]
    """Tell whether a 422 names only rules of this operation that no schema can state."""
    if response.status_code != 422:
        return False
    try:
        errors = response.json().get("errors")
    except ValueError:
        return False
    # An import reports its problems as a list of rows; a harvest says why the portal failed.
    named = (set(errors) if isinstance(errors, dict) else {"file"} if isinstance(errors, list)
             else {"portal"})
    return bool(named) and named <= BEYOND_SCHEMA.get(label, set())


@pytest.fixture
def backend() -> str:
    """Check the contract over SQLite: it is about the API's shapes, not the database."""
    return "sqlite"


def contract_failures(app, token: str, examples: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Send generated requests to every /api/v1 operation and run all checks on each answer."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1") or re.search(SLOW_OPERATIONS, operation.path):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                checked(operation, mode, token, examples, failures)()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid request to send.
                assert mode == GenerationMode.NEGATIVE, operation.path
    return failures


def checked(operation, mode, token: str, examples: int,  # type: ignore[no-untyped-def]
            failures: list[str]):
    """Return a hypothesis test that sends one operation's requests and records failures."""
    label = f"{operation.method.upper()} {operation.path}"

    # Derandomized: the suite sends the same requests every run (bench/ can explore more).
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        excluded = [positive_data_acceptance] if beyond_schema(label, response) else []
        try:
            case.validate_response(response, excluded_checks=excluded)
        except FailureGroup as group:  # every failure is listed at the end
            failures.extend(
                f"{label} ({mode.value}): {failure.title}; {case.as_curl_command()} -> "
                f"{response.status_code} {response.text[:400]}" for failure in group.exceptions)

    return call


def test_schemathesis_with_all_checks_finds_no_failure(settings: Settings,
                                                         london: Database) -> None:
    app = create_app(settings)
    failures = contract_failures(app, token_for(london, "admin"), EXAMPLES_PER_OPERATION)
    assert not failures, "\n\n".join(failures)


def test_a_harvest_of_an_address_that_is_none_is_refused(
        settings: Settings, london: Database) -> None:
    # Found by schemathesis: httpx and urllib refused these addresses and the API answered 500.
    headers = {"Authorization": f"Bearer {token_for(london, 'cdo')}"}
    with TestClient(create_app(settings)) as client:
        control = client.post("/api/v1/catalogue/harvest", json={"url": "https://\u0002"},
                              headers=headers)
        bracket = client.post("/api/v1/catalogue/harvest", json={"url": "http://["},
                              headers=headers)
    assert control.status_code == 422
    assert "not a web address" in control.json()["detail"]
    assert bracket.status_code == 422
    assert "starting with http://" in bracket.json()["errors"]["url"]


@pytest.mark.parametrize("url", ["https://.", "https://a..b/", f"https://{'x' * 64}.org"])
def test_a_harvest_of_a_host_with_an_empty_or_overlong_label_is_refused(
        settings: Settings, london: Database, url: str) -> None:
    # Found by the API fuzz: the host's IDNA encoding failed in the socket and the API
    # answered 500.
    headers = {"Authorization": f"Bearer {token_for(london, 'cdo')}"}
    with TestClient(create_app(settings)) as client:
        refused = client.post("/api/v1/catalogue/harvest", json={"url": url}, headers=headers)
    assert refused.status_code == 422, refused.text
    assert "not a web address" in refused.json()["detail"]


def test_every_api_body_is_typed_and_every_operation_declares_its_refusals(
        settings: Settings, london: Database) -> None:
    # /docs showed an untyped object for bodies read as dict[str, Any].
    spec = create_app(settings).openapi()
    untyped, undeclared = [], []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if "$ref" not in content["schema"] and "properties" not in content["schema"]:
                    untyped.append(label)
            if not {"401", "422"} <= set(operation["responses"]):
                undeclared.append(label)
    assert untyped == [] and undeclared == []


def test_the_schema_documents_the_api_and_the_health_checks_and_no_page(
        settings: Settings, london: Database) -> None:
    # The agreements and catalogue pages were listed as JSON operations answering
    # HTTPValidationError, so a client generated from the schema had methods for HTML forms.
    spec = create_app(settings).openapi()
    pages = [path for path in spec["paths"]
             if not path.startswith("/api/v1/") and path not in {"/healthz", "/readyz"}]
    assert pages == []
