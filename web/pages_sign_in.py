"""Sign-in through an OpenID Connect provider, and the admin's page of groups that give roles."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from portfolio.actors import Actor
from portfolio.errors import DomainError, Invalid
from portfolio.oidc import PendingSignIn, Provider, ProviderSettings, SignInRefused
from portfolio.services import identities
from portfolio.services import organisations as organisation_service
from web.deps import get_database
from web.routing import Router
from web.security import Policy, RowId, policy, safe_next, start_signed_in_session
from web.templating import flash, render

LOG = logging.getLogger(__name__)
router = Router(include_in_schema=False)

Public = Annotated[Actor | None, Depends(policy(Policy.PUBLIC))]
GroupAdmin = Annotated[Actor, Depends(policy(Policy.GROUPS))]

PENDING_KEY = "oidc_pending"
VIA_PROVIDER_KEY = "oidc"
ID_TOKEN_KEY = "oidc_id_token"
# An ID token larger than this is not kept for the provider's sign-out (the cookie is small).
ID_TOKEN_KEPT_BYTES = 1800


def provider_of(request: Request) -> Provider | None:
    """Return this app's provider (its documents kept for the process), or None when off."""
    settings = request.app.state.settings
    if not settings.oidc_enabled:
        return None
    found = getattr(request.app.state, "oidc_provider", None)
    if found is None:
        found = request.app.state.oidc_provider = Provider(ProviderSettings.of(settings))
    return found


def provider_sign_out_url(request: Request) -> str | None:
    """Return the provider's sign-out address for a browser signed in through it, or None."""
    provider = provider_of(request)
    if provider is None or not request.session.get(VIA_PROVIDER_KEY):
        return None
    return provider.end_session_url(after=str(request.url_for("login")),
                                    id_token=request.session.get(ID_TOKEN_KEY))


def _refused(request: Request, error: DomainError, next_path: str = "/"):
    """Show the sign-in page with why signing in through the provider failed."""
    from web.pages_accounts import login_context  # the sign-in page's own context

    LOG.warning("single sign-on refused: %s", error.message)
    return render(request, "login.html", login_context(request, next=next_path,
                                                       error=error.message),
                  status_code=error.status_code)


@router.get("/login/oidc", name="oidc_start")
def oidc_start(request: Request, actor: Public,
               next: Annotated[str | None, Query(max_length=500)] = None):  # noqa: A002
    """Send the browser to the provider, with a fresh state, nonce and PKCE verifier."""
    provider = provider_of(request)
    target = safe_next(next)
    if provider is None:
        return _refused(request, SignInRefused("single sign-on is not set up here"), target)
    try:
        url, pending = provider.start(str(request.url_for("oidc_callback")))
    except DomainError as exc:
        return _refused(request, exc, target)
    request.session[PENDING_KEY] = {**pending.as_dict(), "next": target}
    return RedirectResponse(url, status_code=303)


@router.get("/login/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request, actor: Public,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=500)] = None,
):
    """Finish a sign-in: check the state, exchange the code, verify the ID token, sign in."""
    provider = provider_of(request)
    kept = request.session.get(PENDING_KEY)
    target = safe_next(kept.get("next")) if isinstance(kept, dict) else "/"
    matches = isinstance(kept, dict) and bool(state) and state == kept.get("state")
    if matches:
        # Taken out at once: a state is good for one answer (a replayed one finds nothing).
        # An answer that does not match leaves the sign-in under way to finish.
        request.session.pop(PENDING_KEY, None)
    if provider is None:
        return _refused(request, SignInRefused("single sign-on is not set up here"))
    if error and not matches:
        # Not the provider's answer to this browser's sign-in: none of its words are shown.
        return _refused(request, SignInRefused(
            "the provider's answer did not match a sign-in started here; start again"),
            target)
    if error:
        why = f": {error_description}" if error_description else f" ({error})"
        return _refused(request, SignInRefused(f"the provider did not sign you in{why}"),
                        target)
    if not isinstance(kept, dict) or not matches or not code:
        return _refused(request, SignInRefused(
            "this sign-in link was already used, has expired, or did not start here; "
            "start again"), target)
    pending = PendingSignIn(state=kept["state"], nonce=kept["nonce"],
                            verifier=kept["verifier"])
    try:
        identity = provider.finish(code=code, redirect_uri=str(request.url_for("oidc_callback")),
                                   pending=pending)
        with get_database(request).write() as session:
            signed = identities.sign_in_identity(session=session, identity=identity)
    except DomainError as exc:
        return _refused(request, exc, target)
    if signed.actor is None:
        return render(request, "sign_in_waiting.html", {"signed": signed}, status_code=403)
    start_signed_in_session(request, signed.actor)
    request.session[VIA_PROVIDER_KEY] = True
    if len(identity.id_token) <= ID_TOKEN_KEPT_BYTES:
        request.session[ID_TOKEN_KEY] = identity.id_token
    return RedirectResponse(target, status_code=303)


def _groups(request: Request, actor: Actor, *, errors: dict, form: dict,
            status_code: int = 200):
    """Render the group mapping page."""
    with get_database(request).read() as session:
        mappings = identities.list_mappings(session=session, actor=actor)
        waiting = identities.waiting_users(session=session, actor=actor)
        organisations = organisation_service.list_organisations(session=session)
    return render(request, "sign_in_groups.html", {
        "mappings": mappings, "waiting": waiting, "errors": errors, "form": form,
        "organisation_choices": [(o["code"], o["name"]) for o in organisations],
        "claim": request.app.state.settings.oidc_groups_claim,
        "enabled": request.app.state.settings.oidc_enabled,
    }, status_code=status_code)


@router.get("/admin/groups", name="group_mappings")
def group_mappings(request: Request, actor: GroupAdmin):
    """Show which provider groups give which role, and who waits for one."""
    return _groups(request, actor, errors={}, form={})


@router.post("/admin/groups", name="group_mapping_add")
def group_mapping_add(
    request: Request, actor: GroupAdmin, group: Annotated[str, Form(max_length=300)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    organisation: Annotated[str, Form(max_length=32)] = "",
):
    """Map a provider group to a role (and organisation)."""
    form = {"group": group, "role": role, "organisation": organisation}
    try:
        with get_database(request).write() as session:
            added = identities.add_mapping(session=session, actor=actor, group=group,
                                           role=role, organisation=organisation or None)
    except Invalid as exc:
        return _groups(request, actor, errors=exc.errors, form=form, status_code=422)
    given = added["waiting_given"]
    waiting = (f" {given} member waiting for a role has it now." if given == 1 else
               f" {given} members waiting for a role have it now." if given else "")
    flash(request, f"Members of {group.strip()} now sign in as {role}.{waiting}")
    return RedirectResponse(request.url_for("group_mappings").path, status_code=303)


@router.post("/admin/groups/{mapping_id}/remove", name="group_mapping_remove")
def group_mapping_remove(request: Request, actor: GroupAdmin,
                         mapping_id: RowId):
    """Remove a group mapping."""
    with get_database(request).write() as session:
        changed = identities.remove_mapping(session=session, actor=actor, mapping_id=mapping_id)
    members = f"{changed} member{'' if changed == 1 else 's'}"
    flash(request, f"The mapping is removed, and with it the role it gave {members}: each now "
          "has the role another mapped group gives, or waits for access (by the groups they "
          "were in at their last sign-in).")
    return RedirectResponse(request.url_for("group_mappings").path, status_code=303)
