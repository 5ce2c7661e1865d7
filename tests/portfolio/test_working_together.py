"""Working together through the services, on SQLite and PostgreSQL: mentions, fan-out, digests."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from portfolio.actors import SYSTEM, Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.models import EmailOutbox, Notification, Project, User, utcnow
from portfolio.services import accounts, comments, notifications, progress, reviews, watching

PROPOSED = "bd-propensity-to-pay"
COMMITTED = "london-datastore-replatforming"


def add_user(db: Database, email: str, role: str = "researcher",
             organisation: str | None = None) -> Actor:
    with db.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, password="a long enough password 1",
                          data={"email": email, "name": email.split("@")[0].title(),
                                "role": role, "organisation": organisation})
        user = session.execute(select(User).where(User.email == email)).scalar_one()
        return watching.actor_of(user)


def test_mentions_match_the_email_handle_exactly_not_as_a_pattern(london: Database) -> None:
    add_user(london, "a_b@example.london")
    add_user(london, "axb@example.london")
    with london.read() as session:
        project = session.execute(select(Project).where(Project.slug == PROPOSED)).scalar_one()
        found = comments.mentioned_readers(session, project, "Hi @a_b and @AXB.")
        names = set(session.execute(select(User.email).where(User.id.in_(found))).scalars())
    assert names == {"a_b@example.london", "axb@example.london"}
    with london.read() as session:  # "_" is not a wildcard: @a_b is not axb
        only = comments.mentioned_readers(session, project, "@a_b")
        assert len(only) == 1


def test_fan_out_skips_the_actor_honours_off_and_queues_email(london: Database) -> None:
    cdo = add_user(london, "chief@example.london", "cdo")
    fan = add_user(london, "fan@example.london")
    off = add_user(london, "off@example.london")
    with london.write() as session:
        for who in (fan, off, cdo):
            watching.set_watching(session=session, actor=who, slug=PROPOSED, watching=True)
        notifications.set_preferences(session=session, user_id=off.id,  # type: ignore[arg-type]
                                      choices={"decision": "off"})
    with london.write() as session:
        reviews.decide(session=session, actor=cdo, slug=PROPOSED, decision="defer",
                       rationale="Next quarter.")
    london.background.wait()
    notifications.deliver_pending(london, send=False)
    with london.read() as session:
        told = dict(session.execute(select(User.email, Notification.kind).join(
            Notification, Notification.user_id == User.id)).all())
        emails = set(session.execute(select(EmailOutbox.to_address)).scalars())
    assert told.get("fan@example.london") == "decision"
    assert "off@example.london" not in told and "chief@example.london" not in told
    assert "fan@example.london" in emails


def test_daily_digest_gathers_a_days_notifications_into_one_email(london: Database) -> None:
    author = add_user(london, "author@example.london")
    reader = add_user(london, "reader@example.london")
    with london.write() as session:
        watching.set_watching(session=session, actor=reader, slug=PROPOSED, watching=True)
        notifications.set_preferences(session=session, user_id=reader.id,  # type: ignore[arg-type]
                                      choices={"comment": "digest"})
        for text in ("First", "Second"):
            comments.post_comment(session=session, actor=author, slug=PROPOSED, body=text,
                                  max_chars=1000)
    london.background.wait()
    notifications.deliver_pending(london, send=False)
    with london.read() as session:
        digests = list(session.execute(select(EmailOutbox).where(
            EmailOutbox.kind == "digest")).scalars())
    assert len(digests) == 1 and digests[0].to_address == "reader@example.london"
    assert "2 notifications" in digests[0].subject
    assert "First" in digests[0].text_body and "Second" in digests[0].text_body
    with london.write() as session:
        comments.post_comment(session=session, actor=author, slug=PROPOSED, body="Third",
                              max_chars=1000)
    london.background.wait()
    notifications.deliver_pending(london, send=False)  # not a day since the last digest
    tomorrow = utcnow() + timedelta(days=1, minutes=1)
    notifications.deliver_pending(london, send=False, now=tomorrow)
    with london.read() as session:
        assert len(session.execute(select(EmailOutbox).where(
            EmailOutbox.kind == "digest")).scalars().all()) == 2


def test_rag_summary_counts_latest_status_and_stale(london: Database) -> None:
    lead = add_user(london, "gla.lead@example.london", "lead", "GLA")
    with london.write() as session:
        progress.report_progress(session=session, actor=lead, slug=COMMITTED,
                                 data={"rag": "green", "summary": "On track."})
        progress.report_progress(session=session, actor=lead, slug=COMMITTED,
                                 data={"rag": "red", "summary": "Supplier failed."})
    with london.read() as session:
        summary = progress.rag_summary(session, stale_days=30)
        later = progress.rag_summary(session, stale_days=30,
                                     today=date.today() + timedelta(days=31))
    assert summary["counts"]["red"] == 1 and summary["counts"]["green"] == 0
    assert summary["text"].startswith("1 red")
    assert later["counts"]["stale"] == later["committed"]


def test_a_lead_who_stops_watching_hears_no_comments(london: Database) -> None:
    lead = add_user(london, "bd.quiet@example.london", "lead", "E09000002")
    other = Actor(id=None, role=Role.CDO, email="system")
    with london.read() as session:
        project = session.execute(select(Project).where(Project.slug == PROPOSED)).scalar_one()
        assert lead.id in watching.watchers(session, project.id)  # type: ignore[arg-type]
    with london.write() as session:
        watching.set_watching(session=session, actor=lead, slug=PROPOSED, watching=False)
        comments.post_comment(session=session, actor=other, slug=PROPOSED, body="Hello",
                              max_chars=1000)
    london.background.wait()
    notifications.deliver_pending(london, send=False)
    with london.read() as session:
        assert session.execute(select(Notification).where(
            Notification.user_id == lead.id)).scalars().all() == []


def test_cli_notify_delivers_what_is_pending(london: Database) -> None:
    from typer.testing import CliRunner

    from portfolio.cli import app

    with london.write() as session:
        session.execute(update(Project).where(Project.slug == COMMITTED)
                        .values(created_at=utcnow() - timedelta(days=400)))
    result = CliRunner().invoke(app, ["notify"], env={
        "PORTFOLIO_DATABASE_URL": london.settings.database_url,
        "PORTFOLIO_SECRET_KEY": "cli-test"})
    assert result.exit_code == 0, result.output
    assert "stale:" in result.output and "events:" in result.output
