"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic_core import to_jsonable_python
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from portfolio import migrate
from portfolio.db import Database
from portfolio.errors import Conflict, DomainError, Invalid
from portfolio.faults import DatabaseFault, Fault, FaultKind, classify
from portfolio.jobs import JobQueue
from portfolio.schemas import messages_for
from portfolio.settings import Settings
from web import (  # agreements, IG and the editable catalogue (issue 16)
    api,
    api_agreements,
    api_attachments,
    api_catalogue,
    api_collaboration,
    api_roadmap,
    api_scenarios,
    api_snapshots,
    api_together,
    docs,
    pages,
    pages_accounts,
    pages_agreements,
    pages_archive,
    pages_attachments,
    pages_catalogue,
    pages_collaboration,
    pages_dataset_catalogue,
    pages_engine,
    pages_history,
    pages_ig,
    pages_jobs,
    pages_profiles,
    pages_roadmap,
    pages_scenarios,
    pages_sign_in,
    pages_snapshots,
    pages_together,
)
from web.assets import STATIC_DIR, VENDOR_FILES
from web.pages_accounts import login_context
from web.routing import unprefixed
from web.security import (
    BodyLimit,
    NotAuthenticated,
    PasswordChangeNeeded,
    Policy,
    SecurityHeaders,
    UploadGate,
    policy,
    resolve_actor,
    safe_next,
)
from web.server import BodyReadTimeout, ReleaseFreedMemory
from web.templating import render

# Spreadsheet imports may be up to 50 MB; every other body is small.
UPLOAD_PREFIXES = ("/import", "/api/v1/import")


WHOLE_BODY_ERRORS = {"missing", "model_attributes_type", "model_type", "dict_type"}


