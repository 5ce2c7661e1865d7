"""Snapshot use cases: create (with its quota), list, get, load and verify."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from portfolio.actors import SYSTEM, Actor
from portfolio.capabilities import Capability, can, contact, require
from portfolio.db import Database
from portfolio.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from portfolio.models import (
    AuditEvent,
    Snapshot,
    SnapshotBody,
    SnapshotExport,
    User,
)
from portfolio.schemas import ROW_ID_MAX
from portfolio.services.common import consistent_read, current_revision, one_at_a_time
from portfolio.services.frames import load_profile
from portfolio.services.ranking import ROBUSTNESS_SEED, RunInfo, ensure_ranking
from portfolio.services.snapshots.content import SnapshotContent
from portfolio.services.snapshots.schema import LABEL_MAX, QUOTA_WINDOW, SOURCE_TITLE
from portfolio.services.snapshots.writer import PayloadWriter, iso_time, write_tables
from portfolio.text import control_problem


def _clean_label(label: str) -> str:
    if problem := control_problem(label or ""):
        raise Invalid({"label": problem})
    text = " ".join((label or "").split())
    if not text:
        raise Invalid({"label": "give the snapshot a label"})
    if len(text) > LABEL_MAX:
        raise Invalid({"label": f"at most {LABEL_MAX} characters"})
    return text


def build_content(db: Database, *, actor: Actor, label: str, profile: str | None = None,
                  at: datetime | None = None, tables: Collection[str] | None = None,
                  ) -> tuple[SnapshotContent, RunInfo]:
    """Serialise the portfolio, its weights and its current ranking, without storing them.

    With `tables`, only those tables are written (a live export of one table): the content is
    then not complete, and its hash is not the portfolio's.
    """
    label = _clean_label(label)
    for _attempt in range(3):
        run = ensure_ranking(db, profile)
        with db.read() as session:
            consistent_read(session)
            stored = load_profile(session, run.profile)
            if current_revision(session) != run.revision or stored.version != run.profile_version:
                continue  # a write landed after the ranking was computed: rank again
            moment = (at or datetime.now(UTC)).replace(microsecond=0)
            writer = PayloadWriter(tables)
            writer.header({
                "label": label,
                "author": actor.email,
                "created_at": iso_time(moment),
                "profile": {"name": stored.name, "version": stored.version,
                            "description": stored.description},
                "method_version": run.method_version,
                "revision": run.revision,
                "ranking": {"samples": run.samples, "top_k": run.top_k,
                            "seed": ROBUSTNESS_SEED},
                "source": SOURCE_TITLE,
            })
            write_tables(session, writer, run, stored.id)
        return writer.finish(), run
    raise Conflict("the portfolio kept changing while the snapshot was being taken; try again")


class QuotaExceeded(DomainError):
    """A user has taken as many snapshots as a day allows."""

    status_code = 429

    def __init__(self, quota: int, retry_after: int) -> None:
        super().__init__(
            "this portfolio allows no snapshots a day (PORTFOLIO_SNAPSHOTS_PER_USER_PER_DAY is "
            f"{quota}); ask an administrator" if quota <= 0 else
            f"you have taken {quota} snapshots in the last 24 hours, the most a day allows; "
            f"try again in {max(1, retry_after // 60)} minutes")
        self.retry_after = retry_after


def check_quota(session: Session, actor: Actor, quota: int) -> None:
    """Refuse a user's snapshot past their daily quota (the system's own are not counted)."""
    if actor.id is None:
        return
    # A user's snapshots are counted one at a time: two at once each counted one fewer.
    one_at_a_time(session, f"snapshots of user {actor.id}")
    now = datetime.now(UTC)
    taken, oldest = cast(tuple[int, datetime | None], session.execute(
        select(func.count(), func.min(col(Snapshot.created_at)))
        .where(col(Snapshot.author_id) == actor.id, col(Snapshot.created_at) > now - QUOTA_WINDOW)
    ).one())
    if taken >= quota:
        if oldest is None:  # a quota of none: the first is refused for a whole window
            raise QuotaExceeded(quota, int(QUOTA_WINDOW.total_seconds()))
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        raise QuotaExceeded(quota, int((oldest + QUOTA_WINDOW - now).total_seconds()) + 1)


Kept = dict[str, tuple[int, bytes, int]]


def store_body(session: Session, content: SnapshotContent, kept: Kept | None = None) -> bool:
    """Store a snapshot's tables under their hash unless already kept; tell whether stored.

    `kept` are exports written from these tables (name -> version, zlib bytes, size), stored
    with them.
    """
    if session.get(SnapshotBody, content.body_hash) is not None:
        return False
    size = (content.size or 0) - len(content.header)
    session.add(SnapshotBody(body_hash=content.body_hash, payload=content.body,
                             payload_bytes=size))
    session.flush()
    for name, (version, payload, written) in (kept or {}).items():
        session.add(SnapshotExport(body_hash=content.body_hash, name=name, version=version,
                                   payload=payload, size=written))
    session.flush()
    return True


def _kept_exports(db: Database, content: SnapshotContent) -> Kept:
    """Return the exports to keep with new tables (none when the tables are stored already)."""
    with db.read() as session:
        if session.get(SnapshotBody, content.body_hash) is not None:
            return {}
    # Exports read snapshots: imported here, where a snapshot's new tables are written.
    from portfolio.services.exports.kept import kept_exports
    return kept_exports(content)


def _store(db: Database, actor: Actor, content: SnapshotContent, run: RunInfo,
           quota: int, kept: Kept | None = None) -> int:
    """Store a snapshot's row (and its tables, unless kept already); return its id."""
    meta = content.meta
    with db.write() as session:
        check_quota(session, actor, quota)
        store_body(session, content, kept)
        row = Snapshot(
            label=meta["label"], author_id=actor.id, author=actor.email,
            created_at=content.created_at, profile_name=run.profile,
            profile_version=run.profile_version, method_version=run.method_version,
            revision=run.revision, content_hash=content.content_hash,
            header=content.header, body_hash=content.body_hash,
            payload_bytes=content.size or 0, row_counts=content.row_counts,
        )
        session.add(row)
        session.flush()
        # A snapshot changes no project, so it leaves the portfolio revision alone.
        session.add(AuditEvent(actor_id=actor.id, action="create", entity="snapshot",
                               entity_id=row.id,
                               after={"label": row.label, "content_hash": row.content_hash}))
        return int(row.id or 0)


