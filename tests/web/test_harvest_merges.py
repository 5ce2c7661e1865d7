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


# Found in review of the fix: two entries of one catalogue matching one registered dataset
# (by its address) each planned from the version read, so the second met the version the
# first wrote and the whole harvest was refused, blaming an edit that never happened.
def test_two_entries_matching_one_dataset_are_written_in_turn(london: Database) -> None:
    from sqlalchemy import select

    from portfolio.models import AuditEvent, Dataset

    with london.write() as session:
        dataset = session.execute(select(Dataset).where(Dataset.code == CODE)).scalars().one()
        dataset.url = "https://portal.example/d/1"
        session.add(dataset)
        session.flush()
        version, dataset_id = dataset.version, dataset.id
    entries = [PortalDataset(identifier="a-1", title="Portal A", url="https://portal.example/d/1",
                             description="desc A"),
               PortalDataset(identifier="a-2", title="Portal A", url="https://portal.example/d/1",
                             description="desc B")]
    with london.write() as session:
        plan = harvest_entries(session, actor=SYSTEM, entries=entries, source="https://portal",
                               default_publisher="MHCLG", dry_run=False, confirmed=set(),
                               today=date.today())
    assert [u["code"] for u in plan.update] == [CODE, CODE]
    with london.read() as session:
        row = session.execute(select(Dataset).where(Dataset.code == CODE)).scalars().one()
        changes = session.execute(select(AuditEvent.before, AuditEvent.after).where(
            AuditEvent.entity == "dataset", AuditEvent.entity_id == dataset_id,
            AuditEvent.action == "update").order_by(AuditEvent.id)).all()
    assert (row.description, row.version) == ("desc B", version + 2)
    assert [(b["description"], a["description"]) for b, a in changes][-1] == ("desc A", "desc B")
