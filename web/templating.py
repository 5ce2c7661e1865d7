"""Jinja2 templates; fragments render a page's named block alone for htmx requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import pass_context
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup, escape

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can
from portfolio.enums import DIMENSIONS
from web.assets import STATIC_DIR, VENDOR_FILES, content_hash
from web.security import admits_anonymous, csrf_token

templates = Jinja2Blocks(directory=str(Path(__file__).resolve().parent / "templates"))


def static_url(request: Request, name: str) -> str:
    """Return the URL of one of our static files with its content hash."""
    return f"{path_for(request, 'static', path=name)}?v={content_hash(STATIC_DIR / name)}"


def vendor_url(request: Request, name: str) -> str:
    """Return the URL of an npm-installed browser library with its content hash."""
    return f"{path_for(request, 'vendor', name=name)}?v={content_hash(VENDOR_FILES[name])}"


def _path_pattern(request: Request, name: str, keys: tuple[str, ...]) -> str:
    """Return a route's path with placeholders, resolved once per app through url_path_for."""
    state = request.app.state
    if not hasattr(state, "path_patterns"):
        state.path_patterns = {}
    cache: dict[tuple[str, tuple[str, ...]], str] = state.path_patterns
    if (name, keys) not in cache:
        placeholders = {key: f"__{key}__" for key in keys}
        cache[(name, keys)] = str(request.app.url_path_for(name, **placeholders))
    return cache[(name, keys)]


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """Return the path of a named route, like url_for but resolved once per route.

    Resolving a name walks every router (about a millisecond here, measured): a list page
    with hundreds of links spent most of its time there.
    """
    path = _path_pattern(request, name, tuple(sorted(params)))
    for key, value in params.items():
        # A static file's path keeps its slashes; every other parameter is one segment.
        path = path.replace(f"__{key}__", quote(str(value), safe="/" if key == "path" else ""))
    return path


def organisation_options(organisations: list[dict[str, Any]], selected: str | None) -> Markup:
    """Return the <option>s of an organisation picker with one selected.

    About 400 organisations when every council is in: a template loop spent a millisecond here.
    """
    return Markup("".join(
        f'<option value="{escape(o["code"])}"{" selected" if o["code"] == selected else ""}>'
        f'{escape(o["name"])}</option>' for o in organisations))


# The main navigation: route name, path, label, the section it marks as current (a path
# prefix, less the paths outside it), and the capability a user needs to see it.
NAV: list[dict[str, Any]] = [
    {"name": name, "path": path, "label": label, "section": section, "outside": outside,
     "capability": capability}
    for name, path, label, section, outside, capability in (
        ("dashboard", "/dashboard", "Dashboard", "", (), Capability.READ),
        ("backlog", "/backlog", "Backlog", "", (), Capability.READ),
        ("home", "/", "Projects", "/projects/", ("/projects/new",), Capability.READ),
        ("datasets", "/datasets", "Datasets", "/datasets/", (), Capability.READ),
        ("agreements", "/agreements", "Agreements", "/agreements/", (), Capability.READ),
        ("graph", "/graph", "Graph", "", (), Capability.READ),
        ("plan", "/plan", "Plan", "", (), Capability.READ),
        ("profiles", "/profiles", "Profiles", "/profiles/", (), Capability.READ),
        ("reviews", "/reviews", "Reviews", "", (), Capability.READ),
        ("collaboration_page", "/collaboration", "Collaboration", "", (), Capability.READ),
        ("benefits", "/benefits", "Benefits", "", (), Capability.READ),
        ("snapshots", "/snapshots", "Snapshots", "/snapshots/", (), Capability.READ),
        ("project_new", "/projects/new", "Register a project", "", (),
         Capability.REGISTER_PROJECT),
        ("import_projects", "/import", "Import", "", (), Capability.IMPORT_PROJECTS),
    )
]


def main_nav(request: Request, actor: Actor | None) -> Markup:
    """Return the main navigation's links a reader may follow, the page's own marked current."""
    # Built once per role and current item, then kept: its 14 links, each with a capability
    # check and a route's path, were a fifth of rendering a page's template (measured). An
    # anonymous reader is offered the pages that need only reading when the portfolio is public.
    here = request.url.path
    marks = tuple("page" if here == item["path"] else
                  "true" if item["section"] and here.startswith(item["section"])
                  and here not in item["outside"] else None for item in NAV)
    state = request.app.state
    if not hasattr(state, "main_nav"):
        state.main_nav = {}
    kept: dict[tuple[Any, ...], Markup] = state.main_nav
    key = (actor.role if actor else None, marks)
    if key not in kept:
        public = request.app.state.settings.public_read
        kept[key] = Markup("".join(
            _nav_link(request, item, mark)
            for item, mark in zip(NAV, marks, strict=True)
            if _may_open(actor, item["capability"], public=public)))
    return kept[key]


def _may_open(actor: Actor | None, capability: Capability, *, public: bool) -> bool:
    """Tell whether a reader may open a page needing a capability, as the route policies do."""
    if not actor:  # None, or a template's undefined name on a page drawn without one
        return admits_anonymous(capability, public_read=public)
    return can(actor, capability)


def _nav_link(request: Request, item: dict[str, Any], mark: str | None) -> str:
    """Return one link of the main navigation, marked as current ("page" or "true") or not."""
    current = f' aria-current="{mark}"' if mark else ""
    return (f'\n      <a href="{escape(path_for(request, item["name"]))}"{current}>'
            f'{escape(item["label"])}</a>')


@pass_context
def can_in_page(context: Any, capability: str, thing: Any = None) -> bool:
    """Tell a template whether its user may do something (the services' own rule)."""
    return can(context.get("actor"), capability, thing)


templates.env.globals.update(static_url=static_url, vendor_url=vendor_url, path_for=path_for,
                             organisation_options=organisation_options, main_nav=main_nav,
                             can=can_in_page,
                             dimensions=DIMENSIONS)


FLASH = "flash"


def flash(request: Request, message: str) -> None:
    """Keep a confirmation for the page a successful form post redirects to."""
    if not getattr(request.state, "via_token", False):
        request.session[FLASH] = message


def take_flash(request: Request) -> str | None:
    """Return and forget the confirmation kept for this page, if any."""
    if "session" not in request.scope or not request.session.get(FLASH):
        return None
    return request.session.pop(FLASH)


def is_htmx_partial(request: Request) -> bool:
    """Tell whether to answer with a fragment: an htmx request that is not boosted."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
):
    """Render a full page, or only its named block for an htmx partial request."""
    context = {
        "request": request, "csrf": csrf_token(request),
        "actor": getattr(request.state, "actor", None), "flash": take_flash(request),
        "read_only": request.app.state.database.write_fault(), **context,
    }
    kwargs: dict[str, Any] = {}
    if block and is_htmx_partial(request):
        kwargs["block_name"] = block
    response = templates.TemplateResponse(
        request, template, context, status_code=status_code, **kwargs
    )
    response.headers["Vary"] = "HX-Request"
    return response
