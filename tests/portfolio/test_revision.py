"""Every portfolio write moves the revision by itself; other writes and rollbacks do not."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, update
from sqlmodel import select

from portfolio.db import Database
from portfolio.models import ApiToken, Organisation, Project
from portfolio.revision import WROTE_REVISION
from portfolio.services.common import current_revision


def revision_of(db: Database) -> int:
    with db.read() as session:
        return current_revision(session)


def test_an_orm_write_moves_the_revision_once_per_transaction(london: Database) -> None:
    before = revision_of(london)
    with london.write() as session:
        for project in session.exec(select(Project).limit(3)).all():
            project.title = project.title + " (renamed)"
            session.flush()
    assert revision_of(london) == before + 1
    assert session.info[WROTE_REVISION] == before + 1


def test_a_bulk_core_write_moves_the_revision(london: Database) -> None:
    before = revision_of(london)
    with london.write() as session:
        session.execute(update(Project).values(effort_pm=Project.effort_pm))
    assert revision_of(london) == before + 1
    with london.write() as session:
        session.connection().execute(insert(Organisation.__table__).values(
            code="X-NEW", name="A new partner", kind="supplier"))
    assert revision_of(london) == before + 2


def test_writes_outside_the_portfolio_leave_the_revision(london: Database) -> None:
    before = revision_of(london)
    with london.write() as session:
        session.execute(update(ApiToken).values(name=ApiToken.name))
    assert revision_of(london) == before
    assert WROTE_REVISION not in session.info


def test_a_rolled_back_write_makes_no_revision(london: Database) -> None:
    before = revision_of(london)
    with pytest.raises(RuntimeError), london.write() as session:
        session.execute(update(Project).values(effort_pm=Project.effort_pm))
        raise RuntimeError("refused")
    assert revision_of(london) == before
    assert WROTE_REVISION not in session.info
    with london.write() as session:  # the pooled connection forgets the rolled-back move
        session.execute(update(Project).values(effort_pm=Project.effort_pm))
    assert revision_of(london) == before + 1


def test_every_table_is_classed_as_portfolio_or_not() -> None:
    from portfolio.models import metadata
    from portfolio.revision import NOT_PORTFOLIO_TABLES, PORTFOLIO_TABLES

    tables = {t.name for t in metadata.sorted_tables}
    assert not PORTFOLIO_TABLES & NOT_PORTFOLIO_TABLES
    unclassed = tables - PORTFOLIO_TABLES - NOT_PORTFOLIO_TABLES
    assert not unclassed, f"say in portfolio/revision.py whether a write to {unclassed} " \
                          "changes what the engine ranks"


def revisions_of(db: Database) -> tuple[int, int]:
    """Return the portfolio revision and the ranked revision."""
    from portfolio.services.common import ranked_revision

    with db.read() as session:
        return current_revision(session), ranked_revision(session)


def test_a_write_to_fields_the_ranking_never_reads_leaves_the_ranked_revision(
        london: Database) -> None:
    from datetime import date

    revision, ranked = revisions_of(london)
    with london.write() as session:  # the ORM's flush, as an edit makes it
        project = session.exec(select(Project).limit(1)).one()
        project.title, project.description = "Renamed", "Described again"
        project.start_date, project.end_date = date(2027, 1, 1), date(2027, 12, 31)
        project.version += 1
    assert revisions_of(london) == (revision + 1, ranked)
    with london.write() as session:  # a Core update, values named or bound
        session.execute(update(Project).values(mandatory_justification="Statutory"))
        session.execute(update(Project).where(Project.id == project.id),
                        {"override_justification": "Asked for"})
    assert revisions_of(london) == (revision + 2, ranked)


@pytest.mark.parametrize("write", ["ranked field", "after an unranked one", "insert",
                                   "another table", "ranked field as a parameter",
                                   "ranked field in a read-only mapping"])
def test_any_other_portfolio_write_moves_the_ranked_revision(london: Database,
                                                             write: str) -> None:
    revision, _ranked = revisions_of(london)
    with london.write() as session:
        if write == "ranked field":
            session.execute(update(Project).values(cost_gbp=Project.cost_gbp + 1))
        elif write == "after an unranked one":
            session.execute(update(Project).values(title=Project.title))
            session.execute(update(Project).values(archived_at=None))
        elif write == "insert":
            session.connection().execute(insert(Organisation.__table__).values(
                code="X-NEW", name="A new partner", kind="supplier"))
        elif write == "another table":
            session.execute(update(Organisation).values(name=Organisation.name))
        elif write == "ranked field as a parameter":  # as the ORM's flush sends values
            session.execute(update(Project).where(Project.id == -1), {"cost_gbp": 5})
        else:  # any mapping names the columns it sets (found in review)
            from types import MappingProxyType

            session.execute(update(Project).where(Project.id == -1),
                            MappingProxyType({"cost_gbp": 5}))
    assert revisions_of(london) == (revision + 1, revision + 1)


def test_moves_undone_with_a_savepoint_are_made_again_by_a_later_write(
        london: Database) -> None:
    # Found in review: a rolled-back savepoint undid the moves, and the transaction's later
    # writes, taking them as made, moved nothing.
    revision, _ranked = revisions_of(london)
    with london.write() as session:
        with pytest.raises(RuntimeError), session.begin_nested():
            session.execute(update(Project).values(cost_gbp=Project.cost_gbp + 1))
            raise RuntimeError("undone")
        session.execute(update(Project).values(effort_pm=Project.effort_pm + 1))
    assert revisions_of(london) == (revision + 1, revision + 1)
    with london.write() as session:
        with session.begin_nested():  # kept: its moves stand for the whole transaction
            session.execute(update(Project).values(title=Project.title))
        session.execute(update(Project).values(description=Project.description))
    assert revisions_of(london) == (revision + 2, revision + 1)
