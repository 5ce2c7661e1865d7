"""Sign in and out, the account page (password, API tokens) and the user administration page.

Every form here answers a post with a redirect (a reload never posts again); what the next page
must show once (a form's errors and input; a new token's secret or a one-time password, sealed
with a key derived from the secret key, as the cookie is signed but readable) is kept in the
session cookie until that page shows it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from portfolio.actors import Actor
from portfolio.errors import Conflict, DomainError, Invalid
from portfolio.services import accounts
from portfolio.services import organisations as organisation_service
from web.deps import get_database
from web.pages_sign_in import provider_sign_out_url
from web.routing import Router
from web.security import (
    MUST_CHANGE_KEY,
    NotAuthenticated,
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
from web.templating import flash, render

router = Router(include_in_schema=False)

Public = Annotated[Actor | None, Depends(policy(Policy.PUBLIC))]


async def signed_in_reader(
    actor: Annotated[Actor | None, Depends(policy(Policy.READ))],
) -> Actor:
    """Return the signed-in user: an account is its user's own, even when reading is public."""
    if actor is None:
        raise NotAuthenticated("sign in to use this")
    return actor


Reader = Annotated[Actor, Depends(signed_in_reader)]
Admin = Annotated[Actor, Depends(policy(Policy.ADMIN))]


@router.get("/login", name="login")
def login_page(request: Request, actor: Public,
               next: Annotated[str | None, Query(max_length=500)] = None):  # noqa: A002
    """Show the sign-in form."""
    csrf_token(request)
    return render(request, "login.html", login_context(request, next=safe_next(next)))


def passwords_on(request: Request) -> bool:
    """Tell whether users may have passwords here (off only beside single sign-on)."""
    settings = request.app.state.settings
    return bool(settings.local_passwords or not settings.oidc_enabled)


def login_context(request: Request, *, next: str, error: str | None = None,  # noqa: A002
                  email: str = "") -> dict:
    """Return what the sign-in page shows: the provider's button, the password form or both."""
    settings = request.app.state.settings
    return {"next": next, "error": error, "email": email,
            "sso_name": settings.oidc_provider_name if settings.oidc_enabled else None,
            "local_passwords": passwords_on(request),
            "end_session_url": request.session.pop("end_session_url", None)}


@router.post("/login", name="login_submit")
def login_submit(
    request: Request, actor: Public, email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
):
    """Check the credentials; on success start a fresh session."""
    settings = request.app.state.settings
    if not login_context(request, next="/")["local_passwords"]:
        return render(request, "login.html", login_context(
            request, next=safe_next(next), email=email,
            error="sign-in with a password is switched off here: use "
                  f"{settings.oidc_provider_name}"), status_code=403)
    database = get_database(request)
    try:
        signed_in = accounts.sign_in(db=database, email=email, password=password,
                                     client=client_address(request),
                                     limits=accounts.SignInLimits.of(settings))
    except DomainError as exc:
        headers = ({"Retry-After": str(exc.retry_after)}
                   if isinstance(exc, accounts.TooManyAttempts) else None)
        response = render(request, "login.html", login_context(
            request, next=safe_next(next), error=exc.message, email=email),
            status_code=exc.status_code)
        response.headers.update(headers or {})
        return response
    start_signed_in_session(request, signed_in)
    csrf_token(request)
    if signed_in.id is not None and accounts.must_change_password(db=database,
                                                                   user_id=signed_in.id):
        # A password an admin chose (a new user, a reset): the user chooses their own first.
        request.session[MUST_CHANGE_KEY] = True
        target = request.url_for("password_change").include_query_params(next=safe_next(next))
        return RedirectResponse(f"{target.path}?{target.query}", status_code=303)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, actor: Reader):
    """End the session: the cookie's copies stop working too; offer the provider's sign-out."""
    provider_sign_out = provider_sign_out_url(request)
    end_signed_in_session(request)
    if provider_sign_out:
        request.session["end_session_url"] = provider_sign_out
    return RedirectResponse(request.url_for("login").path, status_code=303)


@router.post("/account/sessions/end", name="sign_out_everywhere")
def sign_out_everywhere(request: Request, actor: Reader):
    """End every session of the signed-in user, this one included."""
    with get_database(request).write() as session:
        accounts.sign_out_everywhere(session=session, actor=actor)
    request.session.clear()
    return RedirectResponse(request.url_for("login").path, status_code=303)


