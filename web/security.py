"""Who is asking, what each route allows, CSRF, security headers and body limits."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

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
    REGISTER = Capability.REGISTER_PROJECT
    DATASETS = Capability.EDIT_DATASET
    IMPORT = Capability.IMPORT_PROJECTS
    DECIDE = Capability.DECIDE
    OVERRIDE = Capability.OVERRIDE_PRIORITY
    PROFILES = Capability.MANAGE_PROFILES
    SCENARIOS = Capability.MANAGE_SCENARIOS
    SNAPSHOT = Capability.CREATE_SNAPSHOT
    CATALOGUE = Capability.HARVEST_CATALOGUE
    CAPACITY = Capability.SET_CAPACITY
    ADMIN = Capability.MANAGE_USERS
    BENEFITS = Capability.RECORD_BENEFITS
    DISMISS = Capability.DISMISS_SUGGESTION
    JOIN = Capability.JOIN_PROJECT
    ATTACH = Capability.ATTACH_DOCUMENT
    AGREEMENTS = Capability.MANAGE_AGREEMENTS
    IG = Capability.RECORD_IG
    GROUPS = Capability.MAP_GROUPS
    ASSESS = Capability.ASSESS_PROJECT
    JOBS = Capability.WATCH_JOBS
    PROGRESS = Capability.REPORT_PROGRESS
    COMMENT = Capability.COMMENT
    WATCH = Capability.WATCH


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


class PasswordChangeNeeded(DomainError):
    """A user signed in with a password an admin chose: they must choose their own first."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("choose your own password first: the one you signed in with was set "
                         "by an admin")


# Set at sign-in for a user who must choose their own password; the password page (which asks
# for Policy.PUBLIC with a signed-in user) and sign-out stay open meanwhile.
MUST_CHANGE_KEY = "must_change"


def open_while_changing(request: Request) -> tuple[str, ...]:
    """Return the paths a user who must choose their password may still use."""
    return (request.app.url_path_for("password_change"), request.app.url_path_for("logout"))


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


SESSION_KEY = "sid"
FALLBACK_KEY = "fallback"
SEEN_KEY = "seen"
TRIED_KEY = "tried"


def client_address(request: Request) -> str:
    """Return the caller's address (the proxy's X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else ""


def resolve_actor(request: Request) -> Actor | None:
    """Return the user behind a bearer token or the session cookie, or None."""
    if hasattr(request.state, "actor"):
        return request.state.actor
    database = request.app.state.database
    actor: Actor | None = None
    request.state.via_token = False
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        actor = accounts.actor_for_token(db=database, token=authorization[7:].strip())
        if actor is None:
            raise NotAuthenticated("the API token is unknown, revoked or expired")
        request.state.via_token = True
    elif SESSION_KEY in request.session or FALLBACK_KEY in request.session:
        actor = _session_actor(request)
        if actor is None:
            # Ended, timed out or its user deactivated: the browser is signed out.
            request.session.clear()
            request.state.signed_out = True
        else:
            note_seen(request)
    request.state.actor = actor
    return actor


def note_seen(request: Request) -> None:
    """Keep in the cookie when this browser was last served, to the minute."""
    # At most once a minute, as the stored last-seen time is: a cookie rewritten on every
    # answer cost each page a signature and a Set-Cookie header.
    now = int(time.time())
    seen = request.session.get(SEEN_KEY)
    if not isinstance(seen, int) or now - seen >= accounts.TOUCH_EVERY.total_seconds():
        request.session[SEEN_KEY] = now


def session_read(request: Request) -> accounts.SessionRead | None:
    """Return what was read with the session's user, for a page answering a GET or HEAD.

    A form's answer may have written since (marked notifications read, say): it reads again.
    """
    if request.method not in ("GET", "HEAD"):
        return None
    return getattr(request.state, "signed_in", None)


def _session_actor(request: Request) -> Actor | None:
    """Return the actor of the browser's session: stored, or kept in the cookie meanwhile."""
    database = request.app.state.database
    limits = accounts.SessionLimits.of(request.app.state.settings)
    seen = request.session.get(SEEN_KEY)
    seen = seen if isinstance(seen, int) else None
    secret = request.session.get(SESSION_KEY)
    if isinstance(secret, str):
        signed_in = accounts.actor_for_session(db=database, secret=secret, limits=limits,
                                               seen=seen)
        # Kept for the page: the revision and the bell's count, read in the same statement.
        request.state.signed_in = signed_in
        return signed_in.actor if signed_in is not None else None
    # Signed in while the database could not be written (see start_signed_in_session).
    fallback = request.session.get(FALLBACK_KEY)
    if not isinstance(fallback, dict) or not isinstance(fallback.get("user"), int):
        return None
    now = time.time()
    started: float = fallback["at"] if isinstance(fallback.get("at"), int) else 0
    if now - started >= limits.absolute_seconds or now - (seen or started) >= limits.idle_seconds:
        return None
    with database.connect() as connection:
        actor = accounts.actor_by_id(connection=connection, user_id=fallback["user"])
    # A password changed since the cookie was given (a reset, say) ends it, as it ends every
    # stored session.
    if fallback.get("pw") != _password_mark(request, fallback["user"]):
        return None
    tried = request.session.get(TRIED_KEY, 0)
    if actor is not None and isinstance(tried, int) and now - tried >= 60:
        # The database may be writable again: move to a stored session that can be ended.
        request.session[TRIED_KEY] = int(now)
        secret = accounts.start_session(db=database, actor=actor,
                                        client=client_address(request),
                                        user_agent=request.headers.get("user-agent", ""))
        if secret is not None:
            for key in (FALLBACK_KEY, TRIED_KEY):
                request.session.pop(key, None)
            request.session[SESSION_KEY] = secret
    return actor


