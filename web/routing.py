"""The app's router: FastAPI's, told at once when a path is none of its routes'."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope

# Any first path segment: a route whose path starts with a parameter.
ANY = "{"


def first_segment(path: str) -> str:
    """Return a path's first segment ("" for "/"); ANY where it is a path parameter."""
    head = path.lstrip("/").split("/", 1)[0]
    return ANY if "{" in head else head


def route_path(scope: Scope) -> str:
    """Return the path routes match: the request's, less the app's root path (as Starlette)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root):] if path[len(root)] == "/" else path


def include_prefix(route: Any) -> str:
    """Return the prefix an included router was included under ("" for none)."""
    return str(getattr(getattr(route, "include_context", None), "prefix", "") or "")


class Router(APIRouter):
    """An APIRouter that refuses a request at once when no route of its starts as its path does.

    FastAPI asks every included router, route by route, whether it matches a request: at 240
    routes that was a third of answering /healthz (measured). A path whose first segment starts
    none of a router's routes can match none of them, so the router says so from a set. It is
    included without a prefix (its own `prefix` is in its routes' paths): `unprefixed` checks.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._heads: frozenset[str] | None = None
        self._heads_of = -1

    def first_segments(self) -> frozenset[str]:
        """Return the first path segments of this router's routes, its included ones too."""
        if self._heads is None or self._heads_of != len(self.routes):
            heads: set[str] = set()
            for route in self.routes:
                included = getattr(route, "original_router", None)
                path = getattr(route, "path", None)
                if isinstance(included, Router) and not include_prefix(route):
                    heads |= included.first_segments()
                elif isinstance(path, str):
                    heads.add(first_segment(path))
                else:
                    heads.add(ANY)  # nothing known of what it matches
            self._heads, self._heads_of = frozenset(heads), len(self.routes)
        return self._heads

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Say NONE at once for a path no route of this router's could match."""
        heads = self.first_segments()
        if (scope["type"] == "http" and ANY not in heads
                and first_segment(route_path(scope)) not in heads):
            return Match.NONE, {}
        return super().matches(scope)


def unprefixed(router: APIRouter) -> None:
    """Refuse a Router included under a prefix, which its first segments would not know."""
    for route in router.routes:
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            if isinstance(included, Router) and include_prefix(route):
                raise RuntimeError(f"a Router is included under the prefix "
                                   f"{include_prefix(route)!r}: give it its own prefix")
            unprefixed(included)
