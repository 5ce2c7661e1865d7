"""The Profiles pages: who sees edit controls, direct weights, the AHP grid, history, compare."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.auth import Browser
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from web import pages_profiles as profile_pages

PROFILE = "/profiles/CDO default"


@pytest.fixture
def backend() -> str:
    """Run on SQLite: these are page and permission checks."""
    return "sqlite"


@pytest.fixture
def clients(signed_in: SignedIn) -> dict[str, Browser]:
    return {role: signed_in(role, "E09000002" if role == "lead" else None, html=True)
            for role in ("researcher", "lead", "cdo", "admin")}

def version(client: TestClient) -> int:
    return client.get("/api/v1/profiles/CDO default").json()["version"]


def edit_form(page_text: str, action: str = "/profiles/CDO%20default") -> dict[str, str]:
    """Return the fields of a profile page's direct-weights form, as a browser would post them."""
    form = parse_html(page_text).find("form", action=action)
    assert form is not None, "no form to change the weights"
    return {i.get("name") or "": i.get("value") or "" for i in form.find_all("input")}


@pytest.mark.parametrize("role", ["lead", "researcher"])
def test_readers_see_profiles_without_edit_controls(clients: dict[str, Browser],
                                                    role: str) -> None:
    client = clients[role]
    listing = client.get("/profiles")
    assert listing.status_code == 200
    assert "CDO default" in listing.text
    page = parse_html(listing.text)
    assert not page.find_all("form", method="post") or all(
        "logout" in (f.get("action") or "") for f in page.find_all("form", method="post"))
    detail = client.get(PROFILE)
    assert detail.status_code == 200
    assert "Change the weights" not in detail.text and "Retire the profile" not in detail.text
    assert "/ahp" not in detail.text
    nav = parse_html(detail.text).find("nav")
    assert "Profiles" in nav.text()


@pytest.mark.parametrize("role", ["lead", "researcher"])
def test_readers_posts_to_profiles_are_refused(clients: dict[str, Browser], role: str) -> None:
    client = clients[role]
    before = version(client)
    for url, data in [("/profiles", {"name": "Mine", "based_on": "CDO default"}),
                      (PROFILE, {"dim:impact": "1"}), (PROFILE + "/ahp", {}),
                      (PROFILE + "/retire", {"action": "retire"}),
                      ("/profiles/from-sliders", {"name": "x", "based_on": "CDO default"})]:
        assert client.post(url, data=data, follow_redirects=False).status_code == 403, url
    assert client.get(PROFILE + "/ahp").status_code == 403
    assert version(client) == before