def create_snapshot(db: Database, *, actor: Actor, label: str,
                    profile: str | None = None) -> dict[str, Any]:
    """Freeze the portfolio, the weight profile, the method version and the ranking.

    Each user may take `snapshots_per_user_per_day` (settings) in any 24 hours. The tables
    are stored once per body hash, so a snapshot of an unchanged portfolio adds only its row.
    """
    require(actor, Capability.CREATE_SNAPSHOT)
    quota = db.settings.snapshots_per_user_per_day
    with db.read() as session:
        check_quota(session, actor, quota)  # before the work of serialising the portfolio
    content, run = build_content(db, actor=actor, label=label, profile=profile)
    # Written before the write transaction: at 100,000 projects the CSV takes most of a second.
    kept = _kept_exports(db, content)
    snapshot_id = None
    # Two at once may store the same tables: the second's write fails, and its retry finds them.
    for _attempt in range(2):
        try:
            snapshot_id = _store(db, actor, content, run, quota, kept)
            break
        except IntegrityError:
            # The same label, author, second and content: that snapshot already exists.
            with db.read() as session:
                snapshot_id = session.execute(select(col(Snapshot.id)).where(
                    col(Snapshot.content_hash) == content.content_hash)).scalar()
            if snapshot_id is not None:
                break
    if snapshot_id is None:
        raise Conflict("the snapshot could not be stored; try again")
    with db.read() as session:
        return get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)


SUMMARY_COLUMNS: tuple[Any, ...] = (
    col(Snapshot.id), col(Snapshot.label), col(Snapshot.author), col(Snapshot.created_at),
    col(Snapshot.profile_name), col(Snapshot.profile_version), col(Snapshot.method_version),
    col(Snapshot.revision), col(Snapshot.content_hash), col(Snapshot.payload_bytes),
    col(Snapshot.row_counts), col(Snapshot.body_hash), col(User.name).label("author_name"))


def _summaries(where: Any = None) -> Any:
    """Select snapshots' summaries with their authors' names (a removed author: none)."""
    query = select(*SUMMARY_COLUMNS).outerjoin(User, col(User.id) == col(Snapshot.author_id))
    return query if where is None else query.where(where)


def _summary(row: Any, actor: Actor | None) -> dict[str, Any]:
    """Return a snapshot's summary; its author's email only for a reader who may see contacts
    (an anonymous visitor, where reading is public, gets the author's name)."""
    return {
        "id": row.id, "label": row.label, "author": contact(actor, row.author),
        "author_name": row.author_name or contact(actor, row.author) or "a former user",
        "created_at": iso_time(row.created_at), "profile": row.profile_name,
        "profile_version": row.profile_version, "method_version": row.method_version,
        "revision": row.revision, "content_hash": row.content_hash,
        "bytes": row.payload_bytes, "row_counts": row.row_counts, "body_hash": row.body_hash,
    }


def list_snapshots(*, session: Session, actor: Actor | None) -> list[dict[str, Any]]:
    """List snapshots, newest first (without their payloads)."""
    rows = session.execute(_summaries().order_by(col(Snapshot.id).desc())).all()
    return [_summary(row, actor) for row in rows]


def get_snapshot(*, session: Session, actor: Actor | None, snapshot_id: int) -> dict[str, Any]:
    """Return one snapshot's summary."""
    row = session.execute(_summaries(col(Snapshot.id) == snapshot_id)).first()
    if row is None:
        raise NotFound("snapshot", snapshot_id)
    return _summary(row, actor)


