"""Serve the app on a free local port over a seeded SQLite database, and drive Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import accounts
from portfolio.settings import Settings
from tests.conftest import unavailable
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEP_TIMEOUT_MS = 10_000
PASSWORD = "correct horse battery staple"
BROWSER_USERS = {"lead": "E09000002", "cdo": None, "admin": None, "researcher": None}


PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>"><svg onload=alert(2)>'
PAYLOAD_SLUG = "xss-probe"


def plant_script_payloads(session) -> None:  # type: ignore[no-untyped-def]
    """Put script payloads in every kind of free text a page shows."""
    from portfolio.services import datasets, projects, reviews

    datasets.create_dataset(session=session, actor=SYSTEM, data={
        "code": "xss-dataset", "title": PAYLOAD, "description": PAYLOAD, "publisher": "GLA",
        "access": "open", "licence": PAYLOAD[:100]})
    projects.create_project(session=session, actor=SYSTEM, data={
        "slug": PAYLOAD_SLUG, "title": PAYLOAD, "description": PAYLOAD, "owner": "GLA",
        "theme": "housing", "status": "proposed", "mandatory": True,
        "mandatory_justification": PAYLOAD})
    projects.link_dataset(session=session, actor=SYSTEM, slug=PAYLOAD_SLUG,
                          data={"dataset": "xss-dataset", "fit_for_task": "partial"})
    projects.assess(session=session, actor=SYSTEM, slug=PAYLOAD_SLUG,
                    data={"criterion": "reach", "level": 3, "rationale": PAYLOAD})
    reviews.decide(session=session, actor=SYSTEM, slug=PAYLOAD_SLUG,
                   decision="needs_information", rationale=PAYLOAD)


@pytest.fixture(scope="session")
def live_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the London demo portfolio from a background thread; yield the base URL."""
    from seeds.loader import WRITTEN_FOR, load_london

    target = tmp_path_factory.mktemp("browser") / "portfolio.db"
    shutil.copyfile(sqlite_template, target)
    settings = Settings(database_url=f"sqlite:///{target}", environment="test",
                        secret_key="browser-tests", attachments_dir=target.parent / "documents")
    database = Database(settings)
    with database.write() as session:
        load_london(session, today=WRITTEN_FOR)  # dated as the tests name its days
        plant_script_payloads(session)
        for role, organisation in BROWSER_USERS.items():
            accounts.add_user(session=session, actor=SYSTEM, password=PASSWORD, data={
                "email": f"{role}.browser@example.london", "name": f"Browser {role}",
                "role": role, "organisation": organisation})
    database.dispose()
    with serving(settings, "the browser tests") as url:
        yield url


@contextmanager
def serving(settings: Settings, for_whom: str) -> Iterator[str]:
    """Serve the app with these settings from a background thread; yield its base URL."""
    # Bound before starting, so the port cannot be taken between choosing and listening.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:  # a readiness flag, not a timer: the server says when it listens
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the app did not start for {for_whom}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Launch Debian's headless Chromium once for the session."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium for the browser tests")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as exc:
            unavailable(f"{CHROMIUM} cannot launch: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Open a fresh browser page whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def sign_in(page, role: str) -> None:  # type: ignore[no-untyped-def]
    """Sign the browser page in as the seeded test user of a role."""
    page.goto("/login")
    page.get_by_label("Email").fill(f"{role}.browser@example.london")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture(scope="module")
def opened(browser, live_server: str) -> Iterator[Callable[[str, dict], object]]:  # type: ignore[no-untyped-def]
    """Open a page signed in as a role at a width, signing each role in once per module."""
    states: dict[str, dict] = {}
    contexts = []

    def open_page(role: str, viewport: dict):  # type: ignore[no-untyped-def]
        if role not in states:
            context = browser.new_context(base_url=live_server)
            context.set_default_timeout(STEP_TIMEOUT_MS)
            sign_in(context.new_page(), role)
            states[role] = context.storage_state()
            context.close()
        context = browser.new_context(base_url=live_server, viewport=viewport,
                                      storage_state=states[role])
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
