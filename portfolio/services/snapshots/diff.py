"""Comparing two snapshots: what changed in the tables, the weights and the order, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.capabilities import contact
from portfolio.services.snapshots.content import SnapshotContent, TableData
from portfolio.services.snapshots.schema import (
    CONTACT_COLUMNS,
    is_ranking_column,
)
from portfolio.services.snapshots.service import load_content
from scoring.rounding import SCORE_DECIMALS, shown_score
from scoring.weights import shares_of_dimension

DIFF_TABLES = ("organisations", "datasets", "links", "dependencies", "partners", "assessments")


def _key_index(data: TableData) -> list[int]:
    # A key column added since an older snapshot (assessments' assessor) reads as blank there.
    return [data.columns.index(k) if k in data.columns else -1
            for k in data.spec.primary_key]


def _merge_diff(old: TableData, new: TableData) -> dict[str, list[dict[str, Any]]]:
    """Compare two tables sorted by primary key in one pass (no table held whole)."""
    old_key, new_key = _key_index(old), _key_index(new)
    shared = [c for c in new.columns if c in old.columns and c not in new.spec.primary_key]
    old_pos = {c: old.columns.index(c) for c in shared}
    new_pos = {c: new.columns.index(c) for c in shared}
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    names = new.spec.primary_key

    def key_of(row: list[Any], index: list[int]) -> tuple:
        return tuple(row[i] if i >= 0 else "" for i in index)

    a, b = next(old.rows, None), next(new.rows, None)
    while a is not None or b is not None:
        ka = key_of(a, old_key) if a is not None else None
        kb = key_of(b, new_key) if b is not None else None
        if kb is None or (ka is not None and ka < kb):
            assert ka is not None  # where new is exhausted old is not (the loop's condition)
            removed.append(dict(zip(names, ka, strict=True)))
            a = next(old.rows, None)
        elif ka is None or kb < ka:
            added.append(dict(zip(names, kb, strict=True)))
            b = next(new.rows, None)
        else:
            assert a is not None and b is not None  # the same key on both sides
            fields = {c: {"from": a[old_pos[c]], "to": b[new_pos[c]]}
                      for c in shared if a[old_pos[c]] != b[new_pos[c]]}
            if fields:
                changed.append({**dict(zip(names, kb, strict=True)), "fields": fields})
            a, b = next(old.rows, None), next(new.rows, None)
    return {"added": added, "removed": removed, "changed": changed}


def _projects_of(data: TableData) -> dict[str, dict[str, Any]]:
    slug = data.columns.index("slug")
    return {row[slug]: dict(zip(data.columns, row, strict=True)) for row in data.rows}


@dataclass
class _Read:
    """Two snapshots read side by side for a comparison."""

    tables: dict[str, dict[str, list[dict[str, Any]]]]
    old_projects: dict[str, dict[str, Any]]
    new_projects: dict[str, dict[str, Any]]
    weights_old: dict[tuple[str, str], float]
    weights_new: dict[tuple[str, str], float]
    # Each criterion's dimension, from both snapshots (one only the older has keeps its own).
    dimension_of: dict[str, str] = field(default_factory=dict)


def _read_side_by_side(old: SnapshotContent, new: SnapshotContent) -> _Read:
    """Read both snapshots' projects and weights, and merge-diff every other table."""
    read = _Read({}, {}, {}, {}, {})
    # Not strict: a table added since the older snapshot comes last and is left out.
    for old_table, new_table in zip(old.tables(), new.tables(), strict=False):
        name = new_table.spec.name
        if name == "projects":
            read.old_projects, read.new_projects = (_projects_of(old_table),
                                                    _projects_of(new_table))
        elif name == "weights":
            read.weights_old = {(k, key): w for k, key, w in old_table.rows}
            read.weights_new = {(k, key): w for k, key, w in new_table.rows}
        else:
            if name == "criteria":
                read.dimension_of = {**_dimensions(old_table), **_dimensions(new_table)}
            read.tables[name] = _merge_diff(old_table, new_table)
    return read


def _dimensions(table: Any) -> dict[str, str]:
    """Return a criteria table's dimension of each criterion, by key."""
    key, dimension = table.columns.index("key"), table.columns.index("dimension")
    return {row[key]: row[dimension] for row in table.rows}


