"""Each party signs a data-sharing agreement for itself; it is signed when every party has.

Found in review: a lead of one party registered or edited an agreement as `signed`, naming the
other parties, without any of them agreeing, and every project resting on it then counted its
data as shared under a signed agreement.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.web.auth import Browser
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

TODAY = date.today()
BOROUGH, OTHER = "E09000002", "LOTI"
TERMS = {
    "code": "nel-housing-dsa", "title": "North east London housing data-sharing agreement",
    "purpose": "Households at risk of homelessness across boroughs.",
    "parties": [{"organisation": BOROUGH, "role": "controller"},
                {"organisation": OTHER, "role": "processor"}],
    "datasets": ["bd-rent-arrears"], "lawful_basis": "public_task",
    "expires_on": str(TODAY + timedelta(days=365)),
}
SIGNED = {"status": "signed", "signed_on": str(TODAY - timedelta(days=3))}


@pytest.fixture
def backend() -> str:
    """The register's rule, through the web layer: SQLite is enough."""
    return "sqlite"


def standing(client: Browser, code: str = "nel-housing-dsa") -> str:
    return client.get(f"/api/v1/agreements/{code}").json()["standing"]


def test_a_lead_cannot_record_the_other_parties_signatures(signed_in: SignedIn) -> None:
    lead = signed_in("lead", BOROUGH)
    registered = lead.post("/api/v1/agreements", json=TERMS | SIGNED)
    assert registered.status_code == 422, registered.text
    assert "London Office of Technology and Innovation" in registered.json()["errors"]["status"]
    assert lead.post("/api/v1/agreements", json=TERMS).status_code == 201
    edited = lead.put("/api/v1/agreements/nel-housing-dsa", json=TERMS | SIGNED | {"version": 1})
    assert edited.status_code == 422, edited.text
    assert "status" in edited.json()["errors"]
    assert standing(lead) == "drafting"


def test_each_party_signs_for_itself_and_the_last_signature_signs_it(
        signed_in: SignedIn) -> None:
    lead, other, outsider = (signed_in("lead", BOROUGH), signed_in("lead", OTHER),
                             signed_in("lead", "E09000007"))
    assert lead.post("/api/v1/agreements", json=TERMS).status_code == 201
    signed = lead.post("/api/v1/agreements/nel-housing-dsa/sign", json={"version": 1})
    assert signed.status_code == 200, signed.text
    detail = lead.get("/api/v1/agreements/nel-housing-dsa").json()
    assert detail["standing"] == "drafting"
    assert {p["organisation"]: p["signed"] for p in detail["parties"]} == {
        BOROUGH: True, OTHER: False}
    assert lead.post("/api/v1/agreements/nel-housing-dsa/sign",
                     json={"version": 1}).status_code == 422  # signed already
    assert outsider.post("/api/v1/agreements/nel-housing-dsa/sign",
                         json={"version": 1}).status_code == 403  # not a party
    last = other.post("/api/v1/agreements/nel-housing-dsa/sign", json={"version": 1})
    assert last.status_code == 200, last.text
    detail = other.get("/api/v1/agreements/nel-housing-dsa").json()
    assert (detail["standing"], detail["signed_on"]) == ("signed", str(TODAY))


def test_changing_the_terms_clears_the_signatures(signed_in: SignedIn) -> None:
    lead, other = signed_in("lead", BOROUGH), signed_in("lead", OTHER)
    lead.post("/api/v1/agreements", json=TERMS)
    other.post("/api/v1/agreements/nel-housing-dsa/sign", json={"version": 1})
    # A wider agreement than LOTI signed: its signature does not carry over.
    wider = TERMS | {"datasets": ["bd-rent-arrears", "bd-council-tax-accounts"],
                     "version": 1}
    assert lead.put("/api/v1/agreements/nel-housing-dsa", json=wider).status_code == 200
    detail = lead.get("/api/v1/agreements/nel-housing-dsa").json()
    assert not any(p["signed"] for p in detail["parties"])
    # A title is not a term: a signature stays through it.
    lead.post("/api/v1/agreements/nel-housing-dsa/sign", json={"version": 2})
    retitled = wider | {"title": "NEL housing DSA", "version": 2}
    assert lead.put("/api/v1/agreements/nel-housing-dsa", json=retitled).status_code == 200
    parties = lead.get("/api/v1/agreements/nel-housing-dsa").json()["parties"]
    assert [p["organisation"] for p in parties if p["signed"]] == [BOROUGH]


