"""A project's information governance path: stages, what is missing, who records them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portfolio.db import Database
from portfolio.services import ig
from tests.web.auth import Browser
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

PERSONAL = "bd-one-view-phase-2"  # Barking and Dagenham's; personal data, agreements drafting


@pytest.fixture
def backend() -> str:
    """The IG path is database-neutral: run it on SQLite."""
    return "sqlite"


@pytest.fixture
def clients(signed_in: SignedIn) -> dict[str, Browser]:
    return {"lead": signed_in("lead", "E09000002"), "other": signed_in("lead", "E09000007")}

def test_the_path_lists_the_four_stages_and_names_what_is_missing(london: Database) -> None:
    with london.read() as session:
        path = ig.ig_path(session=session, slug=PERSONAL)
    assert [s["stage"] for s in path["stages"]] == [
        "dpia_screening", "dpia", "sharing_agreements", "privacy_notice"]
    agreements = path["stages"][2]
    assert agreements["status"] == "in_progress" and agreements["missing"]
    assert {m["agreement"] for m in agreements["missing_agreements"]} == {
        "one-view-nel-gp-registrations", "ukpn-priority-services-register-boroughs"}
    assert "Privacy notice" in path["missing"]


def test_a_link_signed_by_its_own_word_puts_the_agreements_stage_in_progress(
        london: Database) -> None:
    # DESIGN: in_progress when one is drafting or expired "or another is signed"; a link's
    # own word, with no agreement record behind it, counts as written (a bulk load's, say).
    with london.write() as session:
        project_id = session.execute(text("SELECT id FROM project WHERE slug = :slug"),
                                     {"slug": PERSONAL}).scalar_one()
        links = session.execute(text(
            "SELECT id FROM project_dataset WHERE project_id = :p AND relation = 'uses' "
            "AND required ORDER BY id"), {"p": project_id}).scalars().all()
        assert len(links) >= 2
        session.execute(text("UPDATE project_dataset SET sharing_agreement_id = NULL, "
                             "agreement = CASE WHEN id = :first THEN 'signed' ELSE 'none' END "
                             "WHERE project_id = :p AND relation = 'uses' AND required"),
                        {"first": links[0], "p": project_id})
    with london.read() as session:
        stage = ig.ig_path(session=session, slug=PERSONAL)["stages"][2]
    assert stage["status"] == "in_progress"
    assert {m["standing"] for m in stage["missing_agreements"]} == {"none"}
    assert stage["dated_on"] is None  # no record says when it was signed


def test_the_owning_lead_records_a_stage_and_the_page_shows_it(
        clients: dict[str, Browser]) -> None:
    done = clients["lead"].put(f"/api/v1/projects/{PERSONAL}/ig/privacy_notice",
                               json={"status": "done", "dated_on": "2026-10-01",
                                     "note": "Published on the council's site."})
    assert done.status_code == 200, done.text
    got = clients["lead"].get(f"/api/v1/projects/{PERSONAL}/ig").json()
    assert "Privacy notice" not in got["missing"]
    page = clients["lead"].get(f"/projects/{PERSONAL}")
    assert "Information governance" in page.text and "Published on the council" in page.text
    assert "Record a stage" in page.text
    assert "Recorded privacy notice: done" in page.text  # in the project's history
    assert "Record a stage" not in clients["other"].get(f"/projects/{PERSONAL}").text
    refused = clients["other"].put(f"/api/v1/projects/{PERSONAL}/ig/privacy_notice",
                                   json={"status": "done"})
    assert refused.status_code == 403


def test_the_agreements_stage_is_not_recorded_by_hand(clients: dict[str, Browser]) -> None:
    answer = clients["lead"].put(f"/api/v1/projects/{PERSONAL}/ig/sharing_agreements",
                                 json={"status": "done"})
    assert answer.status_code == 422 and "stage" in answer.json()["errors"]


def stage_form(page_text: str, stage: str) -> dict[str, str]:
    """Return a stage's form on the project page as a browser would send it untouched."""
    page = parse_html(page_text)
    for form in page.find_all("form", class_="ig-form"):
        fields = {e.get("name") or "": e.text() if e.tag == "textarea" else e.get("value") or ""
                  for e in form.find_all() if e.tag in ("input", "textarea") and e.get("name")}
        for select in form.find_all("select"):
            chosen = select.find("option", selected="") or select.find("option")
            fields[select.get("name") or ""] = chosen.get("value") or "" if chosen else ""
        if fields.get("stage") == stage:
            return fields
    raise AssertionError(f"no form for the {stage} stage")


