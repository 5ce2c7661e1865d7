"""The portfolio over time, read from its snapshots, and what changed since the last one."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlmodel import col

from portfolio.db import Database
from portfolio.enums import ProjectStatus, ReadinessLevel, Theme
from portfolio.errors import NotFound
from portfolio.models import Organisation, Project, Snapshot
from portfolio.services.common import consistent_read
from portfolio.services.reviews import aware
from portfolio.services.snapshots import iso_time, load_content

# Charts read at most this many snapshots, the newest: each is inflated once and then kept.
MAX_SNAPSHOTS = 24


def _snapshot_ids(db: Database) -> list[tuple[int, str, str]]:
    """Return (id, label, created_at) of the newest snapshots, oldest first."""
    with db.read() as session:
        rows = cast(list[tuple[int, str, datetime]], session.execute(
            select(col(Snapshot.id), col(Snapshot.label), col(Snapshot.created_at))
            .order_by(col(Snapshot.id).desc()).limit(MAX_SNAPSHOTS)).all())
    return [(sid, label, iso_time(at)) for sid, label, at in reversed(rows)]


def _facts(db: Database, snapshot_id: int) -> dict[str, Any]:
    """Read what the charts need from one snapshot; snapshots never change, so keep it."""
    def read() -> dict[str, Any]:
        with db.read() as session:
            content = load_content(session=session, snapshot_id=snapshot_id)
        projects = content.records("projects")
        datasets = content.records("datasets")
        status: dict[str, int] = {}
        value: dict[str, float] = {}
        for p in projects:
            status[p["status"]] = status.get(p["status"], 0) + 1
            if p["status"] not in ("delivered", "rejected") and p.get("score") is not None:
                value[p["theme"]] = value.get(p["theme"], 0.0) + float(p["score"])
        readiness: dict[str, int] = {}
        for d in datasets:
            level = d.get("drl") or "unknown"
            readiness[level] = readiness.get(level, 0) + 1
        ranks = {p["slug"]: (p.get("rank"), p.get("score"), p["status"]) for p in projects}
        standing: dict[str, int] = {}
        try:
            agreements = content.records("agreements")
        except NotFound:  # taken before the agreements register
            agreements = []
        for a in agreements:
            standing[a["standing"]] = standing.get(a["standing"], 0) + 1
        return {"status": status, "value": value, "readiness": readiness, "ranks": ranks,
                "agreements": standing,
                "profile": content.meta["profile"]["name"]}

    return db.memo.get_or_compute(("snapshot facts", snapshot_id), read)


def portfolio_over_time(db: Database) -> dict[str, Any]:
    """Return per snapshot: projects by status, value by theme, datasets by readiness level."""
    snapshots = _snapshot_ids(db)
    facts = [_facts(db, sid) for sid, _, _ in snapshots]

    def series(kind: str, keys: list[str]) -> list[dict[str, Any]]:
        present = [k for k in keys if any(f[kind].get(k) for f in facts)]
        return [{"key": k, "values": [f[kind].get(k, 0) for f in facts]} for k in present]

    return {
        "snapshots": [{"id": sid, "label": label, "created_at": at, "profile": f["profile"]}
                      for (sid, label, at), f in zip(snapshots, facts, strict=True)],
        "status": series("status", [s.value for s in ProjectStatus]),
        "value": series("value", [t.value for t in Theme]),
        "readiness": series("readiness", [r.value for r in ReadinessLevel] + ["unknown"]),
        "agreements": series("agreements", ["drafting", "signed", "expired"]),
    }


def project_over_time(db: Database, slug: str) -> dict[str, Any]:
    """Return a project's rank, score and status in each snapshot that holds it."""
    with db.read() as session:
        title = session.execute(
            select(col(Project.title)).where(col(Project.slug) == slug)).scalar()
    if title is None:
        raise NotFound("project", slug)
    points = []
    for sid, label, at in _snapshot_ids(db):
        found = _facts(db, sid)["ranks"].get(slug)
        if found is not None:
            rank, score, status = found
            points.append({"id": sid, "label": label, "created_at": at, "rank": rank,
                           "score": None if score is None or math.isnan(score) else score,
                           "status": status})
    return {"slug": slug, "title": title, "points": points}


def changes_since_last_snapshot(db: Database) -> dict[str, Any]:
    """Compare the live portfolio with the newest snapshot: added, removed, moved on."""
    snapshots = _snapshot_ids(db)
    if not snapshots:
        return {"snapshot": None, "added": [], "removed": [], "status_changed": [],
                "archived": []}
    sid, label, at = snapshots[-1]
    then = _facts(db, sid)["ranks"]
    with db.read() as session:
        consistent_read(session)
        rows = cast(list[tuple[str, str, str, str, Any]], session.execute(
            select(col(Project.slug), col(Project.title), col(Project.status),
                   col(Organisation.name), col(Project.archived_at))
            .join(Organisation, col(Organisation.id) == col(Project.owner_id))).all())
    live = {slug: (title, status, org) for slug, title, status, org, _ in rows}
    # A snapshot keeps every project, archived or not: archiving since shows by its time.
    since = aware(datetime.fromisoformat(at))
    archived = sorted(({"slug": slug, "title": title} for slug, title, _s, _o, when in rows
                       if when is not None and aware(when) >= since),
                      key=lambda a: a["title"])
    added = sorted((s for s in live if s not in then), key=lambda s: live[s][0])
    removed = sorted(s for s in then if s not in live)
    moved = sorted(({"slug": s, "title": live[s][0], "from": then[s][2], "to": live[s][1]}
                    for s in live if s in then and then[s][2] != live[s][1]),
                   key=lambda m: m["title"])
    return {
        "snapshot": {"id": sid, "label": label, "created_at": at},
        "added": [{"slug": s, "title": live[s][0], "organisation": live[s][2]} for s in added],
        "removed": removed, "status_changed": moved, "archived": archived,
    }