def test_the_agreement_page_offers_a_party_its_own_signature_only(signed_in: SignedIn) -> None:
    lead = signed_in("lead", BOROUGH, html=True)
    other = signed_in("lead", "E09000007", html=True)
    lead.post("/api/v1/agreements", json=TERMS)
    page = parse_html(lead.get("/agreements/nel-housing-dsa").text)
    button = page.by_id("sign").find("button")
    assert button is not None and "Barking and Dagenham" in button.text()
    assert "sign" not in {e.get("id") for e in parse_html(
        other.get("/agreements/nel-housing-dsa").text).iter()}
    done = lead.post("/agreements/nel-housing-dsa/sign", data={"version": "1"},
                     follow_redirects=False)
    assert done.status_code == 303, done.text
    shown = lead.get("/agreements/nel-housing-dsa").text
    assert "Signed for Barking and Dagenham" in shown
    assert "Not signed yet" in shown  # LOTI's


def test_the_cdo_records_an_agreement_signed_outside_the_portfolio(
        signed_in: SignedIn) -> None:
    cdo = signed_in("cdo")
    assert cdo.post("/api/v1/agreements", json=TERMS | SIGNED).status_code == 201
    detail = cdo.get("/api/v1/agreements/nel-housing-dsa").json()
    assert detail["standing"] == "signed"
    assert {p["signed_on"] for p in detail["parties"]} == {SIGNED["signed_on"]}


# Found in review: a Camden lead registered an agreement naming only Camden over Newham's
# housing register, recorded it signed (every other party had: there were none), rested a
# project on it and the project's data counted as shared under a signed agreement.
def test_an_agreement_names_the_organisation_holding_each_dataset_it_covers(
        signed_in: SignedIn) -> None:
    lead = signed_in("lead", "E09000007")
    alone = {**TERMS, "code": "camden-alone", "datasets": ["newham-housing-register"],
             "parties": [{"organisation": "E09000007", "role": "recipient"}]}
    refused = lead.post("/api/v1/agreements", json=alone | SIGNED)
    assert refused.status_code == 422, refused.text
    said = refused.json()["errors"]["datasets"]
    assert "Newham" in said and "party" in said
    assert lead.get("/api/v1/agreements/camden-alone").status_code == 404
    with_holder = alone | {"parties": [*alone["parties"],
                                       {"organisation": "E09000025", "role": "controller"}]}
    assert lead.post("/api/v1/agreements", json=with_holder).status_code == 201
    # An edit that drops the holder is refused the same way.
    dropped = lead.put("/api/v1/agreements/camden-alone", json=alone | {"version": 1})
    assert dropped.status_code == 422, dropped.text
    assert "Newham" in dropped.json()["errors"]["datasets"]


# Found in review: a Camden project's use of the shielded patient list rested on the NHS's
# agreement with LOTI and Barking and Dagenham, which Camden is not party to, and counted signed.
def test_a_link_rests_only_on_an_agreement_its_projects_owner_is_party_to(
        signed_in: SignedIn) -> None:
    lead = signed_in("lead", "E09000007")
    link = lead.put(
        "/api/v1/projects/camden-household-support-targeting/datasets/shielded-patient-list",
        json={"relation": "uses", "required": True, "fit_for_task": "fit",
              "sharing_agreement": "covid-shielded-patients-london"})
    assert link.status_code == 422, link.text
    said = link.json()["errors"]["sharing_agreement"]
    assert "Camden" in said and "party" in said
    page = parse_html(lead.get("/projects/camden-household-support-targeting/edit",
                               headers={"Accept": "text/html"}).text)
    offered = {o.get("value") for o in page.by_id("ds-sharing_agreement").find_all("option")}
    assert "covid-shielded-patients-london" not in offered
    assert "addressbase-psga-sublicence" in offered  # Camden is party to that one


# Found in review: a draft past its expiry offered its party "Sign for ...", then refused it.
def test_a_draft_past_its_expiry_offers_no_signature_and_says_why(signed_in: SignedIn) -> None:
    lead = signed_in("lead", BOROUGH, html=True)
    assert lead.post("/api/v1/agreements", json=TERMS).status_code == 201
    cdo = signed_in("cdo")
    past = TERMS | {"signed_on": None, "expires_on": str(TODAY - timedelta(days=1)),
                    "version": 1}
    assert cdo.put("/api/v1/agreements/nel-housing-dsa", json=past).status_code == 200, (
        cdo.get("/api/v1/agreements/nel-housing-dsa").text)
    page = parse_html(lead.get("/agreements/nel-housing-dsa").text)
    assert "sign" not in {e.get("id") for e in page.iter()}
    assert "expired on" in page.by_id("not-signable").text()