def test_a_refused_stage_comes_back_with_everything_typed_and_the_error_by_its_field(
        signed_in: SignedIn) -> None:
    lead = signed_in("lead", "E09000002", html=True)
    form = stage_form(lead.get(f"/projects/{PERSONAL}").text, "dpia_screening")
    note = "Screened with the IG board on the 4th; DPIA needed for the linkage."
    form |= {"status": "done", "dated_on": "1999-03-04", "note": note}
    answer = lead.post(f"/projects/{PERSONAL}/ig", data=form, follow_redirects=False)
    assert answer.status_code == 422
    page = parse_html(answer.text)
    assert "Enter a date between 2000 and 2075" in page.error_for("ig-dpia_screening-dated_on")
    assert page.find("div", class_="error-summary") is not None
    assert page.by_id("ig-dpia_screening-dated_on").get("value") == "1999-03-04"
    assert page.by_id("ig-dpia_screening-note").text() == note
    assert stage_form(answer.text, "dpia_screening")["status"] == "done"
    got = lead.get(f"/api/v1/projects/{PERSONAL}/ig").json()
    assert got["stages"][0]["status"] == "not_started"


def test_the_dpia_stage_form_records_its_date_and_note(signed_in: SignedIn) -> None:
    # Review: the DPIA's form has no status (it is the project's), and every save of it was
    # refused for a status the user could not see.
    lead = signed_in("lead", "E09000002", html=True)
    form = stage_form(lead.get(f"/projects/{PERSONAL}").text, "dpia")
    assert "status" not in form
    note = "DPIA drafted with the DPO; consultation with residents next."
    answer = lead.post(f"/projects/{PERSONAL}/ig",
                       data=form | {"dated_on": "2026-09-14", "note": note},
                       follow_redirects=False)
    assert answer.status_code == 303, parse_html(answer.text).text()[:400]
    stage = lead.get(f"/api/v1/projects/{PERSONAL}/ig").json()["stages"][1]
    assert (stage["dated_on"], stage["note"]) == ("2026-09-14", note)


def test_each_stage_form_starts_from_what_is_stored_so_a_status_keeps_its_note(
        signed_in: SignedIn) -> None:
    lead = signed_in("lead", "E09000002", html=True)
    note = "Privacy notice drafted by legal; awaiting sign-off."
    lead.put(f"/api/v1/projects/{PERSONAL}/ig/privacy_notice",
             json={"status": "in_progress", "dated_on": "2026-01-05", "note": note})
    form = stage_form(lead.get(f"/projects/{PERSONAL}").text, "privacy_notice")
    assert (form["status"], form["dated_on"], form["note"]) == ("in_progress", "2026-01-05", note)
    done = lead.post(f"/projects/{PERSONAL}/ig", data=form | {"status": "done"},
                     follow_redirects=False)
    assert done.status_code == 303
    stage = lead.get(f"/api/v1/projects/{PERSONAL}/ig").json()["stages"][3]
    assert (stage["status"], stage["dated_on"], stage["note"]) == ("done", "2026-01-05", note)


def test_a_stage_changed_meanwhile_is_merged_and_a_clash_shows_both_values(
        signed_in: SignedIn) -> None:
    alice = signed_in("lead", "E09000002", html=True)
    bob = signed_in("lead", "E09000002")
    form = stage_form(alice.get(f"/projects/{PERSONAL}").text, "privacy_notice")
    bob.put(f"/api/v1/projects/{PERSONAL}/ig/privacy_notice",
            json={"status": "in_progress", "note": "Bob: drafted by legal."})
    # Alice changed only the date: Bob's status and note stay.
    merged = alice.post(f"/projects/{PERSONAL}/ig", data=form | {"dated_on": "2026-02-01"},
                        follow_redirects=False)
    assert merged.status_code == 303
    stage = alice.get(f"/api/v1/projects/{PERSONAL}/ig").json()["stages"][3]
    assert (stage["status"], stage["dated_on"], stage["note"]) == (
        "in_progress", "2026-02-01", "Bob: drafted by legal.")
    # Both changed the note differently: nothing is written; hers is kept, his is shown.
    clash = alice.post(f"/projects/{PERSONAL}/ig", data=form | {"note": "Alice: published."})
    assert clash.status_code == 409
    page = parse_html(clash.text)
    assert page.by_id("ig-privacy_notice-note").text() == "Alice: published."
    assert "Bob: drafted by legal." in page.error_for("ig-privacy_notice-note")
    again = stage_form(clash.text, "privacy_notice")
    assert alice.post(f"/projects/{PERSONAL}/ig", data=again,
                      follow_redirects=False).status_code == 303
    stage = alice.get(f"/api/v1/projects/{PERSONAL}/ig").json()["stages"][3]
    assert (stage["dated_on"], stage["note"]) == ("2026-02-01", "Alice: published.")


