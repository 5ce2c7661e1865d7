"""Sign in and out, the account page (API tokens) and the user administration page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from portfolio.actors import Actor
from portfolio.errors import DomainError, Invalid
from portfolio.services import accounts
from portfolio.services import organisations as organisation_service
from web.deps import get_database
from web.security import (
    Policy,
    RowId,
    client_address,
    csrf_token,
    current_session_secret,
    end_signed_in_session,
    policy,
    safe_next,
    start_signed_in_session,
)
from web.templating import render

router = APIRouter(include_in_schema=False)

Public = Annotated[Actor | None, Depends(policy(Policy.PUBLIC))]
Reader = Annotated[Actor, Depends(policy(Policy.READ))]
Admin = Annotated[Actor, Depends(policy(Policy.ADMIN))]


@router.get("/login", name="login")
def login_page(request: Request, actor: Public,
               next: Annotated[str | None, Query(max_length=500)] = None):  # noqa: A002
    """Show the sign-in form."""
    csrf_token(request)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "email": ""})


@router.post("/login", name="login_submit")
def login_submit(
    request: Request, actor: Public, email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
):
    """Check the credentials; on success start a fresh session."""
    settings = request.app.state.settings
    try:
        signed_in = accounts.sign_in(db=get_database(request), email=email, password=password,
                                     client=client_address(request),
                                     limits=accounts.SignInLimits.of(settings))
    except DomainError as exc:
        headers = ({"Retry-After": str(exc.retry_after)}
                   if isinstance(exc, accounts.TooManyAttempts) else None)
        response = render(request, "login.html", {"next": safe_next(next), "error": exc.message,
                                                  "email": email}, status_code=exc.status_code)
        response.headers.update(headers or {})
        return response
    start_signed_in_session(request, signed_in)
    csrf_token(request)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, actor: Reader):
    """End the session: the cookie's copies stop working too."""
    end_signed_in_session(request)
    return RedirectResponse(request.url_for("login").path, status_code=303)


@router.post("/account/sessions/end", name="sign_out_everywhere")
def sign_out_everywhere(request: Request, actor: Reader):
    """End every session of the signed-in user, this one included."""
    with get_database(request).write() as session:
        accounts.sign_out_everywhere(session=session, actor=actor)
    request.session.clear()
    return RedirectResponse(request.url_for("login").path, status_code=303)


def _account(request: Request, actor: Actor, *, new_token: dict | None = None,
             error: str | None = None):
    """Render the account page: API tokens and signed-in sessions."""
    settings = request.app.state.settings
    with get_database(request).read() as session:
        tokens = accounts.list_tokens(session=session, actor=actor)
        sessions = accounts.list_sessions(session=session, actor=actor,
                                          limits=accounts.SessionLimits.of(settings),
                                          current=current_session_secret(request))
    return render(request, "account.html", {
        "tokens": tokens, "sessions": sessions, "new_token": new_token, "error": error,
        "token_days": settings.api_token_days,
        "token_choices": sorted({7, 30, 90, 365, settings.api_token_days}
                                & set(range(1, settings.api_token_max_days + 1))),
    }, status_code=422 if error else 200)


@router.get("/account", name="account")
def account_page(request: Request, actor: Reader):
    """Show the signed-in user's API tokens and sessions."""
    return _account(request, actor)


@router.post("/account/tokens", name="token_create")
def token_create(request: Request, actor: Reader,
                 name: Annotated[str, Form(max_length=120)],
                 days: Annotated[int | None, Form(ge=1, le=100_000)] = None,
                 ):
    """Create an API token that lasts the chosen days and show its secret once."""
    settings = request.app.state.settings
    error, created = None, None
    try:
        with get_database(request).write() as session:
            created = accounts.create_token(session=session, actor=actor, name=name,
                                            days=days or settings.api_token_days,
                                            max_days=settings.api_token_max_days)
    except Invalid as exc:
        error = exc.message
    return _account(request, actor, new_token=created, error=error)


@router.post("/account/tokens/{token_id}/revoke", name="token_revoke")
def token_revoke(request: Request, actor: Reader, token_id: RowId):
    """Revoke one of the user's tokens."""
    with get_database(request).write() as session:
        accounts.revoke_token(session=session, actor=actor, token_id=token_id)
    return RedirectResponse(request.url_for("account").path, status_code=303)


@router.get("/admin/users", name="users")
def users_page(request: Request, actor: Admin):
    """List users for the administrator."""
    return _users(request, actor, errors={}, form={})


def _users(request: Request, actor: Actor, *, errors: dict, form: dict,
           status_code: int = 200):
    """Render the users page."""
    database = get_database(request)
    with database.read() as session:
        users = accounts.list_users(session=session, actor=actor)
        organisations = organisation_service.list_organisations(session=session)
    return render(request, "users.html", {"users": users, "organisations": organisations,
                                          "errors": errors, "form": form},
                  status_code=status_code)


@router.post("/admin/users", name="user_create")
def user_create(
    request: Request, actor: Admin, email: Annotated[str, Form(max_length=254)],
    name: Annotated[str, Form(max_length=200)], role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=1024)],
    organisation: Annotated[str, Form(max_length=32)] = "",
):
    """Add a user with a first password."""
    form = {"email": email, "name": name, "role": role, "organisation": organisation}
    try:
        with get_database(request).write() as session:
            accounts.add_user(session=session, actor=actor, password=password,
                              data={**form, "organisation": organisation or None})
    except Invalid as exc:
        return _users(request, actor, errors=exc.errors, form=form, status_code=422)
    return RedirectResponse(request.url_for("users").path, status_code=303)


@router.post("/admin/users/{email}", name="user_update")
def user_update(
    request: Request, actor: Admin, email: str, role: Annotated[str, Form(max_length=16)],
    organisation: Annotated[str, Form(max_length=32)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
):
    """Change a user's role, organisation or access."""
    try:
        with get_database(request).write() as session:
            accounts.update_user(session=session, actor=actor, email=email, role=role,
                                 organisation=organisation, is_active=active == "on")
    except Invalid as exc:
        return _users(request, actor, errors=exc.errors, form={}, status_code=422)
    return RedirectResponse(request.url_for("users").path, status_code=303)
