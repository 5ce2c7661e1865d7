"""A 409 from the API shows the record as the API's GET shows it, never its database row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import token_for
from web.app import create_app

PROJECT = "/api/v1/projects/connectivity-gap-mapping"
DATASET = "/api/v1/datasets/addressbase-premium-uprn"
AGREEMENT = "/api/v1/agreements/london-street-works-dsa"
# Columns that name rows by their database ids: nothing a client can use.
ROW_IDS = {"id", "owner_id", "publisher_id", "override_by_id", "organisation_id"}


@pytest.fixture
def client(settings: Settings, london: Database) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {token_for(london, 'cdo')}"}
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client


def row_ids(value: Any) -> set[str]:
    """Return the database-id keys anywhere in a JSON value."""
    if isinstance(value, dict):
        return (set(value) & ROW_IDS) | {k for v in value.values() for k in row_ids(v)}
    if isinstance(value, list):
        return {k for v in value for k in row_ids(v)}
    return set()


def project_fields(client: TestClient) -> dict[str, Any]:
    """Return the project's fields as a full edit (PUT) sends them."""
    got = client.get(PROJECT).json()
    names = ("title", "description", "theme", "status", "cost_gbp", "effort_pm", "start_date",
             "end_date", "personal_data", "dpia_status", "mandatory", "mandatory_justification",
             "reach_people", "confidence_pct", "time_criticality")
    return {name: got[name] for name in names} | {"owner": got["organisation"]}


@pytest.mark.parametrize("stale_edit", [
    lambda client: client.patch(PROJECT, json={"version": 1, "title": "Mine"}),
    lambda client: client.put(PROJECT, json=project_fields(client) | {
        "version": 1, "title": "Mine"}),
    lambda client: client.post(f"{PROJECT}/decisions", json={
        "decision": "defer", "rationale": "Next year's budget", "version": 1}),
], ids=["patch", "put", "decision"])
def test_a_stale_project_edit_shows_the_project_as_get_does(client: TestClient,
                                                           stale_edit: Any) -> None:
    # `current` was the project's row: its id, owner_id and override_by_id, and no
    # organisation code, partners or datasets.
    assert client.patch(PROJECT, json={"version": 1, "title": "Theirs"}).status_code == 200
    refused = stale_edit(client)
    assert refused.status_code == 409, refused.text
    assert refused.json()["current"] == client.get(PROJECT).json()


@pytest.mark.parametrize("stale_edit", [
    lambda client: client.patch(DATASET, json={"version": 1, "title": "Mine"}),
    lambda client: client.put(DATASET, json={
        k: v for k, v in client.get(DATASET).json().items()
        if k in ("description", "access", "licence", "update_frequency", "drl")} | {
        "publisher": "GLA", "title": "Mine", "version": 1}),
], ids=["patch", "put"])
def test_a_stale_dataset_edit_shows_the_dataset_as_get_does(client: TestClient,
                                                           stale_edit: Any) -> None:
    # `current` was the dataset's row: its id and publisher_id, no publisher code or name.
    assert client.patch(DATASET, json={"version": 1, "title": "Theirs"}).status_code == 200
    refused = stale_edit(client)
    assert refused.status_code == 409, refused.text
    assert refused.json()["current"] == client.get(DATASET).json()


def test_a_stale_agreement_edit_shows_the_agreements_public_fields(client: TestClient) -> None:
    # `current` was the agreement's row (its id) with parties as "GLA:controller" strings.
    got = client.get(AGREEMENT).json()
    body = {k: got[k] for k in ("title", "purpose", "lawful_basis", "special_category_condition",
                                "dpia_reference", "signed_on", "review_on", "expires_on",
                                "status", "document_url")} | {
        "parties": [{"organisation": p["organisation"], "role": p["role"]}
                    for p in got["parties"]],
        "datasets": [d["code"] for d in got["datasets"]]}
    assert client.put(AGREEMENT, json=body | {"version": 1, "title": "Theirs"}).status_code == 200
    refused = client.put(AGREEMENT, json=body | {"version": 1, "title": "Mine"})
    assert refused.status_code == 409, refused.text
    current, now = refused.json()["current"], client.get(AGREEMENT).json()
    assert row_ids(current) == set(), current
    # As GET shows it, less what rests on the ranking (the links' value) and the parties' ids.
    shown = {k: v for k, v in now.items() if k not in ("links", "value", "value_waiting")}
    shown["parties"] = [{k: v for k, v in party.items() if k not in ROW_IDS}
                        for party in now["parties"]]
    assert current == shown


