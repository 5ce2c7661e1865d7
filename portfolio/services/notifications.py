"""Notifications: events written with an action, fanned out and emailed by background work.

An action writes one `notification_event` row in its own transaction (`announce`); after the
commit, `kick` starts `deliver_pending` in the background, which fans events out to in-app
notifications and to the email outbox by each user's preference, queues daily digests and
sends the outbox through SMTP with retries. Nothing is sent inside a request, and an SMTP server
that is down fails only the email. `deliver_pending(db)` is the one entry point: a job queue
or `portfolio notifications deliver` (cron) may run it as well.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.enums import Role
from portfolio.errors import Invalid
from portfolio.models import (
    EmailOutbox,
    Notification,
    NotificationEvent,
    NotificationPreference,
    Project,
    User,
    utcnow,
)
from portfolio.schemas import ROW_ID_MAX
from portfolio.services.agreements import notice_expiring
from portfolio.services.common import chunks, save_rows
from portfolio.services.progress import notice_stale, owners_of
from portfolio.services.watching import may_read, watchers

if TYPE_CHECKING:
    from portfolio.db import Database
    from portfolio.settings import Settings

LOG = logging.getLogger(__name__)

# Each kind, what it is in words (the account page), and its channel until the user chooses.
KINDS: dict[str, tuple[str, str]] = {
    "decision": ("A review decision on my project or a project I watch", "email"),
    "question": ("A reviewer's question on my project", "email"),
    "mention": ("Someone mentions me in a comment", "email"),
    "comment": ("A comment on a project I watch", "in_app"),
    "stale": ("My project's progress update is overdue", "email"),
    # Written by `agreements.notice_expiring` (payload: agreement title, code, expires_on).
    "agreement_expiring": ("An agreement my project relies on is expiring", "email"),
    # Written by `collaboration.join_project` (payload: organisation, organisation_name), and
    # by `withdraw_partner_request` with `withdrawn`: both go to the owner's active leads.
    "partner_request": ("Another organisation asks to partner in my organisation's project",
                        "email"),
    # Written on accepting or declining (payload: organisation_name, answer, users: who asked).
    "partner_answer": ("The answer to my request to partner in another's project", "email"),
}
CHANNELS: dict[str, str] = {
    "in_app": "In the app only", "email": "In the app and by email",
    "digest": "In the app and in a daily email digest", "off": "Off",
}
AFTER_COMMIT = "after_commit"
DIGEST = "digest"  # the outbox kind of a daily digest email
EVENTS_PER_ROUND = 50
EMAILS_PER_ROUND = 200
DIGEST_EVERY = timedelta(days=1)
STALE_CHECK_EVERY = timedelta(hours=1)
PAGE_LIMIT = 100
# A long List-Unsubscribe URL folded by the default policy comes out RFC 2047-encoded, which
# mail clients do not read as a link: headers keep to SMTP's hard limit of 998 instead.
HEADERS_UNFOLDED = policy.SMTP.clone(max_line_length=998)
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "email"),
    autoescape=select_autoescape(["html"]), keep_trailing_newline=True,
)


# Writing: with the action, in its transaction.

def announce(session: Session, kind: str, *, project_id: int | None, actor: Actor | None,
             payload: dict[str, Any]) -> None:
    """Write an event for fan-out after the action commits (and start delivering then)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    session.add(NotificationEvent(kind=kind, project_id=project_id,
                                  actor_id=actor.id if actor else None, payload=payload))
    hooks = session.info.setdefault(AFTER_COMMIT, [])
    if kick not in hooks:
        hooks.append(kick)


# Delivering: background work.

def kick(db: Database) -> None:
    """Deliver pending notifications in the background of this process (never in a request)."""
    # Kept on the database object: a kick during a delivery makes it go round once more.
    again = db.__dict__.setdefault("notifications_again", threading.Event())
    again.set()

    def work() -> None:
        while again.is_set():
            again.clear()
            deliver_pending(db)

    db.background.submit(("notifications",), work)


