"""The working-together API: comments, progress and owner, watching, notifications."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import AuditEvent, Project
from portfolio.settings import Settings
from tests.web.auth import token_for
from web.app import create_app

COMMITTED = "london-datastore-replatforming"  # GLA, in progress
PROPOSED = "bd-propensity-to-pay"  # Barking and Dagenham, proposed


class Api:
    """A client per role, each with its own API token."""

    def __init__(self, client: TestClient, db: Database) -> None:
        self.client, self.db, self.tokens = client, db, {}  # type: dict[str, str]

    def as_(self, who: str, role: str, organisation: str | None = None) -> dict[str, str]:
        if who not in self.tokens:
            self.tokens[who] = token_for(self.db, role, organisation)
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def api(settings: Settings, london: Database) -> Iterator[Api]:
    with TestClient(create_app(settings)) as client:
        yield Api(client, london)


def test_comments_post_list_edit_and_remove_with_safe_html(api: Api, london: Database) -> None:
    c, researcher = api.client, api.as_("researcher", "researcher")
    body = "**Bold** <script>alert(1)</script> [x](javascript:alert(1))"
    posted = c.post(f"/api/v1/projects/{PROPOSED}/comments", json={"body": body},
                    headers=researcher)
    assert posted.status_code == 201, posted.text
    made = posted.json()
    assert made["project"] == PROPOSED and made["body"] == body
    listed = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=researcher).json()
    assert len(listed) == 1
    html = listed[0]["html"]
    assert "<strong>Bold</strong>" in html and "<script>" not in html
    assert 'href="javascript:' not in html
    assert listed[0]["can_edit"] and listed[0]["can_remove"] and listed[0]["body"] == body
    other = api.as_("other", "researcher")
    seen = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=other).json()[0]
    assert not seen["can_edit"] and not seen["can_remove"] and seen["body"] == ""
    assert c.patch(f"/api/v1/comments/{made['id']}", json={"body": "Changed"},
                   headers=other).status_code == 403
    changed = c.patch(f"/api/v1/comments/{made['id']}", json={"body": "Changed"},
                      headers=researcher)
    assert changed.status_code == 200 and changed.json() == {"id": made["id"],
                                                              "body": "Changed"}
    assert c.delete(f"/api/v1/comments/{made['id']}", headers=other).status_code == 403
    cdo = api.as_("cdo", "cdo")
    removed = c.delete(f"/api/v1/comments/{made['id']}", headers=cdo)  # moderation
    assert removed.status_code == 200 and removed.json()["removed"] is True
    after = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=other).json()[0]
    assert after["removed"] and after["html"] == ""
    with london.read() as session:
        actions = set(session.execute(select(AuditEvent.action).where(
            AuditEvent.entity == "project_comment")).scalars())
    assert {"comment", "edit_comment", "moderate_comment"} <= actions


def test_a_posted_comment_names_the_people_it_mentions_not_their_ids(api: Api) -> None:
    posted = api.client.post(f"/api/v1/projects/{PROPOSED}/comments",
                             json={"body": "@cdo and @admin please look"},
                             headers=api.as_("researcher", "researcher"))
    assert posted.status_code == 201, posted.text
    assert posted.json()["mentioned"] == [
        {"handle": "cdo", "name": "Chief Digital Officer"},
        {"handle": "admin", "name": "Portfolio Administrator"}]
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]
    mentioned = schema["CommentPosted"]["properties"]["mentioned"]["items"]
    assert mentioned == {"$ref": "#/components/schemas/Mentioned"}


@pytest.mark.parametrize("body, field", [
    ({"body": ""}, "body"), ({"body": "x" * 20_001}, "body"), ({}, "body"),
    ({"body": "fine", "extra": 1}, "extra"), ({"body": "x" * 60_000}, "body"),
])
def test_a_bad_comment_is_a_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    answer = api.client.post(f"/api/v1/projects/{PROPOSED}/comments", json=body,
                             headers=api.as_("researcher", "researcher"))
    assert answer.status_code == 422
    assert field in answer.json()["errors"], answer.json()


def test_progress_and_owner_through_the_api(api: Api) -> None:
    c, gla = api.client, api.as_("gla", "lead", "GLA")
    camden = api.as_("camden", "lead", "E09000007")
    update = {"rag": "amber", "summary": "Supplier late; recovery plan agreed."}
    assert c.post(f"/api/v1/projects/{COMMITTED}/progress", json=update,
                  headers=camden).status_code == 403
    made = c.post(f"/api/v1/projects/{COMMITTED}/progress", json=update, headers=gla)
    assert made.status_code == 201, made.text
    assert made.json()["rag"] == "amber"
    future = c.post(f"/api/v1/projects/{COMMITTED}/progress",
                    json=update | {"reported_on": "2999-01-01"}, headers=gla)
    assert future.status_code == 422 and "reported_on" in future.json()["errors"]
    wrong = c.post(f"/api/v1/projects/{COMMITTED}/progress", json=update | {"rag": "blue"},
                   headers=gla)
    assert wrong.status_code == 422 and "rag" in wrong.json()["errors"]
    proposed = c.post(f"/api/v1/projects/{PROPOSED}/progress", json=update,
                      headers=api.as_("cdo", "cdo"))
    assert proposed.status_code == 422
    shown = c.get(f"/api/v1/projects/{COMMITTED}/progress", headers=camden).json()
    assert shown["latest"]["rag"] == "amber" and not shown["latest"]["stale"]
    assert shown["updates"][0]["summary"] == update["summary"]
    steward = c.put(f"/api/v1/projects/{COMMITTED}/stewardship",
                    json={"owner_email": "nobody@example.org",
                          "public_contact": "data@london.gov.uk"}, headers=gla)
    assert steward.status_code == 422 and "owner_email" in steward.json()["errors"]
    steward = c.put(f"/api/v1/projects/{COMMITTED}/stewardship",
                    json={"public_contact": "data@london.gov.uk"}, headers=gla)
    assert steward.status_code == 200 and steward.json()["public_contact"] == "data@london.gov.uk"
    assert c.get(f"/api/v1/projects/{COMMITTED}/progress",
                 headers=camden).json()["public_contact"] == "data@london.gov.uk"


def test_watching_and_notifications_through_the_api(api: Api, london: Database) -> None:
    c = api.client
    researcher = api.as_("researcher", "researcher")
    assert c.get(f"/api/v1/projects/{PROPOSED}/watch",
                 headers=researcher).json()["watching"] is False
    assert c.put(f"/api/v1/projects/{PROPOSED}/watch", json={"watching": True},
                 headers=researcher).json() == {"project": PROPOSED, "watching": True}
    poster = api.as_("poster", "researcher")
    assert c.post(f"/api/v1/projects/{PROPOSED}/comments", json={"body": "A first look."},
                  headers=poster).status_code == 201
    c.app.state.database.background.wait()  # type: ignore[attr-defined]
    mine = c.get("/api/v1/notifications?unread=true", headers=researcher).json()
    assert [n["kind"] for n in mine] == ["comment"] and not mine[0]["read"]
    assert mine[0]["link"] == f"/projects/{PROPOSED}"
    marked = c.post("/api/v1/notifications/read", json={"ids": [mine[0]["id"]]},
                    headers=researcher)
    assert marked.json() == {"marked": 1}
    assert c.get("/api/v1/notifications?unread=true", headers=researcher).json() == []
    assert c.post("/api/v1/notifications/read", json={}, headers=researcher).json() == {
        "marked": 0}
    prefs = c.get("/api/v1/notifications/preferences", headers=researcher).json()
    assert prefs["channels"]["comment"] == "in_app"
    changed = c.put("/api/v1/notifications/preferences",
                    json={"channels": {"comment": "off"}}, headers=researcher)
    assert changed.status_code == 200 and changed.json()["channels"]["comment"] == "off"
    unknown = c.put("/api/v1/notifications/preferences",
                    json={"channels": {"weather": "off"}}, headers=researcher)
    assert unknown.status_code == 422 and "channels.weather" in unknown.json()["errors"]
    bad = c.put("/api/v1/notifications/preferences",
                json={"channels": {"comment": "pigeon"}}, headers=researcher)
    assert bad.status_code == 422
    assert c.get("/api/v1/notifications").status_code == 401
    with london.read() as session:
        assert session.execute(select(Project.id).where(Project.slug == PROPOSED)).scalar()


def test_a_megabyte_of_text_is_refused_before_it_is_read(api: Api) -> None:
    answer = api.client.post(f"/api/v1/projects/{PROPOSED}/comments",
                             json={"body": "x" * 1_000_000},
                             headers=api.as_("researcher", "researcher"))
    assert answer.status_code == 413 and "larger than" in answer.json()["detail"]


def test_a_comment_edited_since_it_was_read_is_kept_from_removal(api: Api) -> None:
    c, author, cdo = api.client, api.as_("author", "researcher"), api.as_("cdo", "cdo")
    made = c.post(f"/api/v1/projects/{PROPOSED}/comments", json={"body": "First"},
                  headers=author).json()
    read = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=cdo).json()[0]
    assert read["edited_at"] is None
    c.patch(f"/api/v1/comments/{made['id']}", json={"body": "Second"}, headers=author)
    stale = c.delete(f"/api/v1/comments/{made['id']}", params={"was_edited_at": ""},
                     headers=cdo)
    assert stale.status_code == 409, stale.text
    assert "edited by its author" in stale.json()["detail"]
    now = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=cdo).json()[0]
    # The comment as the remover's discussion shows it, as an edit's 409 gives it.
    assert stale.json()["current"] == now
    assert not now["removed"]
    removed = c.delete(f"/api/v1/comments/{made['id']}",
                       params={"was_edited_at": now["edited_at"]}, headers=cdo)
    assert removed.status_code == 200 and removed.json()["removed"] is True


def test_an_edit_from_a_stale_reading_is_refused_with_the_comment_as_it_is(api: Api) -> None:
    # Review: two clients of one author each PATCHed the comment they had read, and the
    # second replaced the first's edit without a word.
    c, author = api.client, api.as_("author", "researcher")
    made = c.post(f"/api/v1/projects/{PROPOSED}/comments", json={"body": "First"},
                  headers=author).json()
    read = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=author).json()[0]
    first = c.patch(f"/api/v1/comments/{made['id']}",
                    json={"body": "Second", "was_edited_at": ""}, headers=author)
    assert first.status_code == 200, first.text
    stale = c.patch(f"/api/v1/comments/{made['id']}",
                    json={"body": "Third", "was_edited_at": read["edited_at"] or ""},
                    headers=author)
    assert stale.status_code == 409, stale.text
    assert "changed since you read it" in stale.json()["detail"]
    now = c.get(f"/api/v1/projects/{PROPOSED}/comments", headers=author).json()[0]
    assert stale.json()["current"] == now and now["body"] == "Second"
    again = c.patch(f"/api/v1/comments/{made['id']}",
                    json={"body": "Third", "was_edited_at": now["edited_at"]}, headers=author)
    assert again.status_code == 200 and again.json()["body"] == "Third"


def test_an_edit_s_was_edited_at_must_be_a_time(api: Api) -> None:
    c, author = api.client, api.as_("author", "researcher")
    made = c.post(f"/api/v1/projects/{PROPOSED}/comments", json={"body": "First"},
                  headers=author).json()
    answer = c.patch(f"/api/v1/comments/{made['id']}",
                     json={"body": "Second", "was_edited_at": "yesterday"}, headers=author)
    assert answer.status_code == 422
    assert "edited_at as read" in answer.json()["errors"]["was_edited_at"]


def test_the_api_merges_a_stewardship_put_from_a_stale_reading(api: Api) -> None:
    # Review: the page merged a stale owner form field by field, but the API's PUT replaced
    # the contact a colleague had just set with the one the client had read.
    c, gla = api.client, api.as_("gla", "lead", "GLA")
    url = f"/api/v1/projects/{COMMITTED}/stewardship"
    assert c.put(url, json={"public_contact": "first@london.gov.uk"},
                 headers=gla).status_code == 200
    read = {"owner_email": None, "public_contact": "first@london.gov.uk"}
    assert c.put(url, json={"public_contact": "bob@london.gov.uk"},
                 headers=gla).status_code == 200
    clash = c.put(url, json={"public_contact": "alice@london.gov.uk", "was": read},
                  headers=gla)
    assert clash.status_code == 409 and clash.json()["current"]["public_contact"] == (
        "bob@london.gov.uk")
    shown = c.get(f"/api/v1/projects/{COMMITTED}/progress", headers=gla).json()
    assert shown["public_contact"] == "bob@london.gov.uk"


def test_the_api_takes_a_channel_for_every_kind_of_notification_and_no_other() -> None:
    # The API's body lists the kinds by hand (a schema clients can read): a kind added to
    # the service and not to it could not be chosen through the API.
    from portfolio.services.notifications import KINDS
    from web.api_together import ChannelsIn

    assert set(ChannelsIn.model_fields) == set(KINDS)
