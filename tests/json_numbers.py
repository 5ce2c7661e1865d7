"""Where a JSON schema asks for a number, and a value holding true at exactly that place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

NUMBER_TYPES = {"integer", "number"}
# Pydantic's own names for bounds: a schema that shows them has lost its JSON Schema bounds.
PYDANTIC_BOUNDS = {"ge", "gt", "le", "lt"}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = root
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def number_leaves(schema: dict[str, Any], root: dict[str, Any],
                  path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Yield the path to every number a schema holds: a name, "0" for an item, "x" for a key."""
    if len(path) > 6:  # a schema that refers to itself: deep enough
        return
    schema = _resolve(schema, root)
    for choice in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from number_leaves(choice, root, path)
    kind = schema.get("type")
    if kind in NUMBER_TYPES:
        yield path
    elif kind == "array" and "items" in schema:
        yield from number_leaves(schema["items"], root, (*path, "0"))
    for name, field in schema.get("properties", {}).items():
        yield from number_leaves(field, root, (*path, name))
    if isinstance(schema.get("additionalProperties"), dict):
        yield from number_leaves(schema["additionalProperties"], root, (*path, "x"))


def true_at(path: tuple[str, ...]) -> Any:
    """Return a JSON value that holds true at the path and nothing else."""
    if not path:
        return True
    inner = true_at(path[1:])
    return [inner] if path[0] == "0" else {path[0]: inner}


def pydantic_bounds(schema: Any) -> list[str]:
    """Return the places a schema states a bound in pydantic's words, not JSON Schema's."""
    if isinstance(schema, dict):
        return ([key for key in schema if key in PYDANTIC_BOUNDS and not isinstance(
                    schema[key], dict)]
                + [found for value in schema.values() for found in pydantic_bounds(value)])
    if isinstance(schema, list):
        return [found for value in schema for found in pydantic_bounds(value)]
    return []
