"""The dataset edit page: the same merge rules as projects, confirmations and plain errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from portfolio.db import Database
from portfolio.models import Dataset
from portfolio.settings import Settings
from tests.factories import make_dataset, make_organisation
from tests.web.auth import Browser, sign_in
from tests.web.pages_html import parse_html
from web.app import create_app


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[Browser]:
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_organisation(session, "E09000007", name="Camden")
        make_dataset(session, "council-tax", title="Council tax", description="First")
    with Browser(create_app(settings), headers={"accept": "text/html"}) as test_client:
        sign_in(test_client, db)
        yield test_client


def form_of(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    form = page.find("form", class_="dataset-form")
    data: dict[str, str] = {}
    for control in form.find_all("input"):
        if control.get("type") == "radio" and control.get("checked") is None:
            continue
        data[control.get("name") or ""] = control.get("value") or ""
    for control in form.find_all("textarea"):
        data[control.get("name") or ""] = control.text()
    for control in form.find_all("select"):
        chosen = control.find("option", selected="")
        data[control.get("name") or ""] = chosen.get("value") if chosen else ""
    return data


def dataset(db: Database) -> Dataset:
    with db.read() as session:
        return session.exec(select(Dataset).where(Dataset.code == "council-tax")).one()


def test_a_stale_dataset_edit_keeps_theirs_and_asks_only_about_both(
    client: Browser, db: Database
) -> None:
    page = parse_html(client.get("/datasets/council-tax/edit").text)
    mine = form_of(page) | {"title": "Council tax accounts", "drl": "C1"}
    theirs = form_of(page) | {"description": "Theirs", "drl": "B2"}
    assert client.post("/datasets/council-tax/edit", data=theirs).status_code == 200
    response = client.post("/datasets/council-tax/edit", data=mine)
    assert response.status_code == 409
    again = parse_html(response.text)
    rows = [r.find("th").text() for r in again.by_id("conflicts").find_all("tr")[1:]]
    assert rows == ["Readiness level (bands C and B)"]
    assert again.by_id("f-description").text() == "Theirs"
    done = client.post("/datasets/council-tax/edit",
                       data=form_of(again) | {"choose_drl": "mine"})
    assert done.status_code == 200
    assert "Saved your changes to" in parse_html(done.text).by_id("flash").text()
    saved = dataset(db)
    assert (saved.title, saved.description, saved.drl) == ("Council tax accounts", "Theirs", "C1")


def test_a_publisher_both_changed_shows_both_organisations_by_name(
    client: Browser, db: Database
) -> None:
    # The refusal names the publisher by its code now (it named `publisher_id`, with ids).
    with db.write() as session:
        make_organisation(session, "E09000009", name="Ealing")
    page = parse_html(client.get("/datasets/council-tax/edit").text)
    mine = form_of(page) | {"publisher": "E09000009"}
    theirs = form_of(page) | {"publisher": "E09000007"}
    saved = client.post("/datasets/council-tax/edit", data=theirs)
    assert "Saved your changes to publisher" in parse_html(saved.text).by_id("flash").text()
    response = client.post("/datasets/council-tax/edit", data=mine)
    assert response.status_code == 409
    rows = parse_html(response.text).by_id("conflicts").find_all("tr")[1:]
    assert [r.find("th").text() for r in rows] == ["Publisher"]
    assert "Keep: Camden" in rows[0].text() and "Use mine: Ealing" in rows[0].text()
    unchosen = client.post("/datasets/council-tax/edit",
                           data=form_of(parse_html(response.text)))
    assert unchosen.status_code == 422
    row = parse_html(unchosen.text).by_id("conflicts").find_all("tr")[1]
    assert "Keep: Camden" in row.text() and "Use mine: Ealing" in row.text()


def test_a_dataset_edit_error_is_shown_by_its_field_in_plain_english(
    client: Browser, db: Database
) -> None:
    page = parse_html(client.get("/datasets/council-tax/edit").text)
    response = client.post("/datasets/council-tax/edit", data=form_of(page) | {"title": ""})
    assert response.status_code == 422
    assert parse_html(response.text).error_for("f-title") == "This is required: fill it in."
    assert dataset(db).version == 1


def test_a_lead_edits_only_their_own_datasets(settings: Settings, db: Database,
                                              client: Browser) -> None:
    with Browser(create_app(settings), headers={"accept": "text/html"}) as lead:
        sign_in(lead, db, "lead", "E09000007")
        assert lead.get("/datasets/council-tax/edit").status_code == 403
        page = parse_html(lead.get("/datasets/council-tax").text)
        assert "Edit the dataset" not in page.text()


# Found in review: blanking the dataset's address on its edit page answered a bare 500
# (`url` was left out of the values to write when empty), losing everything typed.
def test_clearing_a_datasets_address_saves_it_cleared(client: Browser, db: Database) -> None:
    page = parse_html(client.get("/datasets/council-tax/edit").text)
    given = client.post("/datasets/council-tax/edit",
                        data=form_of(page) | {"url": "https://data.example.org/council-tax"})
    assert given.status_code == 200, given.text
    assert dataset(db).url == "https://data.example.org/council-tax"
    cleared = client.post("/datasets/council-tax/edit",
                          data=form_of(parse_html(client.get("/datasets/council-tax/edit").text))
                          | {"url": ""})
    assert cleared.status_code == 200, cleared.text
    assert dataset(db).url == ""  # no address