def test_the_api_refuses_a_stage_from_a_stale_reading(clients: dict[str, Browser]) -> None:
    # Review: the page merged a stale stage form, but the API's PUT replaced a note a
    # colleague had just recorded with the client's.
    url = f"/api/v1/projects/{PERSONAL}/ig/privacy_notice"
    lead = clients["lead"]
    assert lead.put(url, json={"status": "in_progress", "note": "Drafting."}).status_code == 200
    read = {"status": "in_progress", "dated_on": None, "note": "Drafting."}
    assert lead.put(url, json={"status": "in_progress", "note": "With legal."}
                    ).status_code == 200
    clash = lead.put(url, json={"status": "in_progress", "note": "Sent to comms.",
                                "was": read})
    assert clash.status_code == 409 and clash.json()["current"]["note"] == "With legal."
    merged = lead.put(url, json={"status": "done", "note": "Drafting.", "was": read})
    assert merged.status_code == 200 and merged.json()["note"] == "With legal."


# Found in review: a stage was recorded done on a day years ahead, through the API and the page.
SCHEME_REVIEW = "bd-ctr-scheme-review"  # Barking and Dagenham's; its DPIA is approved


def test_the_api_refuses_a_stage_done_on_a_day_still_to_come(
        clients: dict[str, Browser]) -> None:
    url = f"/api/v1/projects/{SCHEME_REVIEW}/ig/privacy_notice"

    refused = clients["lead"].put(url, json={"status": "done", "dated_on": "2040-01-01"})

    assert refused.status_code == 422, refused.text
    assert "future" in refused.json()["errors"]["dated_on"]
    planned = clients["lead"].put(url, json={"status": "in_progress", "dated_on": "2040-01-01"})
    assert planned.status_code == 200, planned.text
    dpia = clients["lead"].put(f"/api/v1/projects/{SCHEME_REVIEW}/ig/dpia",
                               json={"dated_on": "2040-01-01"})
    assert dpia.status_code == 422 and "dated_on" in dpia.json()["errors"]


def test_the_page_refuses_a_stage_done_on_a_day_still_to_come_beside_the_date(
        signed_in: SignedIn) -> None:
    lead = signed_in("lead", "E09000002", html=True)
    form = stage_form(lead.get(f"/projects/{SCHEME_REVIEW}").text, "privacy_notice")

    answer = lead.post(f"/projects/{SCHEME_REVIEW}/ig", follow_redirects=False,
                       data=form | {"status": "done", "dated_on": "2040-01-01"})

    assert answer.status_code == 422
    page = parse_html(answer.text)
    assert "future" in page.error_for("ig-privacy_notice-dated_on")
    assert page.by_id("ig-privacy_notice-dated_on").get("value") == "2040-01-01"
    got = lead.get(f"/api/v1/projects/{SCHEME_REVIEW}/ig").json()
    assert got["stages"][3]["status"] == "not_started"


# Found in review: a status sent for the DPIA stage answered 200 with the project's status,
# the one sent silently dropped.
def test_the_api_refuses_a_dpia_stage_status_other_than_the_projects(
        clients: dict[str, Browser]) -> None:
    url = f"/api/v1/projects/{SCHEME_REVIEW}/ig/dpia"

    refused = clients["lead"].put(url, json={"status": "not_started", "note": "Redo."})

    assert refused.status_code == 422, refused.text
    said = refused.json()["errors"]["status"]
    assert "project's DPIA status" in said and "approved" in said.lower()
    same = clients["lead"].put(url, json={"status": "done", "note": "Approved by the DPO."})
    assert same.status_code == 200, same.text
    assert clients["lead"].put(url, json={"note": "No status sent."}).status_code == 200
