"""An edit from before a harvest is merged with the harvest's changes, not over them.

Found in review: a harvest raised each dataset's version but recorded no change of that
dataset, so an edit sent from the version read before it rebuilt "what the user saw" with the
harvest's values already in it, found only the user's change, and wrote over the harvest's
description without a word.
"""

from __future__ import annotations

from datetime import date

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services.harvest import PortalDataset, harvest_entries
from tests.web.conftest import SignedIn

CODE = "english-indices-of-deprivation-2019"


def test_an_edit_from_before_a_harvest_meets_the_harvests_change_as_a_conflict(
        signed_in: SignedIn, london: Database) -> None:
    admin = signed_in("admin")
    read = admin.get(f"/api/v1/datasets/{CODE}").json()
    entry = PortalDataset(identifier="imd-2019", title=read["title"],
                          description="From the portal: the official description")
    with london.write() as session:
        plan = harvest_entries(session, actor=SYSTEM, entries=[entry], source="https://portal",
                               default_publisher=read["publisher"], dry_run=False,
                               confirmed={"imd-2019"}, today=date.today())
    assert [u["code"] for u in plan.update] == [CODE]
    sent = admin.patch(f"/api/v1/datasets/{CODE}", json={
        "description": "Mine, typed before the harvest", "version": read["version"]})
    assert sent.status_code == 409, sent.text
    clash = sent.json()["conflicts"]["description"]
    assert clash["theirs"] == "From the portal: the official description"
    assert clash["mine"] == "Mine, typed before the harvest"
    # A field the harvest did not change is still merged in.
    title = admin.patch(f"/api/v1/datasets/{CODE}", json={
        "title": "Indices of deprivation 2019 (English)", "version": read["version"]})
    assert title.status_code == 200, title.text
    after = admin.get(f"/api/v1/datasets/{CODE}").json()
    assert after["description"] == "From the portal: the official description"
    assert after["title"] == "Indices of deprivation 2019 (English)"