def deliver_pending(db: Database, *, now: datetime | None = None,
                    send: bool = True) -> dict[str, int]:
    """Fan out pending events, queue digests and send due emails; return what was done."""
    now = now or utcnow()
    settings = db.settings
    done = {"stale": 0, "expiring": 0, "events": 0, "notifications": 0, "emails_queued": 0,
            "digests": 0, "sent": 0, "failed": 0}
    last = db.__dict__.get("stale_checked_at")
    if last is None or now - last >= STALE_CHECK_EVERY:
        with db.write() as session:
            done["stale"] = notice_stale(session, stale_days=settings.progress_stale_days,
                                         today=now.date())
            done["expiring"] = notice_expiring(session, today=now.date())
        db.__dict__["stale_checked_at"] = now
    while True:
        with db.write() as session:
            events: list[NotificationEvent] = list(session.execute(
                select(NotificationEvent).where(col(NotificationEvent.fanned_out_at).is_(None))
                .order_by(col(NotificationEvent.id)).limit(EVENTS_PER_ROUND)).scalars())
            for event in events:
                made, queued = fan_out(session, event, settings)
                done["notifications"] += made
                done["emails_queued"] += queued
                event.fanned_out_at = now
                session.add(event)
            done["events"] += len(events)
        if len(events) < EVENTS_PER_ROUND:
            break
    with db.write() as session:
        done["digests"] = queue_digests(session, settings, now=now)
    if send and settings.smtp_host:
        sent, failed = send_due(db)  # now: the emails just queued are due too
        done["sent"], done["failed"] = sent, failed
    return done


def recipients(session: Session, event: NotificationEvent) -> set[int]:
    """Return who hears of an event, before preferences and permission to read."""
    payload = event.payload or {}
    pid = event.project_id
    if event.kind == "mention":
        found = set(payload.get("users", []))
    elif event.kind == "comment":
        found = watchers(session, pid) - set(payload.get("skip", [])) if pid else set()
    elif event.kind == "stale":
        found = owners_of(session, pid) if pid else set()
    elif event.kind == "partner_request":
        # Those who may answer it, watching or not: a request waits on them.
        found = leads_of(session, pid) if pid else set()
    elif event.kind == "partner_answer":
        found = set(payload.get("users", []))
    else:  # decision, question, agreement_expiring: my project's owner and its watchers
        found = (owners_of(session, pid) | watchers(session, pid)) if pid else set()
    return found - {event.actor_id}


def leads_of(session: Session, project_id: int) -> set[int]:
    """Return the active leads of the organisation that owns a project."""
    return set(session.execute(select(col(User.id)).join(
        Project, col(Project.owner_id) == col(User.organisation_id)).where(
        col(Project.id) == project_id, col(User.role) == Role.LEAD.value,
        col(User.is_active).is_(True))).scalars())


def fan_out(session: Session, event: NotificationEvent, settings: Settings) -> tuple[int, int]:
    """Write one event's notifications and emails; return how many of each."""
    project = session.get(Project, event.project_id) if event.project_id else None
    wanted = recipients(session, event)
    if not wanted:
        return 0, 0
    payload = event.payload or {}
    message = describe(event.kind, payload, project, _actor_name(session, event))
    link = f"/projects/{project.slug}" if project else "/notifications"
    if project is not None and event.kind == "partner_request" and not (
            payload.get("withdrawn") or payload.get("outcome")):
        link += "/edit#partners"  # where Accept and Decline are
    users: list[User] = []
    for part in chunks(sorted(wanted)):
        users += session.execute(select(User).where(col(User.id).in_(part))).scalars().all()
    channels = _channels(session, [u.id for u in users if u.id is not None], event.kind)
    rows, emails = [], []
    now = utcnow()
    for user in users:
        channel = channels.get(user.id, KINDS[event.kind][1])  # type: ignore[arg-type]
        if channel == "off" or (project is not None and not may_read(user, project)):
            continue
        rows.append({"user_id": user.id, "event_id": event.id, "kind": event.kind,
                     "project_id": event.project_id, "message": message[:500], "link": link,
                     "created_at": now, "read_at": None, "digest_pending": channel == "digest"})
        if channel == "email":
            emails.append(compose(settings, user, event.kind, subject=message,
                                  items=[{"message": message, "link": link}]))
    if rows:
        session.execute(insert(Notification), rows)
    if emails:
        session.execute(insert(EmailOutbox), emails)
    return len(rows), len(emails)