def see_other(request: Request, name: str, anchor: str = "", **params: Any) -> RedirectResponse:
    """Redirect a form post to a page (by route name), so a reload does not post again."""
    return RedirectResponse(request.url_for(name, **params).path + anchor, status_code=303)


def keep(request: Request, key: str, value: Any) -> None:
    """Keep something for the next page to show once (see the module's docstring)."""
    request.session[key] = value


def take(request: Request, key: str) -> Any:
    """Return and forget what a form post kept for this page."""
    return request.session.pop(key, None)


# How long a sealed secret may wait for its page: the redirect that follows its post.
SECRET_WAITS_SECONDS = 600


def keep_secret(request: Request, key: str, value: Any) -> None:
    """Keep a secret for the next page, sealed: the cookie is signed, not encrypted."""
    request.session[key] = _sealer(request).encrypt(json.dumps(value).encode()).decode()


def take_secret(request: Request, key: str) -> Any:
    """Return and forget a sealed secret kept for this page (None if none, or stale)."""
    sealed = request.session.pop(key, None)
    if not isinstance(sealed, str):
        return None
    try:
        return json.loads(_sealer(request).decrypt(sealed.encode(), ttl=SECRET_WAITS_SECONDS))
    except InvalidToken:
        return None


def _sealer(request: Request) -> Fernet:
    """Return the cipher for kept secrets, its key derived from the app's secret key."""
    secret = request.app.state.settings.resolved_secret_key()
    key = hashlib.sha256(b"portfolio kept secret\0" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _account(request: Request, actor: Actor):
    """Render the account page: password, API tokens and signed-in sessions."""
    settings = request.app.state.settings
    database = get_database(request)
    # Offered only where there is a password to change.
    changes_password = passwords_on(request) and accounts.has_password(db=database, actor=actor)
    with database.read() as session:
        tokens = accounts.list_tokens(session=session, actor=actor)
        sessions = accounts.list_sessions(session=session, actor=actor,
                                          limits=accounts.SessionLimits.of(settings),
                                          current=current_session_secret(request))
    refused = take(request, "token_form") or {}
    return render(request, "account.html", {
        "tokens": tokens, "sessions": sessions, "new_token": take_secret(request, "new_token"),
        "changes_password": changes_password,
        "errors": refused.get("errors", {}), "form": refused.get("values", {}),
        "token_days": settings.api_token_days,
        "token_options": [(str(d), f"{d} days") for d in sorted(
            {7, 30, 90, 365, settings.api_token_days}
            & set(range(1, settings.api_token_max_days + 1)))],
    })


@router.get("/account", name="account")
def account_page(request: Request, actor: Reader):
    """Show the signed-in user's password link, API tokens and sessions."""
    return _account(request, actor)


@router.post("/account/tokens", name="token_create")
def token_create(request: Request, actor: Reader,
                 name: Annotated[str, Form(max_length=120)] = "",
                 days: Annotated[int | None, Form(ge=1, le=100_000)] = None,
                 ):
    """Create an API token that lasts the chosen days; the account page shows its secret once."""
    settings = request.app.state.settings
    try:
        with get_database(request).write() as session:
            created = accounts.create_token(session=session, actor=actor, name=name,
                                            days=days or settings.api_token_days,
                                            max_days=settings.api_token_max_days)
    except Invalid as exc:
        keep(request, "token_form", {"errors": exc.errors,
                                     "values": {"name": name, "days": days}})
        # No fragment: the error summary at the top takes focus, which a jump to a fragment undoes.
        return see_other(request, "account")
    keep_secret(request, "new_token", created)
    return see_other(request, "account", "#token-created")


@router.get("/account/tokens/{token_id}/revoke", name="token_revoke_confirm")
def token_revoke_confirm(request: Request, actor: Reader, token_id: RowId):
    """Ask before revoking a token: scripts that use it stop working."""
    with get_database(request).read() as session:
        token = accounts.get_token(session=session, actor=actor, token_id=token_id)
    if token["revoked"]:
        return see_other(request, "account")
    return render(request, "token_revoke.html", {"token": token})


@router.post("/account/tokens/{token_id}/revoke", name="token_revoke")
def token_revoke(request: Request, actor: Reader, token_id: RowId):
    """Revoke one of the user's tokens."""
    with get_database(request).write() as session:
        token = accounts.get_token(session=session, actor=actor, token_id=token_id)
        accounts.revoke_token(session=session, actor=actor, token_id=token_id)
    flash(request, f"The token “{token['name']}” is revoked: scripts using it are refused.")
    return see_other(request, "account")


NextPath = Annotated[str | None, Query(max_length=500)]


@router.get("/account/password", name="password_change")
def password_page(request: Request, actor: Reader, next: NextPath = None):  # noqa: A002
    """Show the form to change one's own password (the first thing after an admin set it)."""
    if not passwords_on(request) or not accounts.has_password(db=get_database(request),
                                                              actor=actor):
        raise accounts.no_password(actor.email, passwords_on=passwords_on(request))
    return render(request, "password.html", {
        "errors": {}, "next": safe_next(next or request.url_for("account").path),
        "must_change": bool(request.session.get(MUST_CHANGE_KEY))})


@router.post("/account/password", name="password_change_submit")
def password_change(
    request: Request, actor: Reader,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    repeat_password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
):
    """Change one's own password; other sessions end and tokens are revoked, this one goes on."""
    try:
        accounts.change_own_password(db=get_database(request), actor=actor,
                                     current=current_password, new=new_password,
                                     repeat=repeat_password,
                                     keep_session=current_session_secret(request),
                                     passwords_on=passwords_on(request))
    except Invalid as exc:
        # Shown at the form's own address; passwords are never sent back into the page.
        return render(request, "password.html", {
            "errors": exc.errors, "next": safe_next(next),
            "must_change": bool(request.session.get(MUST_CHANGE_KEY))}, status_code=422)
    request.session.pop(MUST_CHANGE_KEY, None)
    flash(request, "Your password is changed. Any other browser signed in as you is signed out, "
                   "and your API tokens are revoked: make new ones on your account page.")
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/admin/users", name="users")
def users_page(request: Request, actor: Admin):
    """List users for the administrator."""
    refused = take(request, "user_update") or {}
    return _users(request, actor, errors=refused.get("errors", {}), form={},
                  row=refused.get("email"), kept=refused.get("values", {}),
                  one_time=take_secret(request, "one_time"))


def _users(request: Request, actor: Actor, *, errors: dict, form: dict, status_code: int = 200,
           row: str | None = None, kept: dict | None = None, one_time: dict | None = None):
    """Render the users page.

    `row`: the user whose change was refused, shown with `errors` and what the admin chose
    (`kept`) instead of what is stored; otherwise `errors` and `form` are the new user's.
    """
    database = get_database(request)
    with database.read() as session:
        users = accounts.list_users(session=session, actor=actor)
        organisations = organisation_service.list_organisations(session=session)
    # Each row's form carries the values it starts from (as stored), to merge a save with
    # another admin's change made meanwhile.
    users = [u | {"was": {k: u[k] for k in accounts.USER_FIELDS}} for u in users]
    if row is not None:
        users = [{**u, **(kept or {})} if u["email"] == row else u for u in users]
    settings = request.app.state.settings
    return render(request, "users.html", {"users": users, "organisations": organisations,
                                          "errors": errors, "form": form, "row": row,
                                          "one_time": one_time,
                                          "passwords_on": passwords_on(request),
                                          "sso_name": settings.oidc_provider_name},
                  status_code=status_code)


@router.post("/admin/users", name="user_create")
def user_create(
    request: Request, actor: Admin, email: Annotated[str, Form(max_length=254)] = "",
    name: Annotated[str, Form(max_length=200)] = "", role: Annotated[str, Form(max_length=16)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    organisation: Annotated[str, Form(max_length=32)] = "",
):
    """Add a user with a first password, which they replace when they first sign in; with
    passwords off, one who signs in through the provider."""
    form = {"email": email, "name": name, "role": role, "organisation": organisation}
    with_password = passwords_on(request)
    try:
        with get_database(request).write() as session:
            added = accounts.add_user(session=session, actor=actor,
                                      password=password if with_password else None,
                                      must_change=with_password,
                                      data={**form, "organisation": organisation or None})
    except Invalid as exc:
        # At the page's own address (a GET of it shows the same form), with the input kept.
        return _users(request, actor, errors=exc.errors, form=form, status_code=422)
    how = ("they choose their own password when they first sign in" if with_password else
           f"they sign in with {request.app.state.settings.oidc_provider_name}")
    flash(request, f"{added['name']} ({added['email']}) is added: {how}.")
    return see_other(request, "users")


@router.post("/admin/users/{email}", name="user_update")
def user_update(
    request: Request, actor: Admin, email: str, role: Annotated[str, Form(max_length=16)],
    organisation: Annotated[str, Form(max_length=32)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
    was_role: Annotated[str | None, Form(max_length=16)] = None,
    was_organisation: Annotated[str, Form(max_length=32)] = "",
    was_active: Annotated[str, Form(max_length=8)] = "",
):
    """Change a user's role, organisation or access, merged with changes made meanwhile."""
    chose = {"role": role, "organisation": organisation or None, "is_active": active == "on"}
    # The values the row started from; a form without them replaces what is stored.
    was = None if was_role is None else {"role": was_role or None,
                                         "organisation": was_organisation or None,
                                         "is_active": was_active == "on"}
    try:
        with get_database(request).write() as session:
            accounts.update_user(session=session, actor=actor, email=email, role=role,
                                 organisation=organisation, is_active=active == "on", was=was)
    except Invalid as exc:
        # Stored emails are lower case: the page finds the refused row by its stored email.
        keep(request, "user_update", {"email": email.lower(), "errors": exc.errors,
                                      "values": chose})
        return see_other(request, "users")
    except Conflict as exc:
        # The admin's choices stay in the row beside the values saved meanwhile; the row now
        # starts from those, so saving it again replaces them knowingly.
        errors = {("active" if name == "is_active" else name):
                  f"Changed meanwhile by another admin to “{_shown(name, clash['theirs'])}”. "
                  "Yours is kept here: save again to replace it."
                  for name, clash in exc.conflicts.items()}
        saved = exc.current or chose
        shown = {k: chose[k] if was and chose[k] != was[k] else saved.get(k, chose[k])
                 for k in chose}
        keep(request, "user_update", {"email": email.lower(), "values": shown, "errors": errors
                                      or {"role": exc.message}})
        return see_other(request, "users")
    flash(request, f"The changes to {email} are saved.")
    return see_other(request, "users")


def _shown(name: str, value: object) -> str:
    """Return a user's field as the users page words it."""
    if name == "is_active":
        return "may sign in" if value else "may not sign in"
    return str(value) if value else ("no organisation" if name == "organisation" else "no role")


@router.post("/admin/users/{email}/password", name="user_reset_password")
def user_reset_password(request: Request, actor: Admin, email: str):
    """Give a user a one-time password, shown once; they choose their own at next sign-in."""
    try:
        with get_database(request).write() as session:
            one_time = accounts.reset_password(session=session, actor=actor, email=email,
                                               passwords_on=passwords_on(request))
    except Invalid as exc:
        keep(request, "user_update", {"email": email.lower(), "errors": exc.errors})
        return see_other(request, "users")
    keep_secret(request, "one_time", {"email": email, "password": one_time})
    return see_other(request, "users", "#one-time")


def back_to(target: str) -> Callable[[Request], RedirectResponse]:
    """Return a route sending a GET of a form action to the page the form is on."""
    # The page is bound here, not as a defaulted parameter: FastAPI would read that from the
    # query string, and a name no route has was a 500.
    def back(request: Request) -> RedirectResponse:
        """Send a GET of a form action to the page the form is on."""
        return see_other(request, target)

    return back


# Form actions that only take POST: opened by GET (a reload, a bookmark) they go to their page.
for _path, _target, _policy in (("/logout", "home", Policy.READ),
                                ("/account/sessions/end", "account", Policy.READ),
                                ("/account/tokens", "account", Policy.READ),
                                ("/admin/users/{email}", "users", Policy.ADMIN),
                                ("/admin/users/{email}/password", "users", Policy.ADMIN)):
    router.add_api_route(_path, back_to(_target), methods=["GET"],
                         dependencies=[Depends(policy(_policy))],
                         name="back_" + _path.strip("/").replace("/", "_").replace("{", "")
                         .replace("}", ""))