def _weight_changes(read: _Read) -> list[dict[str, Any]]:
    """Return each weight that differs between the snapshots, criteria as shares of dimension."""
    # Stored criteria may be shares of all criteria or of their dimension: the engine reads
    # only the latter.
    old, new = ({**side, **{("criterion", key): share for key, share in shares_of_dimension(
        {key: w for (kind, key), w in side.items() if kind == "criterion"},
        read.dimension_of).items()}} for side in (read.weights_old, read.weights_new))
    return [{"kind": kind, "key": key, "from": old.get((kind, key)), "to": new.get((kind, key))}
            for kind, key in sorted(set(old) | set(new))
            if _apart(old.get((kind, key)), new.get((kind, key)))]


def _apart(before: float | None, after: float | None) -> bool:
    """Tell two weights apart: one missing, or more than a float's slip between them."""
    if before is None or after is None:
        return before is not after
    return abs(before - after) > 5e-9


def _field_changes_and_moves(read: _Read, touched: set[str]
                             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return projects in both snapshots whose fields changed, and those whose rank, view or
    score moved; a project with changed fields joins `touched`."""
    field_changes: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for slug, after in read.new_projects.items():
        before = read.old_projects.get(slug)
        if before is None:
            continue
        # The edit version counts edits, it is not a change people look for.
        fields = {c: {"from": before.get(c), "to": after[c]} for c in after
                  if not is_ranking_column(c) and c not in ("slug", "version")
                  and before.get(c) != after[c]}
        if fields:
            field_changes.append({"slug": slug, "title": after["title"], "fields": fields,
                                  "organisation": after["organisation"]})
            touched.add(slug)
        score_from, score_to = shown_score(before.get("score")), shown_score(after["score"])
        # A snapshot from before the views has none: its project is not said to change view.
        view_from, view_to = before.get("view"), after.get("view")
        # A move is one that can be seen: a rank, a view, or a score as shown (2 decimals).
        if (before.get("rank") != after["rank"] or score_from != score_to
                or None not in (view_from, view_to) and view_from != view_to):
            moves.append({"slug": slug, "title": after["title"], "rank_from": before.get("rank"),
                          "rank_to": after["rank"], "view_from": view_from, "view_to": view_to,
                          "score_from": score_from, "score_to": score_to,
                          "status_from": before.get("status"), "status_to": after.get("status"),
                          "organisation": after["organisation"]})
    return field_changes, moves


def changed_view(move: dict[str, Any]) -> bool:
    """Tell whether a move is a project ranked in both snapshots, in another view now."""
    return None not in (move["view_from"], move["view_to"]) and (
        move["view_from"] != move["view_to"])


def _difference(a: Any, b: Any, digits: int | None = None) -> Any:
    """Return b - a (rounded), or None when either is missing."""
    if a is None or b is None:
        return None
    return b - a if digits is None else round(b - a, digits)


def _causes(slug: str, shared: list[str], touched: set[str], data_touched: set[str]) -> list[str]:
    """Say why a project moved: shared changes first, then its own or its datasets'."""
    own = [cause for cause, hit in (("project", slug in touched),
                                    ("datasets", slug in data_touched)) if hit]
    return [*shared, *(own or ["other projects"])]


def diff_contents(old: SnapshotContent, new: SnapshotContent) -> dict[str, Any]:
    """Compare two snapshots: projects, fields, ranks, scores, and weight or method changes."""
    old_meta, new_meta = old.meta, new.meta
    read = _read_side_by_side(old, new)
    tables = read.tables
    method_changed = old_meta["method_version"] != new_meta["method_version"]
    criteria_changed = bool(sum(len(v) for v in tables["criteria"].values()))
    weight_changes = _weight_changes(read)
    old_profile, new_profile = old_meta["profile"], new_meta["profile"]
    profile_changed = (old_profile["name"], old_profile["version"]) != (
        new_profile["name"], new_profile["version"])
    weights_changed = bool(weight_changes) or profile_changed

    touched = _projects_touched(tables)
    data_touched = _projects_using(new, {d["code"] for d in tables["datasets"]["changed"]})
    added = [s for s in read.new_projects if s not in read.old_projects]
    removed = [s for s in read.old_projects if s not in read.new_projects]
    field_changes, moves = _field_changes_and_moves(read, touched)
    shared = [cause for cause, hit in (("method", method_changed), ("weights", weights_changed),
                                       ("criteria", criteria_changed)) if hit]
    for move in moves:
        # Ranks in two views are places in two lists: their difference is no move.
        move["rank_change"] = (_difference(move["rank_to"], move["rank_from"])
                               if not changed_view(move) else None)
        move["score_change"] = _difference(move["score_from"], move["score_to"], SCORE_DECIMALS)
        move["causes"] = _causes(move["slug"], shared, touched, data_touched)
    # A move between views first (a project started, or stopped: what shifted the others'
    # ranks by one), then the largest rank moves, then a score's.
    moves.sort(key=lambda m: (not changed_view(m), -abs(m["rank_change"] or 0),
                              m["rank_to"] or 10**9, m["slug"]))
    new_names = organisation_names(new) if added or moves or field_changes else {}
    old_names = organisation_names(old) if removed else {}
    for item in (*moves, *field_changes):
        item["organisation_name"] = new_names.get(item["organisation"], item["organisation"])
    return {
        "from": _content_summary(old), "to": _content_summary(new),
        "method": {"changed": method_changed, "from": old_meta["method_version"],
                   "to": new_meta["method_version"]},
        "weights": {"changed": weights_changed, "profile_changed": profile_changed,
                    "from": f"{old_profile['name']} v{old_profile['version']}",
                    "to": f"{new_profile['name']} v{new_profile['version']}",
                    "changes": weight_changes},
        "criteria": {"changed": criteria_changed, **tables.pop("criteria")},
        "projects": {
            "added": [_brief(read.new_projects[s], new_names) for s in added],
            "removed": [_brief(read.old_projects[s], old_names) for s in removed],
            "changed": field_changes,
        },
        "rank_moves": moves,
        "tables": tables,
        "note": _note(method_changed, weights_changed, criteria_changed),
    }


def organisation_names(content: SnapshotContent) -> dict[str, str]:
    """Return the snapshot's organisation names by code (its first table: quick to read)."""
    data = content.table("organisations")
    code, name = data.columns.index("code"), data.columns.index("name")
    return {row[code]: row[name] for row in data.rows}


def _brief(project: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {"slug": project["slug"], "title": project["title"],
            "organisation": project["organisation"],
            "organisation_name": names.get(project["organisation"], project["organisation"]),
            "rank": project["rank"], "score": shown_score(project["score"])}


def _projects_touched(tables: dict[str, dict[str, list[dict[str, Any]]]]) -> set[str]:
    """Return the projects whose links, dependencies, partners or assessments changed."""
    touched: set[str] = set()
    for name in ("links", "dependencies", "partners", "assessments"):
        for kind in ("added", "removed", "changed"):
            touched.update(item["project"] for item in tables[name][kind])
    return touched


def _projects_using(content: SnapshotContent, datasets: set[str]) -> set[str]:
    """Return the projects linked to any of these datasets."""
    if not datasets:
        return set()
    data = content.table("links")
    project, dataset = data.columns.index("project"), data.columns.index("dataset")
    return {row[project] for row in data.rows if row[dataset] in datasets}


def _note(method: bool, weights: bool, criteria: bool) -> str:
    reasons = [w for w, on in (("the scoring method", method), ("the weights", weights),
                               ("the criteria", criteria)) if on]
    if not reasons:
        return "Same method, weights and criteria: rank moves come from changes to the portfolio."
    return ("Changed between the snapshots: " + " and ".join(reasons) + ". Ranks may have moved "
            "because of that, not because the projects changed; each move lists its causes.")


def _content_summary(content: SnapshotContent) -> dict[str, Any]:
    meta = content.meta
    return {"id": content.id, "label": meta["label"], "created_at": meta["created_at"],
            "content_hash": content.content_hash, "method_version": meta["method_version"],
            "profile": meta["profile"]["name"], "profile_version": meta["profile"]["version"],
            "revision": meta["revision"]}


def diff_snapshots(*, session: Session, actor: Actor | None, old_id: int,
                   new_id: int) -> dict[str, Any]:
    """Compare two stored snapshots (old first).

    Users' emails in the rows of the other tables (an assessment's assessor) only for a reader
    who may see contacts; an anonymous visitor (public read) gets null in their place.
    """
    old = load_content(session=session, snapshot_id=old_id)
    new = load_content(session=session, snapshot_id=new_id)
    return _without_contacts(diff_contents(old, new), actor)


def _without_contacts(diff: dict[str, Any], actor: Actor | None) -> dict[str, Any]:
    """Blank the email columns of the tables' added, removed and changed rows for a reader
    who may not see contacts."""
    for table, columns in CONTACT_COLUMNS.items():
        for rows in diff["tables"].get(table, {}).values():
            for row in rows:
                for name in columns:
                    if name in row:
                        row[name] = contact(actor, row[name])
                    if name in row.get("fields", {}):
                        row["fields"][name] = {side: contact(actor, value) for side, value
                                               in row["fields"][name].items()}
    return diff