def describe(kind: str, payload: dict[str, Any], project: Project | None, actor: str) -> str:
    """Say in one line what happened."""
    title = project.title if project else "a project"
    who = actor or "Someone"
    excerpt = payload.get("excerpt", "")
    if kind == "decision":
        return f"{who} decided “{payload.get('decision', '')}” on {title}: {excerpt}"
    if kind == "question":
        return f"{who} asked a question about {title}: {excerpt}"
    if kind == "mention":
        return f"{who} mentioned you on {title}: {excerpt}"
    if kind == "comment":
        return f"{who} commented on {title}: {excerpt}"
    if kind == "stale":
        return (f"{title} has had no progress update for too long: it is stale since "
                f"{payload.get('stale_since', '')}")
    if kind == "agreement_expiring":
        return (f"The agreement “{payload.get('agreement', '')}” that {title} relies on "
                f"expires on {payload.get('expires_on', '')}")
    if kind == "partner_request" and payload.get("withdrawn"):
        return (f"{payload.get('organisation_name', '')} withdrew its request to partner in "
                f"{title} ({who}): nothing waits for an answer")
    if kind == "partner_request" and payload.get("outcome"):
        return (f"{payload.get('organisation_name', '')} asked to partner in {title} ({who}): "
                f"the request was {payload['outcome']}")
    if kind == "partner_request":
        return (f"{payload.get('organisation_name', '')} asks to partner in {title} ({who}): "
                "accept or decline on the project's edit page")
    if kind == "partner_answer":
        return (f"{who} {payload.get('answer', 'answered')} the request for "
                f"{payload.get('organisation_name', '')} to partner in {title}")
    return f"{who}: {title}"


# What the notices of a removed comment quote of it instead of its words.
REMOVED_EXCERPT = "(the comment was removed)"


def requote_comment(session: Session, *, project_id: int, comment_id: int,
                    excerpt: str) -> None:
    """Change what the notices of a comment quote of it: its new words, or that it is gone.

    Events still to fan out carry the new excerpt, and notices already written (the
    notifications page, digests still to come) are reworded; emails already sent are not.
    """
    events: list[NotificationEvent] = list(session.execute(select(NotificationEvent).where(
        col(NotificationEvent.project_id) == project_id,
        col(NotificationEvent.kind).in_(("comment", "mention")))).scalars())
    project = session.get(Project, project_id)
    for event in events:
        payload = event.payload or {}
        if payload.get("comment_id") != comment_id:
            continue
        _reword(session, event, {**payload, "excerpt": excerpt}, project)


def close_partner_request(session: Session, *, project_id: int, organisation: str,
                          outcome: str) -> None:
    """Say on the notices of an organisation's waiting request to partner how it ended.

    `outcome` is "accepted", "declined" or "withdrawn". The notices then link to the project
    page, not to the edit page's Accept; reworded as `requote_comment` rewords.
    """
    events: list[NotificationEvent] = list(session.execute(select(NotificationEvent).where(
        col(NotificationEvent.project_id) == project_id,
        col(NotificationEvent.kind) == "partner_request")).scalars())
    project = session.get(Project, project_id)
    for event in events:
        payload = event.payload or {}
        # The request's own notice only: not a withdrawal's, nor one of a request that ended.
        if (payload.get("organisation") != organisation or payload.get("withdrawn")
                or payload.get("outcome")):
            continue
        _reword(session, event, {**payload, "outcome": outcome}, project,
                link=f"/projects/{project.slug}" if project is not None else None)


def _actor_name(session: Session, event: NotificationEvent) -> str:
    """Return the name of the user whose action an event tells of ("" for none)."""
    if event.actor_id is None:
        return ""
    return session.execute(select(col(User.name)).where(col(User.id) == event.actor_id)
                           ).scalar() or ""