def _password_mark(request: Request, user_id: int) -> str:
    """Return the keyed mark of a user's password that a cookie session carries."""
    with request.app.state.database.connect() as connection:
        return accounts.password_mark(connection=connection, user_id=user_id,
                                      key=request.app.state.settings.resolved_secret_key())


def start_signed_in_session(request: Request, actor: Actor) -> None:
    """Give the browser a fresh session for a user who just signed in.

    The session is stored server-side, so sign-out, "sign out everywhere", deactivation and
    the time-outs end it. When the database cannot be written (read-only, disk full) the user
    still signs in: the signed cookie then carries the user and the time, is honoured within
    the same idle and absolute time-outs, and becomes a stored session as soon as a write
    succeeds again. Such a cookie cannot be ended early from the server until then.
    """
    # A new session on sign-in: a session fixed before it cannot be reused after, and the one
    # it replaces (another user's, on a shared computer) is ended, not left to time out.
    end_signed_in_session(request)
    secret = accounts.start_session(db=request.app.state.database, actor=actor,
                                    client=client_address(request),
                                    user_agent=request.headers.get("user-agent", ""))
    now = int(time.time())
    if secret is not None:
        request.session[SESSION_KEY] = secret
    else:
        assert actor.id is not None  # a user signing in
        request.session[FALLBACK_KEY] = {"user": actor.id, "at": now,
                                         "pw": _password_mark(request, actor.id)}
    request.session[SEEN_KEY] = now


def end_signed_in_session(request: Request) -> None:
    """Sign the browser out: end its stored session (best effort) and forget the cookie."""
    secret = request.session.get(SESSION_KEY)
    if isinstance(secret, str):
        try:
            accounts.end_session(db=request.app.state.database, secret=secret)
        except accounts.UNWRITABLE:
            pass  # the cookie is cleared below; the stored row times out on its own
    request.session.clear()


def current_session_secret(request: Request) -> str | None:
    """Return the secret of the browser's stored session, if it has one."""
    secret = request.session.get(SESSION_KEY)
    return secret if isinstance(secret, str) else None


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
    # As bytes: compare_digest refuses text outside ASCII, which a forged form may send.
    if not expected or not given or not hmac.compare_digest(
            str(expected).encode(), given.encode("utf-8", "surrogateescape")):
        raise CsrfRefused()


def admits_anonymous(capability: Capability, *, public_read: bool) -> bool:
    """Tell whether a reader without an account may use what needs a capability."""
    return public_read and capability == Capability.READ


def policy(kind: Policy) -> Callable[[Request], Awaitable[Actor | None]]:
    """Return a route dependency that enforces a policy and the CSRF check."""

    async def enforce(request: Request) -> Actor | None:
        actor = resolve_actor(request)
        if kind == Policy.PUBLIC:
            await check_csrf(request)
            return actor
        if actor is None:
            settings = request.app.state.settings
            if not admits_anonymous(Capability(kind.value), public_read=settings.public_read):
                raise NotAuthenticated("sign in to use this")
        # Who may comes first: an upload refused unread (UploadGate) has no form, so no token,
        # and its refusal should say who may rather than that the form expired.
        if actor is not None and not can(actor, Capability(kind.value)):
            raise NotAllowed(refusal(actor, Capability(kind.value)))
        await check_csrf(request)
        if (actor is not None and request.session.get(MUST_CHANGE_KEY)
                and request.url.path not in open_while_changing(request)):
            raise PasswordChangeNeeded()
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


