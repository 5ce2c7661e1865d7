"""Every write route either carries what its client read or is safe without it (and says why).

The promise: concurrent edits never silently overwrite each other. A write that changes a
shared, editable thing sends the version (or the values) it was read at, and one changed since
is refused; the rest are listed below with the reason they need nothing. A new write route
fails here until it is put in one list or the other.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from tests.web.test_permissions import routes

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# API routes and the body field or query parameter carrying what the client read.
API_READS = {
    "PUT /api/v1/projects/{slug}": "version",
    "PATCH /api/v1/projects/{slug}": "version",
    "POST /api/v1/projects/{slug}/status": "version",
    "POST /api/v1/projects/{slug}/decisions": "version",
    "PUT /api/v1/projects/{slug}/override": "was",
    "DELETE /api/v1/projects/{slug}/override": "was_value",
    "PUT /api/v1/projects/{slug}/datasets/{dataset}": "was",
    "PUT /api/v1/projects/{slug}/ig/{stage}": "was",
    "PUT /api/v1/projects/{slug}/benefits": "version",
    "PUT /api/v1/projects/{slug}/stewardship": "was",
    "PUT /api/v1/datasets/{code}": "version",
    "PATCH /api/v1/datasets/{code}": "version",
    "POST /api/v1/datasets/{code}/readiness": "version",
    "PUT /api/v1/profiles/{name}": "version",
    "PUT /api/v1/scenarios/{scenario_id}": "version",
    "DELETE /api/v1/scenarios/{scenario_id}": "version",
    "PUT /api/v1/capacities": "was_person_months",
    "DELETE /api/v1/capacities/{organisation}/{quarter}": "was_person_months",
    "PUT /api/v1/agreements/{code}": "version",
    "PATCH /api/v1/comments/{comment_id}": "was_edited_at",
    "DELETE /api/v1/comments/{comment_id}": "was_edited_at",
    "POST /api/v1/agreements/{code}/sign": "version",
}

# Page form posts (by route name) and the field every form posting there carries.
PAGE_READS = {
    "project_update": "version",
    "project_move": "version",
    "project_override": "was_value",
    "project_decide": "version",
    "project_archive": "version",
    "project_stewardship": "was_",
    "project_benefits_record": "version",
    "ig_record": "was_",
    "dataset_link": "read",
    "dataset_unlink": "was",
    "partner_add": "read",
    "partner_remove": "was_role",
    "dependency_remove": "was_note",
    "notification_preferences": "was_pref_",
    "dataset_update": "version",
    "dataset_readiness": "version",
    "agreement_update": "version",
    "profile_update": "version",
    "profile_ahp_save": "version",
    "scenario_update": "version",
    "scenario_delete": "version",
    "scenario_rename_save": "version",
    "capacity_set": "read",
    "capacity_remove": "was_person_months",
    "comment_edit": "was_edited_at",
    "comment_remove": "was_edited_at",
    "user_update": "was_role",
    "agreement_sign": "version",
}

CREATES = "creates a new thing; a name, code or slug already taken is refused"
APPENDS = "appends to a history; nothing stored is changed"
OWN = "changes only the caller's own session, tokens or settings"
NOTHING = "stores nothing"
REQUEST = ("a partner request never changes once made, and one answered or withdrawn "
           "meanwhile is refused")
# Writes that need no reading, each with why.
SAFE = {
    "POST /api/v1/projects": CREATES,
    "POST /projects/new": CREATES,
    "POST /api/v1/datasets": CREATES,
    "POST /catalogue/register": CREATES,
    "POST /api/v1/agreements": CREATES,
    "POST /agreements/new": CREATES,
    "POST /api/v1/scenarios": CREATES,
    "POST /scenarios": CREATES,
    "POST /plan/roadmap/scenarios": CREATES,
    "POST /profiles": CREATES,
    "POST /profiles/from-sliders": CREATES,
    "POST /admin/users": CREATES,
    "POST /admin/groups": CREATES,
    "POST /api/v1/snapshots": APPENDS,
    "POST /snapshots": APPENDS,
    "POST /api/v1/projects/{slug}/comments": APPENDS,
    "POST /projects/{slug}/comments": APPENDS,
    "POST /api/v1/projects/{slug}/progress": APPENDS,
    "POST /projects/{slug}/progress": APPENDS,
    "POST /projects/{slug}/assessments": APPENDS + " (each assessment is kept)",
    "POST /projects/{slug}/assess": APPENDS + " (each assessment is kept)",
    "POST /api/v1/attachments/project/{slug}": APPENDS + " (each file is a new attachment)",
    "POST /api/v1/attachments/agreement/{code}": APPENDS + " (each file is a new attachment)",
    "POST /attachments/project/{slug}": APPENDS + " (each file is a new attachment)",
    "POST /attachments/agreement/{code}": APPENDS + " (each file is a new attachment)",
    "DELETE /api/v1/attachments/{attachment_id}": "an attachment never changes after upload: "
                                                  "the one removed is the one read",
    "POST /attachments/{attachment_id}/remove": "an attachment never changes after upload: the "
                                                "one removed is the one read",
    "POST /admin/groups/{mapping_id}/remove": "a group mapping never changes after it is added: "
                                              "the one removed is the one read",
    "POST /api/v1/projects/{slug}/dependencies": "adding one already there changes nothing; a "
                                                 "different note for it is refused (409)",
    "POST /projects/{slug}/dependencies": "adding one already there changes nothing; a "
                                          "different note for it is refused (409)",
    "POST /api/v1/projects/{slug}/join": "joining twice changes nothing: a partner's role "
                                         "already set is kept",
    "POST /projects/{slug}/join": "joining twice changes nothing: a partner's role already set "
                                  "is kept",
    "POST /api/v1/projects/{slug}/partner-requests/{organisation}/accept": REQUEST,
    "DELETE /api/v1/projects/{slug}/partner-requests/{organisation}": REQUEST,
    "POST /projects/{slug}/partner-requests/accept": REQUEST,
    "POST /projects/{slug}/partner-requests/decline": REQUEST,
    "POST /api/v1/projects/{slug}/partner-requests/{organisation}/withdraw": REQUEST,
    "POST /projects/{slug}/partner-requests/withdraw": REQUEST,
    "POST /api/v1/collaboration/dismiss": "dismissing twice is dismissing once",
    "POST /collaboration/dismiss": "dismissing twice is dismissing once",
    "POST /api/v1/projects/{slug}/answer": "answers the open question, and one answered "
                                           "meanwhile is refused",
    "POST /projects/{slug}/answer": "answers the open question, and one answered meanwhile is "
                                    "refused",
    "POST /profiles/{name}/retire": "a flag: retiring or restoring twice is the same",
    "POST /admin/users/{email}/password": "gives a new one-time password; nothing typed by "
                                          "another is replaced",
    "PUT /api/v1/projects/{slug}/watch": OWN,
    "POST /projects/{slug}/watch": OWN,
    "POST /api/v1/notifications/read": OWN,
    "POST /notifications/read": OWN,
    "PUT /api/v1/notifications/preferences": OWN,
    "POST /notifications/unsubscribe": OWN,
    "POST /login": OWN,
    "POST /logout": OWN,
    "POST /account/sessions/end": OWN,
    "POST /account/tokens": OWN,
    "POST /account/tokens/{token_id}/revoke": OWN,
    "POST /account/password": OWN,
    "POST /api/v1/ahp": NOTHING,
    "POST /profiles/ahp/preview": NOTHING,
    "POST /projects/validate": NOTHING,
    "POST /api/v1/similar": NOTHING,
    "POST /projects/new/similar": NOTHING,
    # A file's rows carry what was read in their own `version` column (optional, per row).
    "POST /api/v1/import/projects": "bulk update by slug; each row's version column guards it",
    "POST /import": "bulk update by slug; each row's version column guards it",
    # Found in the crawl and left: a harvest suggests values a person accepts, with a report.
    "POST /api/v1/catalogue/harvest": "bulk catalogue harvest with its own report",
    "POST /catalogue/harvest": "bulk catalogue harvest with its own report",
}


def write_routes() -> dict[str, APIRoute]:
    """Return every write route of the app by "METHOD path"."""
    return {f"{method} {route.path}": route for route in routes()
            for method in route.methods & WRITES}


def declared_names(route: APIRoute) -> set[str]:
    """Return the body fields and query parameters an API route declares."""
    names = {param.name for param in route.dependant.query_params}
    for param in route.dependant.body_params:
        model = param.field_info.annotation
        names |= set(getattr(model, "model_fields", {}) or {param.name})
    return names


def forms_posting_to(name: str) -> list[str]:
    """Return the source of every template form whose action is the named route."""
    # A form built by a partial (the action set in a variable) counts with the partial's text.
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text()
        for form in re.findall(r"<form\b.*?</form>", text, re.S):
            if f"'{name}'" in form:
                found.append(form)
        if re.search(rf"{{%\s*set\s+\w+\s*=\s*path_for\(request,\s*'{name}'", text):
            included = re.findall(r"{%\s*include\s+\"(_[\w.]+)\"", text)
            found.append(text + "".join((TEMPLATES / i).read_text() for i in included))
    return found


def test_every_write_route_is_listed_once() -> None:
    by_name = {route.name: key for key, route in write_routes().items()}
    page_keys = {by_name[name] for name in PAGE_READS if name in by_name}
    listed = [*API_READS, *page_keys, *SAFE]
    assert sorted(set(listed)) == sorted(listed), "a route is listed twice"
    unlisted = sorted(set(write_routes()) - set(listed))
    assert not unlisted, f"write routes neither carrying what was read nor said safe: {unlisted}"
    gone = sorted((set(API_READS) | set(SAFE)) - set(write_routes()))
    assert not gone, f"listed routes that no longer exist: {gone}"
    assert not set(PAGE_READS) - set(by_name), "a page route listed that no longer exists"


@pytest.mark.parametrize("key", sorted(API_READS))
def test_an_api_write_declares_what_was_read(key: str) -> None:
    assert API_READS[key] in declared_names(write_routes()[key])


@pytest.mark.parametrize("name", sorted(PAGE_READS))
def test_every_form_of_a_page_write_sends_what_was_read(name: str) -> None:
    forms = forms_posting_to(name)
    assert forms, f"no template form posts to {name}"
    for form in forms:
        assert f'name="{PAGE_READS[name]}' in form, f"a form posting to {name} lacks it"