def _reword(session: Session, event: NotificationEvent, payload: dict[str, Any],
            project: Project | None, *, link: str | None = None) -> None:
    """Give an event a new payload, and its notices and emails still to send the new words."""
    actor = _actor_name(session, event)
    # The words as the notices and emails were written: the project or the actor may have been
    # renamed since, so the notices' own text, and the words as they would be written now.
    written = set(session.execute(select(col(Notification.message)).where(
        col(Notification.event_id) == event.id)).scalars())
    written.add(describe(event.kind, event.payload or {}, project, actor))
    event.payload = payload
    session.add(event)
    new = describe(event.kind, payload, project, actor)
    changed: dict[str, str] = {"message": new[:500]}
    if link is not None:
        changed["link"] = link
    session.execute(update(Notification).where(col(Notification.event_id) == event.id)
                    .values(**changed))
    for old in written:
        _reword_unsent(session, old, new)


def _reword_unsent(session: Session, old: str, new: str) -> None:
    """Put new words for an item's old in the emails still to send (a digest's too).

    The item is matched whole, as the templates write it (a line "- words" in the text, an
    "<li>words<br>" in the HTML), so an item that merely starts with the same words stays.
    Emails already sent stay as sent.
    """
    text_old, text_new = f"\n- {old}\n", f"\n- {new}\n"
    html_old, html_new = f"<li>{escape(old)}<br>", f"<li>{escape(new)}<br>"
    if old == new:
        return
    unsent: list[EmailOutbox] = list(session.execute(select(EmailOutbox).where(
        col(EmailOutbox.status) == "pending",
        col(EmailOutbox.text_body).contains(text_old, autoescape=True))).scalars())
    for email in unsent:
        if email.subject == email_subject(old):
            email.subject = email_subject(new)
        email.text_body = email.text_body.replace(text_old, text_new)
        email.html_body = email.html_body.replace(html_old, html_new)
        session.add(email)


def _channels(session: Session, user_ids: list[int], kind: str) -> dict[int, str]:
    """Return users' chosen channels for a kind."""
    found: dict[int, str] = {}
    for part in chunks(user_ids):
        found |= dict(session.execute(
            select(col(NotificationPreference.user_id), col(NotificationPreference.channel))
            .where(col(NotificationPreference.kind) == kind,
                   col(NotificationPreference.user_id).in_(part))).all())
    return found


def unsubscribe_token(settings: Settings, user_id: int, kind: str) -> str:
    """Return the signed token of an email's unsubscribe link (one user, one kind)."""
    return URLSafeSerializer(settings.resolved_secret_key(), salt="unsubscribe").dumps(
        {"u": user_id, "k": kind})


def read_unsubscribe_token(settings: Settings, token: str) -> tuple[int, str]:
    """Return the user and kind a token names, or refuse a forged or garbled one."""
    try:
        data = URLSafeSerializer(settings.resolved_secret_key(), salt="unsubscribe").loads(token)
    except BadSignature:
        raise Invalid({"token": "This unsubscribe link is not valid."}) from None
    if not isinstance(data, dict) or data.get("k") not in {*KINDS, DIGEST} or not isinstance(
            data.get("u"), int):
        raise Invalid({"token": "This unsubscribe link is not valid."})
    return data["u"], data["k"]


def email_subject(text: str) -> str:
    """Return an email's subject line for a notice's words: at most 120 characters."""
    return text if len(text) <= 120 else text[:119] + "…"


def compose(settings: Settings, user: User, kind: str, *, subject: str,
            items: list[dict[str, str]]) -> dict[str, Any]:
    """Return an outbox row: plain-text and HTML bodies from templates, an unsubscribe link."""
    base = settings.public_url.rstrip("/")
    unsubscribe = (f"{base}/notifications/unsubscribe?token="
                   f"{unsubscribe_token(settings, user.id, kind)}")  # type: ignore[arg-type]
    context = {"name": user.name, "items": [i | {"url": base + i["link"]} for i in items],
               "kind": KINDS[kind][0] if kind in KINDS else "Your daily digest",
               "unsubscribe": unsubscribe, "digest": kind == DIGEST,
               "notifications_url": f"{base}/notifications", "account_url": f"{base}/account"}
    return {
        "user_id": user.id, "to_address": user.email, "kind": kind,
        "subject": email_subject(subject),
        "text_body": _TEMPLATES.get_template("notification.txt").render(context),
        "html_body": _TEMPLATES.get_template("notification.html").render(context),
        "headers": {"List-Unsubscribe": f"<{unsubscribe}>"},
        "status": "pending", "attempts": 0, "next_attempt_at": utcnow(), "last_error": "",
        "created_at": utcnow(), "sent_at": None,
    }