def test_a_stale_project_patch_names_the_owner_as_the_edit_does(client: TestClient) -> None:
    # `conflicts` and `changed` named `owner_id` with organisations' database ids; the edit
    # sends `owner` as an organisation's code.
    theirs = client.patch(PROJECT, json={"version": 1, "owner": "E09000001", "title": "Theirs"})
    assert theirs.status_code == 200, theirs.text
    refused = client.patch(PROJECT, json={"version": 1, "owner": "E09000002", "title": "Mine"})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["conflicts"] == {
        "owner": {"base": "GLA", "theirs": "E09000001", "mine": "E09000002"},
        "title": {"base": "Connectivity gap mapping", "theirs": "Theirs", "mine": "Mine"}}
    assert body["changed"] == {"owner": "E09000001", "title": "Theirs"}
    assert "owner_id" not in body["detail"]
    assert row_ids({k: v for k, v in body.items() if k != "current"}) == set()


def test_a_merged_project_patch_names_what_it_applied_and_kept_as_the_edit_does(
        client: TestClient) -> None:
    assert client.patch(PROJECT, json={"version": 1, "owner": "E09000001"}).status_code == 200
    merged = client.patch(PROJECT, json={"version": 1, "title": "Mine"})
    assert merged.status_code == 200, merged.text
    assert (merged.json()["applied"], merged.json()["kept"]) == (["title"], ["owner"])
    mine = client.patch(PROJECT, json={"version": 3, "owner": "E09000002"})
    assert mine.json()["applied"] == ["owner"]


def test_a_stale_review_decision_names_the_owner_as_the_edit_does(client: TestClient) -> None:
    assert client.patch(PROJECT, json={"version": 1, "owner": "E09000001"}).status_code == 200
    refused = client.post(f"{PROJECT}/decisions", json={
        "decision": "defer", "rationale": "Next year's budget", "version": 1})
    assert refused.status_code == 409, refused.text
    assert refused.json()["changed"] == {"owner": "E09000001"}


def test_a_stale_dataset_patch_names_the_publisher_as_the_edit_does(client: TestClient) -> None:
    # `conflicts` and `changed` named `publisher_id` with organisations' database ids.
    theirs = client.patch(DATASET, json={"version": 1, "publisher": "E09000001"})
    assert theirs.status_code == 200, theirs.text
    refused = client.patch(DATASET, json={"version": 1, "publisher": "E09000002"})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["conflicts"] == {
        "publisher": {"base": "GLA", "theirs": "E09000001", "mine": "E09000002"}}
    assert body["changed"] == {"publisher": "E09000001"}
    assert "publisher_id" not in body["detail"]
    assert row_ids({k: v for k, v in body.items() if k != "current"}) == set()


def test_a_stale_dataset_put_names_what_changed_as_the_edit_does(client: TestClient) -> None:
    got = client.get(DATASET).json()
    body = {k: got[k] for k in ("title", "description", "access", "licence",
                                "update_frequency", "drl")} | {"version": 1}
    assert client.put(DATASET, json=body | {"publisher": "E09000001"}).status_code == 200
    refused = client.put(DATASET, json=body | {"publisher": "GLA"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["changed"] == {"publisher": "E09000001"}


def test_a_merged_dataset_patch_names_what_it_applied_and_kept_as_the_edit_does(
        client: TestClient) -> None:
    assert client.patch(DATASET, json={"version": 1, "publisher": "E09000001"}).status_code == 200
    merged = client.patch(DATASET, json={"version": 1, "title": "Mine"})
    assert merged.status_code == 200, merged.text
    assert (merged.json()["applied"], merged.json()["kept"]) == (["title"], ["publisher"])