def relative_location(location: bytes, host: bytes) -> bytes:
    """Return a redirect to the app's own host as a path: the client's Host never names it."""
    for scheme in (b"http://", b"https://"):
        own = scheme + host
        if host and location.startswith(own) and location[len(own):len(own) + 1] in (
                b"", b"/", b"?", b"#"):
            path = location[len(own):] or b"/"
            # "//elsewhere" or "/\elsewhere" alone would name another site: keep it whole.
            return location if path[:2] in (b"//", b"/\\") else path
    return location


class SecurityHeaders:
    """Add the security headers to every response, refusals by outer middleware included.

    A redirect to the app's own host (`url_for` builds it from the Host header) is made
    relative, so no client's Host header names where a browser goes next.

    Everything but static files is `Cache-Control: no-store`: signed-in pages, API answers and
    exports must not stay in a shared or back-button cache. Outside development the browser is
    told to use HTTPS only (HSTS).
    """

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if hsts_seconds > 0:
            self.headers.append((b"strict-transport-security",
                                 b"max-age=%d; includeSubDomains" % hsts_seconds))
        self.names = {name for name, _ in self.headers} | {b"cache-control"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")
        started = False
        own = dict(scope.get("headers", [])).get(b"host", b"")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                given = [(name, relative_location(value, own) if name.lower() == b"location"
                          else value) for name, value in message.get("headers", [])]
                keep = [h for h in given if h[0].lower() not in self.names]
                cache = [h for h in given if h[0].lower() == b"cache-control"]
                message["headers"] = keep + self.headers + (
                    cache if static else [(b"cache-control", b"no-store")])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # A bug: Starlette's error handler, outside this middleware, would answer without
            # the headers. Answer here as it would, then let it log the error.
            if not started:
                await send_with_headers({"type": "http.response.start", "status": 500,
                                         "headers": [SERVER_ERROR_TYPE, SERVER_ERROR_LENGTH]})
                await send({"type": "http.response.body", "body": SERVER_ERROR})
            raise


SERVER_ERROR = b"Internal Server Error"
SERVER_ERROR_TYPE = (b"content-type", b"text/plain; charset=utf-8")
SERVER_ERROR_LENGTH = (b"content-length", str(len(SERVER_ERROR)).encode())


class BodyLimit:
    """Refuse request bodies over a limit with 413, before reading them when their size is said.

    A chunked body (no Content-Length) is counted as it arrives: past the limit the app is told
    the client went away, and the client gets 413 whatever the app tries to answer.
    """

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
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise


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
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class UploadGate:
    """Refuse an upload from someone who may not import before its body is read or parsed.

    FastAPI parses a multipart body before it runs the route's policy, so a researcher's 50 MB
    upload was read in full to be refused. Here a caller the policy will refuse gets an empty
    body instead, and the route's own policy answers (401, 403 or the sign-in page).
    """

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...], policy: Policy) -> None:
        self.app = app
        self.prefixes = prefixes
        self.allowed = ALLOWED[policy]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") not in UNSAFE_METHODS
                or not scope.get("path", "").startswith(self.prefixes)):
            await self.app(scope, receive, send)
            return
        try:
            actor = resolve_actor(Request(scope))
        except NotAuthenticated:
            actor = None
        if actor is not None and actor.role in self.allowed:
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", [])
                   if k not in (b"content-type", b"transfer-encoding")]
        await self.app(*with_body({**scope, "headers": headers}, b""), send)


def with_body(scope: Scope, body: bytes) -> tuple[Scope, Receive]:
    """Return a request's scope and receive as if its whole body were `body` (read once)."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}, receive


def relative(url: Any) -> str:
    """Return a URL's path, query and fragment: the local part of where to redirect."""
    parts = urlsplit(str(url))
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in; anything else goes home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# Route dependencies, one per policy, for `dependencies=[...]` in route decorators.
PUBLIC = Depends(policy(Policy.PUBLIC))
READ = Depends(policy(Policy.READ))
EDIT = Depends(policy(Policy.EDIT))
REGISTER = Depends(policy(Policy.REGISTER))
DATASETS = Depends(policy(Policy.DATASETS))
IMPORT = Depends(policy(Policy.IMPORT))
DECIDE = Depends(policy(Policy.DECIDE))
OVERRIDE = Depends(policy(Policy.OVERRIDE))
ADMIN = Depends(policy(Policy.ADMIN))
BENEFITS = Depends(policy(Policy.BENEFITS))
DISMISS = Depends(policy(Policy.DISMISS))
JOIN = Depends(policy(Policy.JOIN))
PROGRESS = Depends(policy(Policy.PROGRESS))
COMMENT = Depends(policy(Policy.COMMENT))
WATCH = Depends(policy(Policy.WATCH))
ASSESS = Depends(policy(Policy.ASSESS))

# Database ids in paths: bounded so a huge number is a 422, not an overflow in the driver.
RowId = Annotated[int, Path(ge=1, le=2**62)]