def digest_subject(count: int) -> str:
    """Return a digest email's subject line for how many notices it lists."""
    return f"Your daily digest: {count} notification" + ("s" if count != 1 else "")


def queue_digests(session: Session, settings: Settings, *, now: datetime) -> int:
    """Queue one digest email for each user with digest notifications and none sent today."""
    user_ids: list[int] = sorted(set(session.execute(select(col(Notification.user_id)).where(
        col(Notification.digest_pending).is_(True))).scalars()))
    queued = 0
    for user_id in user_ids:
        last = session.execute(select(col(EmailOutbox.created_at)).where(
            col(EmailOutbox.user_id) == user_id, col(EmailOutbox.kind) == DIGEST)
            .order_by(col(EmailOutbox.created_at).desc()).limit(1)).scalar()
        if last is not None and now - _aware(last) < DIGEST_EVERY:
            continue
        user = session.get(User, user_id)
        # The user's choice now, not when the notice was written: a kind taken off email
        # since (the account page, an email's unsubscribe link) is not sent in one; a kind
        # moved from the digest to single emails still goes, in this digest.
        kinds = [k for k, channel in preferences(session, user_id).items() if channel in EMAILED]
        pending: list[Notification] = list(session.execute(select(Notification).where(
            col(Notification.user_id) == user_id, col(Notification.digest_pending).is_(True),
            col(Notification.kind).in_(kinds)).order_by(col(Notification.id))).scalars())
        if user is None or not user.is_active or not pending:
            continue
        items = [{"message": n.message, "link": n.link} for n in pending]
        row = compose(settings, user, DIGEST, subject=digest_subject(len(items)), items=items)
        # One link turns digests off for every kind that uses them.
        session.execute(insert(EmailOutbox), [row])
        session.execute(update(Notification)
                        .where(col(Notification.id).in_([n.id for n in pending]))
                        .values(digest_pending=False))
        queued += 1
    return queued


def send_due(db: Database, *, now: datetime | None = None) -> tuple[int, int]:
    """Send the outbox's due emails through SMTP; a failure is retried later, then logged."""
    now = now or utcnow()
    settings = db.settings
    with db.read() as session:
        due: list[EmailOutbox] = list(session.execute(select(EmailOutbox).where(
            col(EmailOutbox.status) == "pending", col(EmailOutbox.next_attempt_at) <= now)
            .order_by(col(EmailOutbox.id)).limit(EMAILS_PER_ROUND)).scalars())
    if not due:
        return 0, 0
    outcomes: dict[int, str | None] = {}
    try:
        with _connect(settings) as smtp:
            for row in due:
                try:
                    smtp.send_message(as_message(settings, row))
                    outcomes[int(row.id or 0)] = None
                except (smtplib.SMTPException, OSError) as exc:
                    outcomes[int(row.id or 0)] = _reason(exc)
    except (smtplib.SMTPException, OSError) as exc:
        reason = _reason(exc)
        for row in due:
            outcomes.setdefault(int(row.id or 0), reason)
    return _settle(db, due, outcomes, now)


def _settle(db: Database, due: list[EmailOutbox], outcomes: dict[int, str | None],
            now: datetime) -> tuple[int, int]:
    """Record each email's attempt: sent, to retry with back-off, or given up (and logged)."""
    settings = db.settings
    sent = failed = 0
    with db.write() as session:
        for row in due:
            reason = outcomes.get(row.id)  # type: ignore[arg-type]
            attempts = row.attempts + 1
            values: dict[str, Any] = {"attempts": attempts}
            if reason is None:
                values |= {"status": "sent", "sent_at": now, "last_error": ""}
                sent += 1
            else:
                failed += 1
                values["last_error"] = reason[:1000]
                if attempts >= settings.email_max_attempts:
                    values["status"] = "failed"
                    LOG.error("email %s to %s given up after %d attempts: %s", row.id,
                              row.to_address, attempts, reason)
                else:
                    wait = settings.email_retry_seconds * 2 ** (attempts - 1)
                    values["next_attempt_at"] = now + timedelta(seconds=wait)
                    LOG.warning("email %s to %s not sent (attempt %d, retried in %.0f s): %s",
                                row.id, row.to_address, attempts, wait, reason)
            session.execute(update(EmailOutbox).where(col(EmailOutbox.id) == row.id)
                            .values(**values))
    return sent, failed


