"""Who is asking, what each route allows, CSRF, security headers and body limits."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, refusal, roles_with
from portfolio.enums import Role
from portfolio.errors import DomainError, NotAllowed
from portfolio.services import accounts

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class Policy(StrEnum):
    """Who may call a route, named by the capability it needs (portfolio/capabilities.py).

    Every route declares one (the permission matrix test checks); a role may call the route when
    it holds the capability anywhere or for its own organisation, and the service then checks
    the thing itself.
    """

    PUBLIC = "public"
    READ = Capability.READ
    EDIT = Capability.EDIT_PROJECT
    IMPORT = Capability.IMPORT_PROJECTS
    DECIDE = Capability.DECIDE
    PROFILES = Capability.MANAGE_PROFILES
    SNAPSHOT = Capability.CREATE_SNAPSHOT
    CAPACITY = Capability.SET_CAPACITY
    ADMIN = Capability.MANAGE_USERS


ALLOWED: dict[Policy, frozenset[Role]] = {
    kind: roles_with(Capability(kind.value)) for kind in Policy if kind != Policy.PUBLIC
}


class NotAuthenticated(DomainError):
    """No signed-in user (or a bad token) where one is needed."""

    status_code = 401


class CsrfRefused(DomainError):
    """A state-changing request without the session's CSRF token."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("the form has expired or did not come from this site; reload the page "
                         "and try again")


def csrf_token(request: Request) -> str:
    """Return the session's CSRF token, creating it on first use (none for an API token)."""
    if getattr(request.state, "via_token", False):
        # A token caller sends no cookies and needs no CSRF token: no session is minted for it.
        return ""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def resolve_actor(request: Request) -> Actor | None:
    """Return the user behind a bearer token or the session cookie, or None."""
    if hasattr(request.state, "actor"):
        return request.state.actor
    database = request.app.state.database
    actor: Actor | None = None
    request.state.via_token = False
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        with database.connect() as connection:
            actor = accounts.actor_for_token(connection=connection,
                                             token=authorization[7:].strip())
        if actor is None:
            raise NotAuthenticated("the API token is unknown or revoked")
        request.state.via_token = True
    else:
        user_id = request.session.get("user_id")
        if isinstance(user_id, int):
            with database.connect() as connection:
                actor = accounts.actor_by_id(connection=connection, user_id=user_id)
            if actor is None:
                request.session.pop("user_id", None)
    request.state.actor = actor
    return actor


async def check_csrf(request: Request) -> None:
    """Refuse a cookie-authenticated state change without the session's CSRF token."""
    if request.method not in UNSAFE_METHODS or getattr(request.state, "via_token", False):
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        raise CsrfRefused()


def policy(kind: Policy) -> Callable[[Request], Awaitable[Actor | None]]:
    """Return a route dependency that enforces a policy and the CSRF check."""

    async def enforce(request: Request) -> Actor | None:
        actor = resolve_actor(request)
        if kind == Policy.PUBLIC:
            await check_csrf(request)
            return actor
        if actor is None:
            settings = request.app.state.settings
            if not (kind == Policy.READ and settings.public_read):
                raise NotAuthenticated("sign in to use this")
        await check_csrf(request)
        if actor is not None and not can(actor, Capability(kind.value)):
            raise NotAllowed(refusal(actor, Capability(kind.value)))
        return actor

    enforce.__policy__ = kind  # type: ignore[attr-defined]
    enforce.__name__ = f"policy_{kind.value}"
    return enforce


def route_policy(route: Any) -> Policy | None:
    """Return the policy a route declares, if any."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant else []
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, "__policy__", None)
        if found is not None:
            return found
        stack.extend(dep.dependencies)
    return None


SECURITY_HEADERS = [
    # Scripts only from this origin: no inline script, no eval, no CDN.
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; "
     b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
     b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Add the security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() not in {name for name, _ in SECURITY_HEADERS}]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over a limit with 413 before reading them."""

    def __init__(self, app: ASGIApp, *, default: int, uploads: int,
                 upload_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.uploads if path.startswith(self.upload_prefixes) else self.default
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await _too_large(send, limit)


class BodyTooLarge(Exception):
    """A streamed body went over the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


async def _too_large(send: Send, limit: int) -> None:
    """Answer 413 with a JSON message."""
    body = (b'{"detail": "the request body is larger than %d bytes"}' % limit)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in; anything else goes home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# Route dependencies, one per policy, for `dependencies=[...]` in route decorators.
PUBLIC = Depends(policy(Policy.PUBLIC))
READ = Depends(policy(Policy.READ))
EDIT = Depends(policy(Policy.EDIT))
IMPORT = Depends(policy(Policy.IMPORT))
DECIDE = Depends(policy(Policy.DECIDE))
ADMIN = Depends(policy(Policy.ADMIN))

# Database ids in paths: bounded so a huge number is a 422, not an overflow in the driver.
RowId = Annotated[int, Path(ge=1, le=2**62)]
