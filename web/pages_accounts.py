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
from web.security import Policy, RowId, csrf_token, policy, safe_next
from web.templating import render

router = APIRouter(include_in_schema=False)

Public = Annotated[Actor | None, Depends(policy(Policy.PUBLIC))]
Reader = Annotated[Actor, Depends(policy(Policy.READ))]
Admin = Annotated[Actor, Depends(policy(Policy.ADMIN))]


@router.get("/login", name="login")
def login_page(request: Request, actor: Public,
               next: Annotated[str | None, Query(max_length=500)] = None):  # type: ignore[no-untyped-def]  # noqa: A002
    """Show the sign-in form."""
    csrf_token(request)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "email": ""})


@router.post("/login", name="login_submit")
def login_submit(
    request: Request, actor: Public, email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
):  # type: ignore[no-untyped-def]
    """Check the credentials; on success start a fresh session."""
    database = get_database(request)
    try:
        with database.write() as session:
            signed_in = accounts.authenticate(session=session, email=email, password=password)
        if signed_in is None:
            raise accounts.BadCredentials()
    except DomainError as exc:
        return render(request, "login.html", {"next": safe_next(next), "error": exc.message,
                                              "email": email}, status_code=exc.status_code)
    # A new session on sign-in: a session fixed before it cannot be reused after.
    request.session.clear()
    request.session["user_id"] = signed_in.id
    csrf_token(request)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, actor: Reader):  # type: ignore[no-untyped-def]
    """End the session."""
    request.session.clear()
    return RedirectResponse(request.url_for("login").path, status_code=303)


@router.get("/account", name="account")
def account_page(request: Request, actor: Reader):  # type: ignore[no-untyped-def]
    """Show the signed-in user's API tokens."""
    with get_database(request).read() as session:
        tokens = accounts.list_tokens(session=session, actor=actor)
    return render(request, "account.html", {"tokens": tokens, "new_token": None, "error": None})


@router.post("/account/tokens", name="token_create")
def token_create(request: Request, actor: Reader,
                 name: Annotated[str, Form(max_length=120)]):  # type: ignore[no-untyped-def]
    """Create an API token and show its secret once."""
    database = get_database(request)
    error, created = None, None
    try:
        with database.write() as session:
            created = accounts.create_token(session=session, actor=actor, name=name)
    except Invalid as exc:
        error = exc.message
    with database.read() as session:
        tokens = accounts.list_tokens(session=session, actor=actor)
    return render(request, "account.html", {"tokens": tokens, "new_token": created,
                                            "error": error},
                  status_code=422 if error else 200)


@router.post("/account/tokens/{token_id}/revoke", name="token_revoke")
def token_revoke(request: Request, actor: Reader, token_id: RowId):  # type: ignore[no-untyped-def]
    """Revoke one of the user's tokens."""
    with get_database(request).write() as session:
        accounts.revoke_token(session=session, actor=actor, token_id=token_id)
    return RedirectResponse(request.url_for("account").path, status_code=303)


@router.get("/admin/users", name="users")
def users_page(request: Request, actor: Admin):  # type: ignore[no-untyped-def]
    """List users for the administrator."""
    return _users(request, actor, errors={}, form={})


def _users(request: Request, actor: Actor, *, errors: dict, form: dict,
           status_code: int = 200):  # type: ignore[no-untyped-def]
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
):  # type: ignore[no-untyped-def]
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
):  # type: ignore[no-untyped-def]
    """Change a user's role, organisation or access."""
    try:
        with get_database(request).write() as session:
            accounts.update_user(session=session, actor=actor, email=email, role=role,
                                 organisation=organisation, is_active=active == "on")
    except Invalid as exc:
        return _users(request, actor, errors=exc.errors, form={}, status_code=422)
    return RedirectResponse(request.url_for("users").path, status_code=303)
