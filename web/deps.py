"""Request-scoped dependencies: the database sessions and the acting user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.revision import WROTE_REVISION
from portfolio.services.common import portfolio_revision
from web.security import NotAuthenticated, resolve_actor, session_read


def get_database(request: Request) -> Database:
    """Return the app's database."""
    return request.app.state.database


async def app_database(request: Request) -> Database:
    """Return the app's database as a route dependency."""
    # Async, so FastAPI calls it on the event loop: a plain `def` dependency is run in the
    # thread pool, and that hop cost a backlog page more than the lookup (measured).
    return request.app.state.database


def read_session(request: Request) -> Iterator[Session]:
    """Yield a session for reading."""
    with get_database(request).read() as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """Yield a session that commits when the route returns."""
    with get_database(request).write() as session:
        yield session
    # Set by the write, forgotten if a refused form rolled it back.
    made = session.info.get(WROTE_REVISION)
    if made is not None:
        remember_write(request, made)


def remember_write(request: Request, revision: int) -> None:
    """Note the revision this browser's write made: its pages wait for that ranking."""
    if not getattr(request.state, "via_token", False):
        request.session[WROTE_REVISION] = revision


def seen_revision(request: Request) -> int:
    """Return the revision of this browser's last write through the pages (0: none).

    Pages wait for a re-ranking only when it holds the reader's own write. A caller with an
    API token has no such memory here: the API's ?fresh=true is how a script waits.
    """
    if getattr(request.state, "via_token", False):
        return 0
    value = request.session.get(WROTE_REVISION, 0)
    return value if isinstance(value, int) else 0


def page_revision(request: Request, db: Database) -> int:
    """Return the portfolio revision as a page sees it (`session_read`'s, or read now)."""
    # A browser's session read it with its user a moment before, sparing a round trip; an API
    # token or a signed cookie alone reads it now.
    read = session_read(request)
    return read.revision if read is not None else portfolio_revision(db)


def current_actor(request: Request) -> Actor:
    """Return the signed-in user (by session cookie or API token); refuse anonymous callers."""
    actor = resolve_actor(request)
    if actor is None:
        raise NotAuthenticated("sign in to use this")
    return actor