# Found in review: an edit could drop the party whose project's link rests on the agreement.
def test_an_edit_may_not_drop_a_party_whose_projects_rest_on_the_agreement(
        signed_in: SignedIn) -> None:
    cdo = signed_in("cdo")
    assert cdo.post("/api/v1/agreements", json=TERMS).status_code == 201  # BD and LOTI
    linked = cdo.put(
        "/api/v1/projects/covid-shielding-support-london/datasets/bd-rent-arrears",
        json={"relation": "uses", "required": True, "fit_for_task": "fit",
              "sharing_agreement": "nel-housing-dsa"})
    assert linked.status_code == 200, linked.text
    dropped = cdo.put("/api/v1/agreements/nel-housing-dsa", json=TERMS | {
        "version": 1, "parties": [{"organisation": BOROUGH, "role": "controller"}]})
    assert dropped.status_code == 422, dropped.text
    assert "covid-shielding-support-london" in dropped.json()["errors"]["parties"]


# Found in review: a lead changing only the purpose of a signed agreement, or renewing its
# expiry, was refused because the other parties "had not signed": the form still said signed.
def test_a_lead_changing_a_term_of_a_signed_agreement_saves_it_for_every_party_to_sign_again(
        signed_in: SignedIn) -> None:
    from tests.web.test_agreements import form_of

    cdo = signed_in("cdo")
    assert cdo.post("/api/v1/agreements", json=TERMS | SIGNED).status_code == 201
    lead = signed_in("lead", BOROUGH, html=True)
    form = form_of(parse_html(lead.get("/agreements/nel-housing-dsa/edit").text))
    assert form["status"] == "signed"

    saved = lead.post("/agreements/nel-housing-dsa/edit",
                      data=form | {"purpose": "Households at risk, and those in arrears."},
                      follow_redirects=False)

    assert saved.status_code == 303, parse_html(saved.text).text()[:400]
    page = " ".join(lead.get(saved.headers["location"]).text.split())
    assert "every party" in page and "sign" in page
    detail = cdo.get("/api/v1/agreements/nel-housing-dsa").json()
    assert detail["status"] == "drafting"
    assert not any(p["signed"] for p in detail["parties"])


def test_a_lead_renewing_a_signed_agreement_through_the_api_records_it_as_drafting(
        signed_in: SignedIn) -> None:
    cdo, lead = signed_in("cdo"), signed_in("lead", BOROUGH)
    assert cdo.post("/api/v1/agreements", json=TERMS | SIGNED).status_code == 201
    renewed = TERMS | SIGNED | {"version": 1,
                                "expires_on": str(TODAY + timedelta(days=3 * 365))}

    answer = lead.put("/api/v1/agreements/nel-housing-dsa", json=renewed)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "drafting"
    assert answer.json()["signatures_cleared"] is True
    assert standing(lead) == "drafting"


def test_the_parties_yet_to_sign_are_named_in_good_grammar(signed_in: SignedIn) -> None:
    lead = signed_in("lead", BOROUGH)
    three = TERMS | SIGNED | {"parties": [*TERMS["parties"],
                                          {"organisation": "E09000007", "role": "recipient"}]}

    several = lead.post("/api/v1/agreements", json=three)
    one = lead.post("/api/v1/agreements", json=TERMS | SIGNED)

    assert several.status_code == 422, several.text
    assert several.json()["errors"]["status"].startswith(
        "Camden and London Office of Technology and Innovation have not signed it")
    assert one.json()["errors"]["status"].startswith(
        "London Office of Technology and Innovation has not signed it")


# Found in review: a draft's page said "Signed 2020-04-03" (an earlier or typed signed date)
# while every party was "Not signed yet".
def test_a_drafts_page_does_not_show_a_signed_date_as_if_it_were_signed(
        signed_in: SignedIn) -> None:
    cdo = signed_in("cdo", html=True)
    earlier = str(TODAY - timedelta(days=400))
    assert cdo.post("/api/v1/agreements", headers={"accept": "application/json"},
                    json=TERMS | {"signed_on": earlier}).status_code == 201

    page = parse_html(cdo.get("/agreements/nel-housing-dsa").text)

    facts = page.find("dl", class_="facts")
    assert facts is not None
    terms = [e.text() for e in facts.find_all()]
    signed = terms[terms.index("Signed") + 1]
    assert signed.startswith("Not yet"), signed