def content_to_download(*, session: Session, actor: Actor | None,
                        snapshot_id: int) -> SnapshotContent:
    """Return a stored snapshot's content, with its kept exports, for a download.

    A snapshot's tables name assessors and uploaders by email and its first line its author,
    so a download needs a reader who may see contacts: signed in, even where reading is public
    (as the live export and attached documents do).
    """
    if not can(actor, Capability.SEE_CONTACTS):
        raise NotAllowed("sign in to download snapshots: they hold users' email addresses")
    return load_content(session=session, snapshot_id=snapshot_id, kept=True)


def load_content(*, session: Session, snapshot_id: int, kept: bool = False) -> SnapshotContent:
    """Return a stored snapshot's content for export or comparison.

    With `kept`, the exports kept with its tables come too (an export sends them; a comparison
    or a chart has no use for megabytes of CSV).
    """
    if not 1 <= snapshot_id <= ROW_ID_MAX:
        # No snapshot has it (the comparison's ids come from the query string, unbounded);
        # past the bigint range the driver refused it with a 500.
        raise NotFound("snapshot", snapshot_id)
    row = session.execute(
        select(col(Snapshot.header), col(SnapshotBody.payload), col(Snapshot.content_hash),
               col(Snapshot.body_hash), col(Snapshot.row_counts))
        .join(SnapshotBody, col(SnapshotBody.body_hash) == col(Snapshot.body_hash))
        .where(col(Snapshot.id) == snapshot_id)
    ).first()
    if row is None:
        raise NotFound("snapshot", snapshot_id)
    copies = session.execute(
        select(col(SnapshotExport.name), col(SnapshotExport.version), col(SnapshotExport.payload))
        .where(col(SnapshotExport.body_hash) == row.body_hash)).all() if kept else []
    return SnapshotContent(header=bytes(row.header), body=bytes(row.payload),
                           content_hash=row.content_hash, body_hash=row.body_hash,
                           id=snapshot_id, row_counts=dict(row.row_counts or {}),
                           kept={str(name): (int(version), bytes(payload))
                                 for name, version, payload in cast(list[Any], copies)})


def verify_snapshot(*, session: Session, actor: Actor | None,
                    snapshot_id: int) -> dict[str, Any]:
    """Recompute a snapshot's hash and check its recorded facts against its payload."""
    # The recorded author (an email) is compared whoever reads; only the words redact it.
    summary = get_snapshot(session=session, actor=SYSTEM, snapshot_id=snapshot_id)
    content = load_content(session=session, snapshot_id=snapshot_id, kept=True)
    problems: list[str] = []
    digest, body_digest = hashlib.sha256(), hashlib.sha256()
    try:
        for chunk in content.canonical_bytes():
            digest.update(chunk)
            if chunk is not content.header:
                body_digest.update(chunk)
        meta = content.meta
    except (zlib.error, ValueError, KeyError) as exc:
        return {"id": snapshot_id, "valid": False, "content_hash": summary["content_hash"],
                "computed_hash": None, "problems": [f"the payload cannot be read: {exc}"]}
    computed = digest.hexdigest()
    if computed != summary["content_hash"]:
        problems.append("the payload does not match its content hash")
    if body_digest.hexdigest() != content.body_hash:
        problems.append("the stored tables do not match their body hash")
    problems += _kept_problems(content)
    recorded = {"label": summary["label"], "author": summary["author"],
                "created_at": summary["created_at"], "method_version": summary["method_version"],
                "revision": summary["revision"], "profile": summary["profile"],
                "profile_version": summary["profile_version"]}
    sealed = {"label": meta["label"], "author": meta["author"],
              "created_at": meta["created_at"], "method_version": meta["method_version"],
              "revision": meta["revision"], "profile": meta["profile"]["name"],
              "profile_version": meta["profile"]["version"]}
    for key, value in recorded.items():
        if sealed[key] != value and key == "author" and contact(actor, value) is None:
            problems.append("author is recorded differently from the sealed payload")
        elif sealed[key] != value:
            problems.append(f"{key} is recorded as {value!r} but the sealed payload says "
                            f"{sealed[key]!r}")
    return {"id": snapshot_id, "valid": not problems, "content_hash": summary["content_hash"],
            "computed_hash": computed, "problems": problems}


def _kept_problems(content: SnapshotContent) -> list[str]:
    """Return how the exports kept with a snapshot's tables differ from writing them afresh."""
    from portfolio.services.exports.kept import KEPT_VERSION, KEPT_WRITERS, inflated

    problems = []
    for name, (version, payload) in sorted(content.kept.items()):
        if version != KEPT_VERSION:
            continue  # never sent: the export is written afresh instead
        write = KEPT_WRITERS.get(name)
        if write is None:
            problems.append(f"the kept {name} is not an export this program keeps")
            continue
        try:
            same = _same_bytes(inflated(payload), write(content))
        except (zlib.error, ValueError):
            same = False
        if not same:
            problems.append(f"the kept {name} does not match the snapshot's tables")
    return problems


def _same_bytes(kept: Iterator[bytes], written: Iterator[bytes]) -> bool:
    """Tell whether two streams of chunks hold the same bytes (chunked differently)."""
    one, other = hashlib.sha256(), hashlib.sha256()
    for chunk in kept:
        one.update(chunk)
    for chunk in written:
        other.update(chunk)
    return one.digest() == other.digest()