def _connect(settings: Settings) -> smtplib.SMTP:
    """Open an SMTP connection as the settings say (TLS, credentials, time-out)."""
    host, port = settings.smtp_host or "", settings.smtp_port
    timeout = settings.smtp_timeout_seconds
    smtp: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_username:
        smtp.login(settings.smtp_username, settings.smtp_password or "")
    return smtp


def as_message(settings: Settings, row: EmailOutbox) -> EmailMessage:
    """Return an outbox row as an email with plain-text and HTML parts."""
    message = EmailMessage(policy=HEADERS_UNFOLDED)
    message["From"] = settings.smtp_sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=f"portfolio-{row.id}")
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


def _reason(exc: BaseException) -> str:
    """Say in one line why an email was not sent."""
    return f"{type(exc).__name__}: {exc}".strip()


def _aware(moment: datetime) -> datetime:
    """Read a stored time as UTC (SQLite gives it back without a zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Reading and choosing: the bell, the notifications page and the account page.

# Built once: every page's bell asks, and building the query each time cost more than running it.
UNREAD = select(func.count()).select_from(Notification).where(
    col(Notification.user_id) == bindparam("user_id"), col(Notification.read_at).is_(None))


def unread_count(connection: Connection, user_id: int | None) -> int:
    """Return how many of a user's notifications are unread."""
    if user_id is None:
        return 0
    return int(connection.execute(UNREAD, {"user_id": user_id}).scalar() or 0)


