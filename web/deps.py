"""Request-scoped dependencies: the database sessions and the acting user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.db import Database
from web.security import NotAuthenticated, resolve_actor


def get_database(request: Request) -> Database:
    """Return the app's database."""
    return request.app.state.database


def read_session(request: Request) -> Iterator[Session]:
    """Yield a session for reading."""
    with get_database(request).read() as session:
        yield session


def write_session(request: Request) -> Iterator[Session]:
    """Yield a session that commits when the route returns."""
    with get_database(request).write() as session:
        yield session


def current_actor(request: Request) -> Actor:
    """Return the signed-in user (by session cookie or API token); refuse anonymous callers."""
    actor = resolve_actor(request)
    if actor is None:
        raise NotAuthenticated("sign in to use this")
    return actor