def test_the_cdo_sets_weights_directly_and_history_says_what_changed(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    page = parse_html(client.get(PROFILE).text)
    form = page.find("form", action="/profiles/CDO%20default")
    data = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
    data["dim:impact"] = "80"
    response = client.post(PROFILE, data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    profile = client.get("/api/v1/profiles/CDO default").json()
    assert profile["method"] == "direct"
    history = client.get(PROFILE).text
    assert "Dimension impact" in history


def test_a_stale_weights_form_is_refused_keeping_the_typed_weights_and_saying_what_changed(
    clients: dict[str, Browser], signed_in: SignedIn,
) -> None:
    alice, bob = clients["cdo"], signed_in("cdo", html=True)
    hers, his = edit_form(alice.get(PROFILE).text), edit_form(bob.get(PROFILE).text)
    assert bob.post(PROFILE, data=his | {"dim:feasibility": "9"},
                    follow_redirects=False).status_code == 303
    bobs = alice.get("/api/v1/profiles/CDO default").json()["weights"]
    response = alice.post(PROFILE, data=hers | {"dim:impact": "7"}, follow_redirects=False)
    assert response.status_code == 409
    assert alice.get("/api/v1/profiles/CDO default").json()["weights"] == bobs
    shown = parse_html(response.text)
    again = edit_form(response.text)
    assert (again["dim:impact"], again["dim:feasibility"]) == ("7", "30")
    assert again["version"] == str(version(alice))
    changed = shown.by_id("changed-meanwhile").text()
    assert "Feasibility: 30% → 11.39%" in changed and "Reach" not in changed
    # Saving again from the refusal is a deliberate choice, made knowing what changed.
    assert alice.post(PROFILE, data=again, follow_redirects=False).status_code == 303


def test_a_bad_weight_is_named_beside_its_field_and_nothing_is_stored(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    before = version(client)
    page = parse_html(client.get(PROFILE).text)
    form = page.find("form", action="/profiles/CDO%20default")
    data = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
    data |= {"dim:impact": "inf", "dim:feasibility": "-2"}
    response = client.post(PROFILE, data=data)
    assert response.status_code == 422
    shown = parse_html(response.text)
    assert "Enter an ordinary number" in shown.error_for("w-dim-impact")
    assert "0 or more" in shown.error_for("w-dim-feasibility")
    # Review: the weights form had no summary taking focus, nor "Error:" in the title.
    summary = shown.find(class_="error-summary")
    assert summary is not None and summary.get("tabindex") == "-1"
    assert [a.get("href") for a in summary.find_all("a")] == ["#w-dim-impact",
                                                             "#w-dim-feasibility"]
    assert shown.find("title").text().startswith("Error:")
    assert version(client) == before


def test_dimension_weights_summing_to_zero_are_refused(clients: dict[str, Browser]) -> None:
    client = clients["cdo"]
    page = parse_html(client.get(PROFILE).text)
    form = page.find("form", action="/profiles/CDO%20default")
    data = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
    data |= {"dim:impact": "0", "dim:feasibility": "0", "dim:readiness": "0"}
    response = client.post(PROFILE, data=data)
    assert response.status_code == 422
    assert "sum to zero" in parse_html(response.text).error_for("w-dim-impact")


def test_the_ahp_preview_updates_weights_and_cr(clients: dict[str, Browser]) -> None:
    client = clients["cdo"]
    response = client.post("/profiles/ahp/preview", headers={"HX-Request": "true"}, data={
        "assessors": "1", "a0:dimensions:0:1": "3", "a0:dimensions:0:2": "5",
        "a0:dimensions:1:2": "5/3"})
    assert response.status_code == 200
    page = parse_html(response.text)
    assert page.by_id("ahp-result").get("aria-live") is None  # the status below speaks
    assert page.by_id("ahp-status").get("hx-swap-oob") == "innerHTML"
    assert "consistency ratio 0.000" in page.by_id("ahp-status").text()
    assert "Consistency ratio" in response.text or "consistency ratio" in response.text
    bad = client.post("/profiles/ahp/preview", headers={"HX-Request": "true"},
                      data={"assessors": "1", "a0:dimensions:0:1": "three"})
    assert "write a number such as 3" in bad.text


def test_the_cdo_saves_an_ahp_grid_as_a_new_version_with_method_matrix_and_cr(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    page = parse_html(client.get(PROFILE + "/ahp").text)
    form = page.find("form", id="ahp-form")
    data = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
    data |= {"a0:dimensions:0:1": "3", "a0:dimensions:0:2": "5", "a0:dimensions:1:2": "0.333"}
    response = client.post(PROFILE + "/ahp", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    profile = client.get("/api/v1/profiles/CDO default").json()
    assert profile["method"] == "ahp"
    assert profile["ahp_matrix"]["dimensions"]["matrix"][0][1] == 3
    assert profile["consistency_ratio"] is not None
    assert profile["weights"]["dimension"]["impact"] > 0.5
    shown = client.get(PROFILE).text
    assert "AHP pairwise comparisons, consistency ratio" in shown


def test_an_ahp_grid_opened_before_another_save_is_refused_keeping_the_judgements(
    clients: dict[str, Browser],
) -> None:
    # As the weights form: a grid saved over weights changed meanwhile undid them silently.
    client = clients["cdo"]
    form = parse_html(client.get(PROFILE + "/ahp").text).find("form", id="ahp-form")
    data = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
    data |= {"a0:dimensions:0:1": "3", "a0:dimensions:0:2": "5", "a0:dimensions:1:2": "0.333"}
    profile = client.get("/api/v1/profiles/CDO default").json()
    assert client.put("/api/v1/profiles/CDO default", json={
        "dimension_weights": {"impact": 1, "feasibility": 1, "readiness": 1},
        "criterion_weights": profile["weights"]["criterion"]}).status_code == 200
    response = client.post(PROFILE + "/ahp", data=data, follow_redirects=False)
    assert response.status_code == 409, response.text
    page = parse_html(response.text)
    assert "changed by someone else" in " ".join(response.text.split())
    assert page.by_id("ahp-form") is not None
    kept = {i.get("name"): i.get("value") for i in page.find("form", id="ahp-form")
            .find_all("input")}
    assert kept["a0:dimensions:0:1"] == "3"
    assert client.get("/api/v1/profiles/CDO default").json()["method"] == "direct"
    # Saving again from the refusal is a choice made knowing: it goes through.
    again = {k: v or "" for k, v in kept.items()}
    assert client.post(PROFILE + "/ahp", data=again,
                       follow_redirects=False).status_code == 303


def test_group_ahp_on_the_grid_shows_each_assessor_and_the_group(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    response = client.post("/profiles/ahp/preview", headers={"HX-Request": "true"}, data={
        "assessors": "2", "a0:name": "Ana", "a1:name": "Ben",
        "a0:dimensions:0:1": "3", "a1:dimensions:0:1": "1/3"})
    assert "Ana: consistency ratio" in response.text
    assert "Ben: consistency ratio" in response.text
    assert "The group: consistency ratio" in response.text


def test_retiring_a_profile_keeps_it_listed_and_it_can_come_back(
    clients: dict[str, Browser],
) -> None:
    client = clients["admin"]
    assert client.post("/profiles/Quick wins/retire", data={"action": "retire"},
                       follow_redirects=False).status_code == 303
    assert "retired" in client.get("/profiles/Quick wins").text
    assert client.get("/api/v1/profiles/Quick wins").json()["retired"] is True
    assert client.post("/profiles/Quick wins/retire", data={"action": "restore"},
                       follow_redirects=False).status_code == 303
    assert client.get("/api/v1/profiles/Quick wins").json()["retired"] is False


def test_retiring_the_last_profile_in_use_is_refused_by_the_retire_button(
    clients: dict[str, Browser],
) -> None:
    # Review: the refusal was shown inside the weights form, away from the Retire button.
    client = clients["admin"]
    names = [p["name"] for p in client.get("/api/v1/profiles").json()]
    for name in names[1:]:
        assert client.post(f"/profiles/{name}/retire", data={"action": "retire"},
                           follow_redirects=False).status_code == 303
    refused = client.post(f"/profiles/{names[0]}/retire", data={"action": "retire"})
    assert refused.status_code == 422
    page = parse_html(refused.text)
    assert "last profile in use" in page.by_id("retire-error").text()
    weights = page.find("form", action=f"/profiles/{names[0].replace(' ', '%20')}")
    assert "last profile" not in weights.text()


def test_the_sliders_are_saved_as_a_new_profile(clients: dict[str, Browser]) -> None:
    client = clients["cdo"]
    response = client.post("/profiles/from-sliders", data={
        "name": "Impact heavy", "based_on": "CDO default", "w_impact": "70",
        "w_feasibility": "20", "w_readiness": "10"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    made = client.get("/api/v1/profiles/Impact heavy").json()
    assert made["weights"]["dimension"]["impact"] == pytest.approx(0.7)


def test_a_refused_slider_save_keeps_the_weights_and_the_retry_saves_them(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    moved = {"w_impact": "80", "w_feasibility": "10", "w_readiness": "10"}
    response = client.post("/profiles/from-sliders",
                           data={"name": "Net zero", "based_on": "CDO default"} | moved)
    assert response.status_code == 422
    shown = parse_html(response.text)
    assert "already exists" in shown.error_for("s-name")
    form = shown.find("form", action="/profiles/from-sliders")
    assert form is not None, "the refusal does not show the sliders' form again"
    data = {i.get("name") or "": i.get("value") or "" for i in form.find_all("input")}
    data |= {s.get("name") or "": next((o.get("value") or "" for o in s.find_all("option")
                                         if o.get("selected") is not None), "")
             for s in form.find_all("select")}
    assert {k: data.get(k) for k in moved} == moved
    assert data["based_on"] == "CDO default"
    retried = client.post("/profiles/from-sliders", data=data | {"name": "Impact first"},
                          follow_redirects=False)
    assert retried.status_code == 303, retried.text
    made = client.get("/api/v1/profiles/Impact first").json()
    assert made["weights"]["dimension"]["impact"] == pytest.approx(0.8)


def test_a_bad_slider_weight_is_named_beside_its_field(clients: dict[str, Browser]) -> None:
    response = clients["cdo"].post("/profiles/from-sliders", data={
        "name": "Odd", "based_on": "CDO default", "w_impact": "lots", "w_feasibility": "10",
        "w_readiness": "10"})
    assert response.status_code == 422
    assert "Enter a number" in parse_html(response.text).error_for("s-w_impact")


@pytest.mark.parametrize("name", ["compare", "from-sliders", "ahp", "a/b", ".."])
def test_a_name_the_profile_address_cannot_reach_is_refused_beside_the_name(
    clients: dict[str, Browser], name: str,
) -> None:
    client = clients["cdo"]
    response = client.post("/profiles", data={"name": name, "based_on": "CDO default",
                                              "description": ""})
    assert response.status_code == 422
    assert "cannot" in parse_html(response.text).error_for("n-name")
    assert name not in [p["name"] for p in client.get("/api/v1/profiles").json()]


def test_every_fixed_address_under_profiles_is_a_refused_name(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    segments = [getattr(route, "path", "").split("/") for route in profile_pages.router.routes]
    fixed = {s[2] for s in segments if s[1] == "profiles" and len(s) > 2 and s[2][:1] != "{"}
    assert fixed >= {"compare", "from-sliders"}
    for name in fixed:
        response = client.post("/profiles", data={"name": name, "based_on": "CDO default"})
        assert response.status_code == 422, name


def test_two_profiles_compared_show_correlation_and_movers(clients: dict[str, Browser]) -> None:
    client = clients["researcher"]
    response = client.get("/profiles/compare", params={"a": "CDO default", "b": "Net zero"})
    assert response.status_code == 200
    page = parse_html(response.text)
    assert float(page.by_id("spearman").text()) <= 1.0
    assert page.by_id("kendall").text()
    assert "The projects that move most" in response.text


def test_the_backlog_offers_to_save_what_if_sliders_only_to_who_may(
    clients: dict[str, Browser],
) -> None:
    query = {"profile": "CDO default", "w_impact": "90", "w_feasibility": "5",
             "w_readiness": "5"}
    assert "Save as a profile" in clients["cdo"].get("/backlog", params=query).text
    assert "Save as a profile" not in clients["lead"].get("/backlog", params=query).text


def test_a_group_ahp_profile_shows_each_assessors_cr_on_its_page(
    clients: dict[str, Browser],
) -> None:
    client = clients["cdo"]
    page = parse_html(client.get(PROFILE + "/ahp?assessors=2").text)
    form = page.find("form", id="ahp-form")
    data = {i.get("name"): i.get("value") or "" for i in form.find_all("input")}
    data |= {"a0:name": "Ana", "a1:name": "Ben", "a0:dimensions:0:1": "3",
             "a1:dimensions:0:1": "1/3"}
    assert client.post(PROFILE + "/ahp", data=data, follow_redirects=False).status_code == 303
    shown = parse_html(client.get(PROFILE).text).by_id("judgements").parent.text()
    assert "geometric mean of 2 assessors" in shown and "Ana: CR" in shown


def test_two_profiles_are_compared_on_the_candidates_ranks_the_backlog_shows(
    clients: dict[str, Browser],
) -> None:
    # The ranks of both views were mixed: a candidate and a committed project were each "1",
    # and the correlations ran over two rankings at once.
    page = parse_html(clients["researcher"].get(
        "/profiles/compare", params={"a": "CDO default", "b": "Net zero"}).text)
    table = page.find("table", id="side-by-side-table") or page.find_all("table")[-1]
    ranks = [int(r.find_all("td")[0].text()) for r in table.find("tbody").find_all("tr")]
    assert ranks == list(range(1, len(ranks) + 1))
    assert "candidates" in page.find("main").text().lower()


@pytest.mark.parametrize(("params", "control", "says"), [
    ({"a": "nonsense", "b": "Net zero"}, "c-a", "There is no weight profile called 'nonsense'"),
    ({"a": "CDO default", "b": "CDO default"}, "c-b", "choose two different profiles"),
], ids=["unknown", "the same twice"])
def test_a_comparison_of_profiles_says_whats_wrong_beside_the_choice(
        clients: dict[str, Browser], params: dict[str, str], control: str, says: str) -> None:
    # An unknown profile answered the "Not found" page; the same one twice was said under the
    # form, tied to neither choice, with no summary.
    page = clients["researcher"].get("/profiles/compare", params=params)

    assert page.status_code == 422
    html = parse_html(page.text)
    assert says in html.error_for(control)
    summary = html.find(class_="error-summary")
    assert summary is not None and says in summary.text()


@pytest.mark.parametrize("name", ["Test?x=1", "a#b", "100% local"])
def test_a_profile_named_with_a_question_mark_hash_or_percent_opens_after_each_action(
    clients: dict[str, Browser], name: str,
) -> None:
    # Found in review: the redirects after creating, saving and retiring wrote the name into
    # the address unencoded, so "Test?x=1" landed on "No weight profile 'Test'".
    client = clients["cdo"]
    created = client.post("/profiles", data={"name": name, "based_on": "CDO default",
                                             "description": ""})
    assert created.status_code == 200, created.text
    assert parse_html(created.text).find("h1").text().endswith(name)
    retired = client.post(str(created.url.copy_with(query=None)) + "/retire",
                          data={"action": "retire"})
    assert retired.status_code == 200 and "Not found" not in retired.text


def test_saving_a_seeded_profile_unchanged_records_no_weight_change(
    clients: dict[str, Browser],
) -> None:
    # Found in review: seeded versions keep each criterion as a share of its dimension, saved
    # ones as a share of all criteria, so re-saving "Net zero" with only a new description
    # listed 12 criteria as changed ("climate: 45.0% → 15.0% of all criteria").
    client = clients["cdo"]
    url = "/profiles/Net%20zero"
    data = edit_form(client.get(url).text, url) | {"description": "Said again"}
    assert client.post(url, data=data, follow_redirects=False).status_code == 303
    newest = parse_html(client.get(url).text).find("ol", **{"class": "history"}).find("li")
    assert "No weight changed" in newest.text(), newest.text()
    history = client.get("/api/v1/profiles/Net zero/history").json()
    assert history[0]["changes"] == []


def test_a_weight_over_the_limit_is_said_beside_its_field_in_plain_words(
    clients: dict[str, Browser],
) -> None:
    # Found in review: 1000001 was refused only in the summary, unlinked, in the engine's words
    # ("Dimension weights: the weight for 'impact' is over 1,000,000: 1000001.0").
    client = clients["cdo"]
    response = client.post(PROFILE, data=edit_form(client.get(PROFILE).text)
                           | {"dim:impact": "1000001"})
    assert response.status_code == 422
    shown = parse_html(response.text).error_for("w-dim-impact")
    assert "at most 1,000,000" in shown and "'impact'" not in shown and "1000001.0" not in shown
    assert parse_html(response.text).by_id("w-dim-impact").get("value") == "1000001"


def test_the_ahp_grid_starts_from_weights_in_ratio_1_to_9_without_an_off_scale_warning(
    clients: dict[str, Browser],
) -> None:
    # Found in review: dimensions weighted 5:45 filled the grid with "0.11", just below 1/9,
    # so the page warned "outside Saaty's scale" of a judgement no one typed.
    client = clients["cdo"]
    data = edit_form(client.get(PROFILE).text) | {
        "dim:impact": "5", "dim:feasibility": "45", "dim:readiness": "45"}
    assert client.post(PROFILE, data=data, follow_redirects=False).status_code == 303
    grid = parse_html(client.get(PROFILE + "/ahp").text)
    cells = {i.get("name"): i.get("value") for i in grid.find_all("input")
             if (i.get("name") or "").startswith("a0:dimensions:")}
    assert cells["a0:dimensions:0:1"] == "1/9" and cells["a0:dimensions:0:2"] == "1/9"
    preview = client.post("/profiles/ahp/preview", headers={"HX-Request": "true"},
                          data={"assessors": "1", **cells})
    assert "outside saaty" not in preview.text.lower(), preview.text