def notifications_of(session: Session, user_id: int, *, limit: int = PAGE_LIMIT,
                     unread_only: bool = False) -> list[dict[str, Any]]:
    """Return a user's notifications, newest first."""
    query = select(Notification).where(col(Notification.user_id) == user_id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    rows: list[Notification] = list(
        session.execute(query.order_by(col(Notification.id).desc()).limit(limit)).scalars())
    return [{"id": n.id, "kind": n.kind, "message": n.message, "link": n.link,
             "created_at": n.created_at, "read": n.read_at is not None} for n in rows]


def mark_read(*, session: Session, actor: Actor, ids: Iterable[int] | None = None) -> int:
    """Mark some (or, with none named, all) of the user's notifications read."""
    query = update(Notification).where(col(Notification.user_id) == actor.id,
                                       col(Notification.read_at).is_(None))
    if ids is not None:
        # An id no row can have names none (past the bigint range it was the driver's 500).
        wanted = [int(i) for i in ids if 1 <= int(i) <= ROW_ID_MAX]
        if not wanted:
            return 0
        query = query.where(col(Notification.id).in_(wanted))
    return int(session.execute(query.values(read_at=utcnow())).rowcount or 0)  # type: ignore[attr-defined]


def preferences(session: Session, user_id: int | None) -> dict[str, str]:
    """Return a user's channel for every kind (defaults where not chosen)."""
    chosen = dict(session.execute(
        select(col(NotificationPreference.kind), col(NotificationPreference.channel))
        .where(col(NotificationPreference.user_id) == user_id)).all()) if user_id else {}
    return {kind: chosen.get(kind, default) for kind, (_words, default) in KINDS.items()}


def set_preferences(*, session: Session, user_id: int, choices: dict[str, str]) -> dict[str, str]:
    """Choose how a user hears of each kind; refuse an unknown kind or channel."""
    errors = {f"pref_{kind}": "Choose in-app, email, daily digest or off."
              for kind, channel in choices.items() if kind in KINDS and channel not in CHANNELS}
    if errors:
        raise Invalid(errors)
    # Another tab's save of these choices may be on its way: the one made last is kept.
    save_rows(session, NotificationPreference, [
        {"user_id": user_id, "kind": kind, "channel": channel}
        for kind, channel in choices.items() if kind in KINDS], key=("user_id", "kind"))
    chosen = preferences(session, user_id)
    withdraw_unsent(session, user_id=user_id, chosen=chosen)
    return chosen


# What an email withdrawn before it was sent says; the outbox keeps it, marked cancelled, so
# the outbox still shows every email written.
CANCELLED = "Cancelled before sending: the user stopped these emails."
# The channels that email: a kind moved between them still goes, as it was queued.
EMAILED = ("email", DIGEST)


def withdraw_unsent(session: Session, *, user_id: int, chosen: dict[str, str]) -> None:
    """Cancel a user's waiting emails of kinds taken off email, and take them out of digests.

    A kind moved between single emails and the digest still goes as it was queued; one now
    only in the app, or off, goes in no email: its single emails are cancelled, its digest
    items dropped (the rest stay), and a digest left with none is cancelled.
    """
    not_emailed = [k for k, channel in chosen.items() if channel not in EMAILED]
    undigested = not_emailed
    session.execute(update(EmailOutbox).where(
        col(EmailOutbox.user_id) == user_id, col(EmailOutbox.status) == "pending",
        col(EmailOutbox.kind).in_(not_emailed)).values(status="cancelled", last_error=CANCELLED))
    # Notices waiting for a digest stay in the app; chosen again later, they stay out of it.
    session.execute(update(Notification).where(
        col(Notification.user_id) == user_id, col(Notification.digest_pending).is_(True),
        col(Notification.kind).in_(undigested)).values(digest_pending=False))
    # Locked: the sender may be settling one as sent meanwhile, never then marked cancelled.
    digests: list[EmailOutbox] = list(session.execute(select(EmailOutbox).where(
        col(EmailOutbox.user_id) == user_id, col(EmailOutbox.status) == "pending",
        col(EmailOutbox.kind) == DIGEST).with_for_update()).scalars())
    if not digests or not undigested:
        return
    # A waiting digest lists notices written since the last digest that left the outbox.
    since = session.execute(select(func.max(col(EmailOutbox.created_at))).where(
        col(EmailOutbox.user_id) == user_id, col(EmailOutbox.kind) == DIGEST,
        col(EmailOutbox.status) != "pending")).scalar()
    query = select(col(Notification.message)).where(
        col(Notification.user_id) == user_id, col(Notification.kind).in_(undigested))
    if since is not None:
        query = query.where(col(Notification.created_at) >= since)
    stopped: set[str] = set(session.execute(query).scalars())
    for email in digests:
        _drop_items(email, stopped)
        session.add(email)


def _drop_items(email: EmailOutbox, messages: set[str]) -> None:
    """Take items out of a waiting digest (as the templates write them); cancel it if empty."""
    for message in messages:
        email.text_body = re.sub(rf"\n- {re.escape(message)}\n  [^\n]*\n", "",
                                 email.text_body)
        email.html_body = re.sub(
            rf'<li>{re.escape(str(escape(message)))}<br><a href="[^"]*">[^<]*</a></li>\n', "",
            email.html_body)
    left = email.html_body.count("<li>")  # a notice's own words are escaped: items only
    if left:
        email.subject = digest_subject(left)
    else:
        email.status, email.last_error = "cancelled", CANCELLED


def unsubscribe(*, session: Session, settings: Settings, token: str) -> dict[str, Any]:
    """Stop the emails of the kind a link names (a digest link: every digest kind); in-app stays."""
    user_id, kind = read_unsubscribe_token(settings, token)
    current = preferences(session, user_id)
    emailed = ("digest",) if kind == DIGEST else ("email", "digest")
    # The link stops the emails, not the notices in the app; a kind already off, or in the app
    # only (an old email's link), stays as it is.
    kinds = [k for k, channel in current.items()
             if channel in emailed and (kind == DIGEST or k == kind)]
    set_preferences(session=session, user_id=user_id, choices=dict.fromkeys(kinds, "in_app"))
    return {"kinds": [KINDS[k][0] for k in kinds],
            "asked": KINDS[kind][0] if kind in KINDS else "Your daily digest"}
