"""Notification emails through a real SMTP server process (aiosmtpd) the tests start."""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import EmailOutbox, ReviewDecision
from portfolio.services import notifications
from portfolio.settings import Settings
from tests.conftest import unavailable
from tests.web.auth import Browser, sign_in
from web.app import create_app

PROJECT = "bd-propensity-to-pay"
BD = "E09000002"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend() -> str:
    """The outbox's SQL is plain; the SMTP conversation is what is under test."""
    return "sqlite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, server: subprocess.Popen, deadline: float = 30.0) -> None:
    """Wait for the server process to accept connections (or fail the test if it died)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail(f"the SMTP server exited: {server.stderr.read() if server.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("the SMTP server did not start listening")


def smtp_server(*handler: str) -> Iterator[int]:
    """Start aiosmtpd as its own process with a handler; yield its port; stop it."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        unavailable("aiosmtpd is not installed (pip install -e '.[dev]')")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", *handler],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_listening(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def receiving(maildir: Path) -> Iterator[int]:
    yield from smtp_server("aiosmtpd.handlers.Mailbox", str(maildir))


@pytest.fixture
def refusing() -> Iterator[int]:
    yield from smtp_server("tests.smtp_handlers.Refusing")


@pytest.fixture
def silent() -> Iterator[int]:
    """A server that accepts connections and never says a word: the client times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def app_with_smtp(settings: Settings, port: int) -> FastAPI:
    return create_app(settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_timeout_seconds": 1.0,
        "smtp_sender": "Portfolio <portfolio@example.london>", "email_retry_seconds": 0.0,
        "email_max_attempts": 2, "public_url": "https://portfolio.example.london"}))


def decide_with_a_question(app: FastAPI, db: Database) -> tuple[str, Database]:
    """Sign in a lead of the owning borough and a CDO; the CDO asks a question."""
    with Browser(app) as lead, Browser(app) as cdo:
        lead_email = sign_in(lead, db, "lead", BD)
        sign_in(cdo, db, "cdo")
        response = cdo.post(f"/projects/{PROJECT}/decision", follow_redirects=False,
                            data={"decision": "needs_information",
                                  "rationale": "Which wards does it cover?"})
        assert response.status_code == 303  # the action succeeds whatever SMTP does
        app_db: Database = app.state.database
        app_db.background.wait()
    return lead_email, app_db


def test_a_question_is_emailed_with_text_html_and_an_unsubscribe_link(
        settings: Settings, london: Database, receiving: int, maildir: Path) -> None:
    app = app_with_smtp(settings, receiving)
    lead_email, app_db = decide_with_a_question(app, london)
    messages: list[Message] = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
                               for m in mailbox.Maildir(maildir, create=False)]
    # The borough's leads watch its projects: the seeded one and the one signed in here.
    assert len(messages) == 2
    sent = next(m for m in messages if m["To"] == lead_email)
    assert sent["To"] == lead_email
    assert sent["From"] == "Portfolio <portfolio@example.london>"
    assert "asked a question about" in sent["Subject"]
    unsubscribe = str(sent["List-Unsubscribe"]).strip().strip("<>")
    assert unsubscribe.startswith("https://portfolio.example.london/notifications/unsubscribe?")
    parts = {part.get_content_type(): part.get_payload(decode=True).decode()
             for part in sent.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert f"https://portfolio.example.london/projects/{PROJECT}" in parts["text/plain"]
    assert "Which wards does it cover?" in parts["text/plain"]
    assert f'href="https://portfolio.example.london/projects/{PROJECT}"' in parts["text/html"]
    assert f'href="{unsubscribe}"' in parts["text/html"]
    with app_db.read() as session:
        rows = session.execute(select(EmailOutbox)).scalars().all()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
    # The link works without signing in and stops that kind only.
    token = unsubscribe.split("token=", 1)[1]
    with Browser(app) as anyone:
        page = anyone.get(f"/notifications/unsubscribe?token={token}")
        assert "question on my project" in page.text


@pytest.mark.parametrize("server", ["refusing", "silent"])
def test_a_refusing_or_silent_server_is_retried_then_logged_and_the_decision_stands(
        settings: Settings, london: Database, server: str, request: pytest.FixtureRequest,
        caplog: pytest.LogCaptureFixture) -> None:
    port = request.getfixturevalue(server)
    app = app_with_smtp(settings, port)
    caplog.set_level(logging.WARNING, logger="portfolio.services.notifications")
    _lead, app_db = decide_with_a_question(app, london)
    with app_db.read() as session:
        first = session.execute(select(EmailOutbox)).scalars().all()
        assert session.execute(select(ReviewDecision)).scalars().first() is not None
    assert {(row.status, row.attempts) for row in first} == {("pending", 1)}
    assert "retried" in caplog.text
    notifications.deliver_pending(app_db)  # the retry (no wait between attempts here)
    with app_db.read() as session:
        last = session.execute(select(EmailOutbox)).scalars().all()
    assert {(row.status, row.attempts) for row in last} == {("failed", 2)}
    assert all(row.last_error for row in last)
    assert "given up after 2 attempts" in caplog.text