def body_refused(found: Any) -> dict[str, str] | None:
    """Say why a body that is not a JSON object was refused, under `body`, else None."""
    # Broken JSON was refused under its character position ("17"), and a missing or non-object
    # body under "input" in pydantic's words.
    for error in found:
        if error["type"] == "json_invalid":
            return {"body": f"The body is not valid JSON: {error.get('ctx', {}).get('error', '')} "
                            f"at character {error['loc'][-1]}."}
        # Only a body missing or of another type: a whole-model rule is answered at ("body",)
        # too, naming its fields in its message.
        if tuple(error["loc"]) == ("body",) and error["type"] in WHOLE_BODY_ERRORS:
            return {"body": "Send a JSON object as the body, with Content-Type: "
                            "application/json."}
    return None


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for a set of settings (tests pass their own)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up made (modules, routes, templates) lives as long as the process: left
        # out of the cyclic collector's passes, a full collection after a long request walks
        # only what requests made (0.12 s to 0.01-0.05 s at 100,000 projects, measured).
        gc.freeze()
        yield
        gc.unfreeze()
        # Waits for a ranking being computed in the background: off the event loop.
        await anyio.to_thread.run_sync(app.state.database.dispose)

    app = FastAPI(
        lifespan=lifespan,
        title="London data portfolio",
        description="Catalogue, score and prioritise the data projects of the GLA and the "
        "London boroughs.",
        version="0.1.0",
        # /docs is web/docs.py: Swagger UI from npm, which the CSP allows (FastAPI's uses a CDN).
        docs_url=None, redoc_url=None,
        # Operations are named as their functions are, so generated clients read naturally.
        generate_unique_id_function=operation_id,
    )
    secret_key = settings.resolved_secret_key()
    app.state.settings = settings
    app.state.database = Database(settings)
    if settings.uses_job_queue:
        app.state.database.queue = JobQueue(app.state.database)
    # Innermost first. From the outside: proxy headers (only from trusted proxies), security
    # headers on every answer (refusals below included), allowed hosts, body limits, the
    # session cookie (which names a stored session), refusing uploads before parsing them, and
    # handing back what a long request freed.
    app.add_middleware(ReleaseFreedMemory)
    app.add_middleware(UploadGate, prefixes=UPLOAD_PREFIXES, policy=Policy.IMPORT)
    app.add_middleware(UploadGate, prefixes=pages_attachments.UPLOAD_PREFIXES,
                       policy=Policy.ATTACH)
    app.add_middleware(
        SessionMiddleware, secret_key=secret_key, session_cookie=(
            "__Host-portfolio" if settings.secure_cookies else "portfolio_session"),
        max_age=settings.session_max_age_seconds, same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(BodyLimit, default=settings.max_body_bytes,
                       uploads=settings.max_upload_bytes,
                       upload_prefixes=UPLOAD_PREFIXES + pages_attachments.UPLOAD_PREFIXES)
    # Outside the limit: a browser's document over it gets its page, the message by the field.
    app.add_middleware(pages_attachments.OverLargeUpload, limit=settings.max_upload_bytes)
    app.add_middleware(BodyReadTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts,
                       www_redirect=False)
    app.add_middleware(SecurityHeaders,
                       hsts_seconds=0 if settings.is_development else settings.hsts_seconds)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    # Declared before the /static mount, which would otherwise swallow /static/vendor/...
    @app.get("/static/vendor/{name}", name="vendor", include_in_schema=False,
             dependencies=[Depends(policy(Policy.PUBLIC))])
    def vendor(name: str) -> Response:
        """Serve a browser library installed from the npm registry."""
        path = VENDOR_FILES.get(name)
        if path is None or not path.exists():
            return JSONResponse({"detail": f"no vendor file {name!r}; run npm ci"}, 404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(pages_engine.router)
    app.include_router(pages_accounts.router)
    app.include_router(api_snapshots.router)
    app.include_router(pages_snapshots.router)
    app.include_router(pages_catalogue.router)
    app.include_router(api_catalogue.router)
    app.include_router(docs.router)
    app.include_router(pages_profiles.router)
    app.include_router(api_scenarios.router)
    app.include_router(pages_scenarios.router)
    app.include_router(api_collaboration.router)
    app.include_router(pages_collaboration.router)
    app.include_router(api_roadmap.router)
    app.include_router(pages_roadmap.router)
    app.include_router(pages_history.router)
    app.include_router(pages_attachments.router)
    app.include_router(api_attachments.router)
    app.include_router(pages_agreements.router)
    app.include_router(api_agreements.router)
    app.include_router(pages_ig.router)
    app.include_router(pages_dataset_catalogue.router)
    app.include_router(pages_sign_in.router)
    app.include_router(pages_jobs.router)
    app.include_router(pages_together.router)
    app.include_router(api_together.router)
    app.include_router(pages_archive.router)
    unprefixed(app.router)
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"], dependencies=[Depends(anyone)])
    def healthz() -> JSONResponse:
        """Tell that the process is alive (it asks the database nothing: /readyz does)."""
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", tags=["health"], dependencies=[Depends(anyone)])
    def readyz(request: Request) -> JSONResponse:
        """Tell whether this worker can serve (database, schema, writes, background work)."""
        return readiness(request.app.state.database)

    return app


def operation_id(route: APIRoute) -> str:
    """Name an API operation after its route (list_projects, get_backlog, ...)."""
    return route.name


async def anyone() -> None:
    """Let anyone call a health check; no caller is looked up, since that needs the database."""


anyone.__policy__ = Policy.PUBLIC  # type: ignore[attr-defined]


def readiness(database: Database) -> JSONResponse:
    """Answer 200 when every readiness check passes, else 503 naming what failed."""
    checks: dict[str, object] = {}
    problems: list[str] = []
    retry = 5
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = migrate.current_revision_on(connection)
        checks["database"] = "ok"
        head = migrate.head_revision(database.engine)
        checks["schema"] = "ok" if current == head else f"at {current or 'base'}, head is {head}"
        if current != head:
            problems.append(f"the database's schema is at {current or 'base'}, not {head} "
                            "(run: portfolio db upgrade)")
        try:
            database.check_writable()
            checks["writable"] = "ok"
        except Exception as exc:
            fault = classify(exc)
            if fault is None:
                raise
            database.faults.note(fault)
            checks["writable"] = fault.kind.value
            # A writer holding the lock past the probe's second: writable, only busy.
            if fault.kind != FaultKind.BUSY:
                problems.append(fault.message)
                retry = fault.retry_after
    except Exception as exc:
        fault = classify(exc)
        if fault is None:
            raise
        database.faults.note(fault)
        checks["database"] = fault.kind.value
        problems.append(fault.message)
        retry = fault.retry_after
    alive, background = database.background.health()
    checks["background"] = background
    if database.queue is not None:
        # Reported, not a reason to stop serving: pages show the last stored ranking meanwhile.
        with suppress(Exception):
            checks["job_queue"] = database.queue.health()
    if not alive:
        problems.append("background work has stopped or is stuck")
    if problems:
        return JSONResponse({"status": "not ready", "detail": "; ".join(problems),
                             "checks": checks}, 503, headers={"Retry-After": str(retry)})
    return JSONResponse({"status": "ready", "checks": checks})


def wants_html(request: Request) -> bool:
    """Tell whether the client is a browser asking for a page rather than the API."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def fault_response(request: Request, fault: Fault,
                   kept: list[tuple[str, str]] | None = None) -> Response:
    """Answer a database fault: 503 JSON with Retry-After for the API, a page for a browser.

    A page's form sent meanwhile comes back with what was typed (`kept`) and the way back.
    """
    headers = {"Retry-After": str(fault.retry_after)}
    if wants_html(request):
        response = render(request, "error.html", {
            "status": 503, "message": fault.message, "fault": fault.kind.value,
            "kept": kept or [], "back": came_from(request) if kept else ""},
            status_code=503)
        response.headers.update(headers)
        return response
    return JSONResponse({"detail": fault.message, "fault": fault.kind.value}, status_code=503,
                        headers=headers)


def sign_in_first(request: Request) -> Response:
    """Send a browser to the sign-in page, coming back here after."""
    target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    login = f"{request.url_for('login').path}?next={quote(target)}"
    if request.headers.get("HX-Request"):
        # htmx would swap the login page into a fragment: ask it to navigate instead.
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, 303)


# What a browser signed out meanwhile (elsewhere, or away too long) is told of a form it sent.
# app.js puts "Not saved." before it and "What you typed is still here." after.
SIGNED_OUT = "you are signed out: sign in again in another tab, then send it again"
# What a reader let in by public read, who never signed in, is told of a form they sent.
NOT_SIGNED_IN = "you are not signed in: sign in in another tab, then send it again"
# Fields a form carries that are not what the user typed: hidden ones that say what the page
# read or which button was pressed (and every was_NAME, the value a field started from).
NOT_TYPED = frozenset({"csrf_token", "version", "next", "read", "was", "to", "stage", "queue",
                       "archived", "action", "group", "watching", "id", "scenario"})


async def typed_in(request: Request) -> list[tuple[str, str]]:
    """Return what was typed into a form sent from one of our pages (none from elsewhere)."""
    sender = request.headers.get("origin")
    ours = urlsplit(sender).netloc == request.url.netloc if sender else bool(came_from(request))
    if not ours:  # another site's form would put its words on our page
        return []
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - an unreadable body: the page says so without it
        return []
    return [(name, value) for name, value in form.multi_items()
            if isinstance(value, str) and value.strip() and name not in NOT_TYPED
            and not name.startswith("was_") and "password" not in name and "token" not in name]


def came_from(request: Request) -> str:
    """Return the page of ours a request was sent from (its Referer), or ""."""
    page = urlsplit(request.headers.get("referer", ""))
    if page.netloc != request.url.netloc:
        return ""
    return safe_next(page.path + (f"?{page.query}" if page.query else ""))


async def unsent_after_sign_out(request: Request) -> Response:
    """Answer a form sent by a browser signed out meanwhile, keeping what was typed.

    htmx shows the refusal beside the form, which still holds the input; a plain form's
    answer is the sign-in page with what was typed, to copy, and a way back to its page.
    """
    # A reader let in by public read never signed in: not "signed out meanwhile".
    signed_out = getattr(request.state, "signed_out", False)
    if request.headers.get("HX-Request"):
        return JSONResponse({"detail": SIGNED_OUT if signed_out else NOT_SIGNED_IN},
                            status_code=401)
    return render(request, "login.html", login_context(
        request, next=came_from(request) or "/") | {
            "kept": await typed_in(request), "signed_out": signed_out}, status_code=401)


def sent_from_a_page(request: Request) -> bool:
    """Tell whether a request is a plain form's post from a page (not the API, not htmx)."""
    return (request.method == "POST" and not request.url.path.startswith("/api/")
            and not request.headers.get("HX-Request") and wants_html(request))


async def page_refusal(request: Request, exc: DomainError) -> Response:
    """Answer a domain error; a page's form refused keeps what was typed, with the way back."""
    if not sent_from_a_page(request) or isinstance(exc, (NotAuthenticated,
                                                         PasswordChangeNeeded)):
        return refusal_response(request, exc)
    return render(request, "error.html", {
        "status": exc.status_code, "message": exc.message, "kept": await typed_in(request),
        "back": came_from(request)}, status_code=exc.status_code)


def refusal_body(exc: DomainError) -> dict[str, Any]:
    """Return the JSON of a refusal (web.api_contract.ErrorOut): the sentence and its details."""
    body: dict[str, Any] = {"detail": exc.message}
    if isinstance(exc, Invalid):
        body["errors"] = exc.errors
        if hasattr(exc, "path"):
            body["cycle"] = exc.path
    if isinstance(exc, Conflict):
        body["current"] = exc.current
        body["changed"] = exc.changed
        if exc.conflicts:
            body["conflicts"] = exc.conflicts
    return body


def refusal_response(request: Request, exc: DomainError) -> Response:
    """Answer a domain error: a page for a browser (sign-in for one signed out), else JSON."""
    if isinstance(exc, NotAuthenticated) and not request.url.path.startswith("/api/"):
        return sign_in_first(request)
    if isinstance(exc, PasswordChangeNeeded) and not request.url.path.startswith("/api/"):
        return RedirectResponse(request.url_for("password_change").path, 303)
    body = refusal_body(exc)
    headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
    if wants_html(request):
        # A refusal may name its own heading: a 503 is not always the database's fault.
        page = render(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.message,
             "heading": getattr(exc, "heading", None)},
            status_code=exc.status_code,
        )
        page.headers.update(headers or {})
        return page
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    # A 409's `current` is a record as GET shows it: its dates and times are written as GET's
    # pydantic models write them (a UTC time ends "Z"; jsonable_encoder wrote "+00:00").
    return JSONResponse(to_jsonable_python(body, fallback=jsonable_encoder),
                        status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to HTTP statuses with readable messages."""

    @app.exception_handler(NotAuthenticated)
    async def not_signed_in(request: Request, exc: NotAuthenticated) -> Response:
        if request.url.path.startswith("/api/") or request.method in ("GET", "HEAD"):
            return refusal_response(request, exc)
        return await unsent_after_sign_out(request)

    # A form sent with an old token (CsrfRefused) is one of them: it keeps what was typed too.
    app.add_exception_handler(DomainError, page_refusal)  # type: ignore[arg-type]

    async def database_fault(request: Request, exc: Exception) -> Response:
        # Database faults answer 503 in words, the cause logged once; anything else is a bug.
        fault = classify(exc)
        if fault is None:
            raise exc
        request.app.state.database.faults.note(fault)
        kept = await typed_in(request) if sent_from_a_page(request) else []
        return fault_response(request, fault, kept)

    for kind in (sa_exc.DBAPIError, sa_exc.TimeoutError, DatabaseFault):
        app.add_exception_handler(kind, database_fault)

    @app.exception_handler(OverflowError)
    def out_of_range(request: Request, exc: OverflowError) -> Response:
        # A number too large for the database driver is bad input, not a server fault.
        message = "a number in the request is out of range"
        if wants_html(request):
            return render(request, "error.html", {"status": 422, "message": message},
                          status_code=422)
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # The same plain-English messages the services give, by field (no "body.", "query.";
        # only where it comes first: a field may itself be called `body`).
        errors = body_refused(exc.errors()) or messages_for(
            {**e, "loc": tuple(e["loc"][1:] if e["loc"][:1] in (("body",), ("query",),
                                                                ("path",)) else e["loc"])}
            for e in exc.errors())
        message = "; ".join(f"{k}: {v}" for k, v in errors.items())
        if wants_html(request):
            # A page's form refused by its fields' limits keeps what was typed, to copy.
            kept = await typed_in(request) if sent_from_a_page(request) else []
            return render(request, "error.html", {
                "status": 422, "message": message, "kept": kept,
                "back": came_from(request) if kept else ""}, status_code=422)
        return JSONResponse({"detail": message, "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request):
            # No route ran to say who is asking: look it up, so the page does not say "Sign in"
            # to someone signed in.
            with suppress(DomainError, AttributeError, AssertionError):
                resolve_actor(request)
            return render(
                request,
                "error.html",
                {"status": exc.status_code, "message": str(exc.detail)},
                status_code=exc.status_code,
            )
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
