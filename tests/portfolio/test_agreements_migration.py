"""Migration 0018 turns the links' agreement words into agreement records, and back."""

from __future__ import annotations

from sqlalchemy import text

from portfolio import migrate
from portfolio.db import make_engine

ROWS = """
INSERT INTO organisation (id, code, name, kind) VALUES
  (1, 'NHSNEL', 'NHS North East London ICB', 'nhs'),
  (2, 'E09000002', 'Barking and Dagenham', 'borough'),
  (3, 'E09000019', 'Islington', 'borough');
INSERT INTO dataset (id, code, title, publisher_id, access, licence, update_frequency, drl,
                     url, formats, version, created_at, updated_at, description) VALUES
  (1, 'gp-registrations', 'GP registrations', 1, 'restricted', '', 'monthly', 'C1', '', '', 1,
   CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '');
INSERT INTO project (id, slug, title, owner_id, theme, status, cost_gbp, effort_pm,
                     personal_data, dpia_status, mandatory, mandatory_justification,
                     override_justification, version, created_at, updated_at, description) VALUES
  (1, 'one-view', 'One View', 2, 'housing', 'idea', 0, 0, false, 'not_needed', false, '', '', 1,
   CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ''),
  (2, 'fuel-poverty', 'Fuel poverty', 3, 'housing', 'idea', 0, 0, false, 'not_needed', false,
   '', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ''),
  (3, 'health-map', 'Health map', 1, 'housing', 'idea', 0, 0, false, 'not_needed', false, '',
   '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '');
INSERT INTO project_dataset (id, project_id, dataset_id, relation, required, fit_for_task,
                             agreement) VALUES
  (1, 1, 1, 'uses', true, 'fit', 'signed'),
  (2, 2, 1, 'uses', true, 'fit', 'signed'),
  (3, 3, 1, 'uses', true, 'fit', 'not_needed');
"""


def test_link_words_become_one_record_per_dataset_and_word_and_come_back(
        empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0015")
    with engine.begin() as connection:
        for statement in filter(str.strip, ROWS.split(";")):
            connection.execute(text(statement))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        agreements = connection.execute(text(
            "SELECT id, code, status FROM sharing_agreement")).all()
        assert [(code, status) for _, code, status in agreements] == [
            ("gp-registrations-signed", "signed")]
        parties = dict(connection.execute(text(
            "SELECT organisation_id, role FROM agreement_party")).all())
        assert parties == {1: "controller", 2: "recipient", 3: "recipient"}
        links = connection.execute(text(
            "SELECT id, agreement, sharing_agreement_id FROM project_dataset ORDER BY id")).all()
        assert [tuple(r) for r in links] == [(1, "none", agreements[0][0]),
                                             (2, "none", agreements[0][0]),
                                             (3, "not_needed", None)]
    migrate.downgrade(engine, "0015")
    with engine.connect() as connection:
        words = connection.execute(text(
            "SELECT agreement FROM project_dataset ORDER BY id")).scalars().all()
    assert words == ["signed", "signed", "not_needed"]
    engine.dispose()


AGREEMENTS = """
INSERT INTO organisation (id, code, name, kind) VALUES
  (1, 'NHSNEL', 'NHS North East London ICB', 'nhs'),
  (2, 'E09000002', 'Barking and Dagenham', 'borough');
INSERT INTO sharing_agreement (id, code, title, purpose, dpia_reference, signed_on, status,
                               document_url, version, created_at, updated_at) VALUES
  (1, 'signed-dsa', 'Signed', '', '', '2026-01-05', 'signed', '', 1, CURRENT_TIMESTAMP,
   CURRENT_TIMESTAMP),
  (2, 'from-a-word', 'From a link word', '', '', NULL, 'signed', '', 1, CURRENT_TIMESTAMP,
   CURRENT_TIMESTAMP),
  (3, 'drafting-dsa', 'Drafting', '', '', NULL, 'drafting', '', 1, CURRENT_TIMESTAMP,
   CURRENT_TIMESTAMP);
INSERT INTO agreement_party (agreement_id, organisation_id, role) VALUES
  (1, 1, 'controller'), (1, 2, 'recipient'), (2, 1, 'controller'), (3, 1, 'controller'),
  (3, 2, 'recipient');
"""


def test_agreements_recorded_as_signed_keep_every_partys_signature(
        empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0031")
    with engine.begin() as connection:
        for statement in filter(str.strip, AGREEMENTS.split(";")):
            connection.execute(text(statement))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        signed = connection.execute(text(
            "SELECT agreement_id, organisation_id, signed_on, signed_by_id "
            "FROM agreement_signature ORDER BY agreement_id, organisation_id")).all()
    assert [(a, o, str(on) if on else None, by) for a, o, on, by in signed] == [
        (1, 1, "2026-01-05", None), (1, 2, "2026-01-05", None), (2, 1, None, None)]
    migrate.downgrade(engine, "0031")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM sharing_agreement")).scalar() == 3
    engine.dispose()
