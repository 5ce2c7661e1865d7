"""The app's routers: a path no route of a router starts as is refused without asking its routes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from portfolio.settings import Settings
from web.app import create_app
from web.deps import app_database, get_database
from web.pages_engine import slider_weights
from web.routing import Router, route_path, unprefixed


def counted(route: Any, calls: list[str]) -> None:
    """Count each time FastAPI asks a route whether it matches a request."""
    ask: Callable[..., Any] = route.matches

    def matches(scope: dict[str, Any]) -> Any:
        calls.append(route.path)
        return ask(scope)

    route.matches = matches


def two_routers() -> tuple[FastAPI, Router, Router]:
    """Return an app with an API router (its own prefix) and a pages router."""
    api = Router(prefix="/api/v1")
    pages = Router()

    @api.get("/things")
    def things() -> dict[str, str]:
        return {"from": "api"}

    @pages.get("/pages/{name}")
    def page(name: str) -> dict[str, str]:
        return {"from": name}

    app = FastAPI()
    app.include_router(api)
    app.include_router(pages)
    return app, api, pages


def test_a_router_is_not_asked_route_by_route_for_a_path_it_cannot_serve() -> None:
    app, api, pages = two_routers()
    calls: list[str] = []
    for route in api.routes + pages.routes:
        counted(route, calls)
    client = TestClient(app)
    assert client.get("/pages/one").json() == {"from": "one"}
    assert "/api/v1/things" not in calls
    calls.clear()
    assert client.get("/api/v1/things").json() == {"from": "api"}
    assert "/pages/{name}" not in calls


def test_what_the_routers_answer_is_unchanged() -> None:
    client = TestClient(two_routers()[0])
    assert client.get("/api/v1/things").status_code == 200
    assert client.post("/pages/one").status_code == 405
    assert client.get("/elsewhere").status_code == 404
    assert client.get("/api/v2/things").status_code == 404
    slash = client.get("/pages/one/", follow_redirects=False)
    assert slash.status_code == 307 and slash.headers["location"].endswith("/pages/one")


def test_a_route_starting_with_a_parameter_takes_any_path() -> None:
    router = Router()

    @router.get("/{slug}")
    def anything(slug: str) -> dict[str, str]:
        return {"slug": slug}

    app = FastAPI()
    app.include_router(router)
    assert TestClient(app).get("/whatever").json() == {"slug": "whatever"}


def test_a_router_knows_the_paths_of_the_routers_it_includes() -> None:
    outer, inner = Router(), Router()

    @inner.get("/inner/page")
    def inner_page() -> dict[str, str]:
        return {"from": "inner"}

    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    assert TestClient(app).get("/inner/page").json() == {"from": "inner"}


def test_a_router_included_under_a_prefix_is_refused() -> None:
    router = Router()

    @router.get("/page")
    def page() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router, prefix="/under")
    with pytest.raises(RuntimeError, match="under the prefix '/under'"):
        unprefixed(app.router)


def test_every_router_of_the_app_is_a_router_included_without_a_prefix(
        settings: Settings) -> None:
    app = create_app(settings)
    included = [route for route in app.router.routes if hasattr(route, "original_router")]
    assert included and all(isinstance(r.original_router, Router) for r in included)
    unprefixed(app.router)


def all_routes(router: Any) -> list[Any]:
    """Return a router's routes, those of the routers it includes too."""
    found = []
    for route in router.routes:
        included = getattr(route, "original_router", None)
        found += all_routes(included) if included is not None else [route]
    return found


def test_the_dependencies_that_only_look_something_up_run_on_the_event_loop(
        settings: Settings) -> None:
    # FastAPI runs a plain `def` dependency in the thread pool: a hop per request for nothing.
    assert inspect.iscoroutinefunction(app_database)
    assert inspect.iscoroutinefunction(slider_weights)
    stack = [route.dependant for route in all_routes(create_app(settings).router)
             if isinstance(route, APIRoute)]
    assert len(stack) > 200
    while stack:
        dependant = stack.pop()
        assert dependant.call is not get_database, dependant.path
        stack.extend(dependant.dependencies)


@pytest.mark.parametrize(("root", "path", "matched"), [
    ("", "/backlog", "/backlog"), ("/app", "/app/backlog", "/backlog"), ("/app", "/app", ""),
    ("/app", "/apple", "/apple"), ("/app", "/backlog", "/backlog")])
def test_routes_match_the_path_below_the_root_path_as_starlette_does(
        root: str, path: str, matched: str) -> None:
    assert route_path({"path": path, "root_path": root}) == matched


def test_an_app_served_below_a_root_path_still_finds_its_routes() -> None:
    client = TestClient(two_routers()[0], root_path="/portfolio")
    assert client.get("/portfolio/pages/one").json() == {"from": "one"}
    assert client.get("/portfolio/api/v1/things").json() == {"from": "api"}


def test_no_two_routes_share_a_name(settings: Settings) -> None:
    # path_for and url_for find a route by its name: two routes of one name send every link
    # to whichever was included first (the header's Collaboration link opened the API's JSON).
    names: dict[str, list[str]] = {}
    for route in all_routes(create_app(settings).router):
        if getattr(route, "name", None) and hasattr(route, "endpoint"):
            names.setdefault(route.name, []).append(route.path)
    shared = {name: paths for name, paths in names.items() if len(paths) > 1}
    assert not shared
