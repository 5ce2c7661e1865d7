"""Documents attached to a project or a data-sharing agreement.

One table serves every owner kind: `OWNERS` maps a kind to how its records are found by
reference (a project's slug) and which organisation they belong to, for permissions. The
bytes live on disk under their sha256 (`portfolio.documents.FileStore`); the database keeps
the name, type, size, hash, who and when. Uploading and removing are audited.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, contact, refusal, require
from portfolio.db import Database
from portfolio.documents import (
    FileStore,
    clean_filename,
    content_hash,
    identify,
    megabytes,
    refuse,
)
from portfolio.enums import AttachmentOwner, DocumentKind
from portfolio.errors import Invalid, NotAllowed, NotFound
from portfolio.models import Attachment, Organisation, Project, SharingAgreement, User
from portfolio.services.agreements import agreement_by_code, may_manage, party_ids
from portfolio.services.common import one_at_a_time, project_by_slug, record

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    """The record a document is attached to."""

    kind: str
    id: int
    ref: str  # how URLs and snapshots name it (a project's slug)
    title: str
    organisation_id: int  # whose it is: who may attach to it
    party_ids: frozenset[int] = frozenset()  # an agreement's parties: any of them may attach

    @property
    def owner_id(self) -> int:
        """Name the owning organisation the way capabilities look for it."""
        return self.organisation_id


def _project(session: Session, ref: str) -> Owner:
    project = project_by_slug(session, ref)
    return Owner(AttachmentOwner.PROJECT.value, int(project.id or 0), project.slug,
                 project.title, project.owner_id)


def _project_refs(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(col(Project.id), col(Project.slug))
                           .where(col(Project.id).in_(ids))).tuples().all()
    return {int(i): str(slug) for i, slug in rows}


def _agreement(session: Session, ref: str) -> Owner:
    agreement = agreement_by_code(session, ref)
    parties = frozenset(party_ids(session, int(agreement.id or 0)))
    return Owner(AttachmentOwner.AGREEMENT.value, int(agreement.id or 0), agreement.code,
                 agreement.title, min(parties, default=0), parties)


def _agreement_refs(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(col(SharingAgreement.id), col(SharingAgreement.code))
                           .where(col(SharingAgreement.id).in_(ids))).tuples().all()
    return {int(i): str(code) for i, code in rows}


def _may_attach_to_project(actor: Actor | None, owner: Owner) -> bool:
    return can(actor, Capability.ATTACH_DOCUMENT, owner)


def _may_attach_to_agreement(actor: Actor | None, owner: Owner) -> bool:
    # Those who may edit the agreement: staff, or a lead of an organisation party to it.
    return can(actor, Capability.ATTACH_DOCUMENT) and may_manage(actor, set(owner.party_ids))


@dataclass(frozen=True)
class OwnerKind:
    """How to find the records of one owner kind, and who may attach to them."""

    find: Callable[[Session, str], Owner]
    refs: Callable[[Session, set[int]], dict[int, str]]
    may_attach: Callable[[Actor | None, Owner], bool]
    whose: str  # what a refused actor may not attach to ("documents to agreements …")
    among: str | None = None  # whose members may, where not the owner's (refusal)


OWNERS: dict[str, OwnerKind] = {
    AttachmentOwner.PROJECT.value: OwnerKind(_project, _project_refs, _may_attach_to_project,
                                             ""),
    AttachmentOwner.AGREEMENT.value: OwnerKind(
        _agreement, _agreement_refs, _may_attach_to_agreement,
        "documents to agreements their organisation is not party to",
        "a party to the agreement"),
}


def may_attach(actor: Actor | None, owner: Owner) -> bool:
    """Tell whether the actor may attach documents to (and remove them from) a record."""
    return OWNERS[owner.kind].may_attach(actor, owner)


def why_not(actor: Actor, owner: Owner) -> str:
    """Say why an actor may not attach documents to a record, and who may."""
    kind = OWNERS[owner.kind]
    return refusal(actor, Capability.ATTACH_DOCUMENT, owner,
                   f"attach or remove {kind.whose}" if kind.whose else None, among=kind.among)


def require_attach(actor: Actor, owner: Owner) -> None:
    """Refuse, naming who may, unless the actor may attach documents to the record."""
    if not may_attach(actor, owner):
        raise NotAllowed(why_not(actor, owner))


def find_owner(session: Session, kind: str, ref: str) -> Owner:
    """Return the record of a kind by its reference, or raise NotFound."""
    if kind not in OWNERS:
        raise NotFound("kind of record", kind)
    return OWNERS[kind].find(session, ref)


def store(db: Database) -> FileStore:
    """Return the file store the settings name."""
    return FileStore(Path(db.settings.attachments_dir))


def _record(row: Attachment, ref: str) -> dict[str, Any]:
    return {"id": row.id, "owner_kind": row.owner_kind, "owner": ref, "kind": row.kind,
            "filename": row.filename, "media_type": row.media_type,
            "size_bytes": row.size_bytes, "sha256": row.sha256,
            "uploaded_by": row.uploaded_by, "uploaded_at": row.uploaded_at}


def _parse_kind(kind: str) -> str:
    if kind not in {k.value for k in DocumentKind}:
        raise Invalid({"kind": "choose what the document is: business case, DPIA, agreement "
                               "or other"})
    return kind


def refuse_too_large(db: Database, *, actor: Actor, owner_kind: str, ref: str) -> NoReturn:
    """Refuse an upload too large to be read at all, once who may attach is checked."""
    with db.read() as session:
        owner = find_owner(session, owner_kind, ref)
    require_attach(actor, owner)
    # The words `identify` gives a file just over the limit: the page says the same of both.
    raise refuse(f"the file is larger than {megabytes(db.settings.attachment_max_bytes)}, "
                 "the most a document may be")


def attach(db: Database, *, actor: Actor, owner_kind: str, ref: str, kind: str, filename: str,
           data: bytes) -> dict[str, Any]:
    """Check an upload from its content, keep its bytes by hash and record it; all or nothing."""
    with db.read() as session:
        owner = find_owner(session, owner_kind, ref)
    require_attach(actor, owner)
    errors: dict[str, str] = {}
    try:
        kind = _parse_kind(kind)
    except Invalid as exc:
        errors |= exc.errors
    try:
        name = clean_filename(filename)
        found = identify(data, name, max_bytes=db.settings.attachment_max_bytes)
    except Invalid as exc:
        errors |= exc.errors
    if errors:
        raise Invalid(errors)
    digest = content_hash(data)
    with db.read() as session:
        same = session.execute(select(col(Attachment.filename)).where(
            col(Attachment.owner_kind) == owner.kind, col(Attachment.owner_id) == owner.id,
            col(Attachment.sha256) == digest)).scalar()
    if same is not None:
        raise refuse(f"this document is already attached, as {same}")
    files = store(db)
    existed = files.exists(digest)
    files.put(data)
    try:
        with db.write() as session:
            # A removal of the same bytes elsewhere, deciding meanwhile that no row used them,
            # may have deleted the file just stored: in turn with it, the file is made sure of.
            one_at_a_time(session, _file_lock(digest))
            if not files.exists(digest):
                files.put(data)
            row = Attachment(owner_kind=owner.kind, owner_id=owner.id, kind=kind, filename=name,
                             media_type=found.media_type, size_bytes=len(data), sha256=digest,
                             uploaded_by_id=actor.id, uploaded_by=actor.email)
            session.add(row)
            session.flush()
            record(session, actor, action="create", entity="attachment", entity_id=row.id,
                   project_id=owner.id if owner.kind == AttachmentOwner.PROJECT else None,
                   after=_audited(row, owner))
            made = _record(row, owner.ref)
    except BaseException:
        if not existed:
            # The upload's own failure is the one to report; a file left over harms nothing.
            with contextlib.suppress(Exception):
                _discard_unused(db, digest)
        raise
    return made


def _audited(row: Attachment, owner: Owner) -> dict[str, Any]:
    return {"owner_kind": owner.kind, "owner": owner.ref, "filename": row.filename,
            "kind": row.kind, "sha256": row.sha256, "size_bytes": row.size_bytes}


def list_attachments(*, session: Session, actor: Actor | None, owner_kind: str,
                     ref: str) -> list[dict[str, Any]]:
    """Return the documents attached to a record, newest first.

    The uploader's email only for a reader who may see contacts (`contact`): anonymous
    visitors, where reading is public, get the uploader's name and null.
    """
    owner = find_owner(session, owner_kind, ref)
    rows = session.execute(select(Attachment, col(User.name)).outerjoin(
        User, col(User.id) == col(Attachment.uploaded_by_id)).where(
        col(Attachment.owner_kind) == owner.kind, col(Attachment.owner_id) == owner.id)
        .order_by(col(Attachment.id).desc())).tuples().all()
    # People read names; the email stays as recorded (a user may be renamed or removed).
    return [_record(row, owner.ref) | {
        "uploaded_by": contact(actor, row.uploaded_by),
        "uploaded_by_name": name or contact(actor, row.uploaded_by) or "a former user"}
        for row, name in rows]


@dataclass(frozen=True)
class Download:
    """A document ready to send: its record and the path of its bytes."""

    record: dict[str, Any]
    path: Path
    owner: Owner


def _load(session: Session, attachment_id: int) -> tuple[Attachment, Owner]:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("document", attachment_id)
    ref = OWNERS[row.owner_kind].refs(session, {row.owner_id}).get(row.owner_id)
    if ref is None:
        raise NotFound("document", attachment_id)
    return row, find_owner(session, row.owner_kind, ref)


def open_attachment(db: Database, *, actor: Actor | None, attachment_id: int) -> Download:
    """Return a document for a signed-in reader of its record."""
    if actor is None:
        # Business cases and DPIAs are for colleagues, even where the portfolio is public.
        raise NotAllowed("sign in to download documents")
    with db.read() as session:
        row, owner = _load(session, attachment_id)
    require(actor, Capability.READ, owner)
    path = store(db).path(row.sha256)
    if not path.exists():
        raise NotFound("document file", row.filename)
    return Download(_record(row, owner.ref), path, owner)


def remove_attachment(db: Database, *, actor: Actor, attachment_id: int) -> dict[str, Any]:
    """Remove a document from its record (audited); its file goes when nothing refers to it."""
    with db.write() as session:
        row, owner = _load(session, attachment_id)
        require_attach(actor, owner)
        removed = _record(row, owner.ref)
        record(session, actor, action="delete", entity="attachment", entity_id=row.id,
               project_id=owner.id if owner.kind == AttachmentOwner.PROJECT else None,
               before=_audited(row, owner))
        session.delete(row)
    try:
        _discard_unused(db, removed["sha256"])
    except Exception:  # noqa: BLE001 - the removal stands; a file left over harms nothing
        LOG.warning("document file %s kept after its removal", removed["sha256"], exc_info=True)
    return removed


def _discard_unused(db: Database, digest: str) -> None:
    """Delete a document's file when no attachment refers to its hash any more.

    Counted and deleted in a write transaction taken in turn with an upload's (`attach`): an
    upload of the same bytes not yet committed either commits first, and is counted, or finds
    its file gone and stores it again.
    """
    with db.write() as session:
        one_at_a_time(session, _file_lock(digest))
        used = session.execute(select(func.count()).select_from(Attachment)
                               .where(col(Attachment.sha256) == digest)).scalar()
        if not used:
            store(db).discard(digest)


def _file_lock(digest: str) -> str:
    """Return the name of the lock an upload and a removal of the same bytes take in turn."""
    return f"document file {digest}"


def snapshot_rows(session: Session) -> Iterator[list[Any]]:
    """Yield the snapshot's attachments rows (names and hashes, never contents), by key."""
    rows: list[Any] = list(session.execute(select(
        col(Attachment.owner_kind), col(Attachment.owner_id), col(Attachment.filename),
        col(Attachment.sha256), col(Attachment.kind), col(Attachment.media_type),
        col(Attachment.size_bytes), col(Attachment.uploaded_by),
        col(Attachment.uploaded_at))).all())
    refs: dict[tuple[str, int], str] = {}
    for kind in {r[0] for r in rows}:
        ids = {r[1] for r in rows if r[0] == kind}
        refs |= {(kind, i): ref for i, ref in OWNERS[kind].refs(session, ids).items()}
    out = [[kind, refs[(kind, owner_id)], *rest] for kind, owner_id, *rest in rows
           if (kind, owner_id) in refs]
    # Code-point order on the key, as every snapshot table.
    out.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    yield from out


def organisation_name(session: Session, organisation_id: int) -> str:
    """Return an organisation's name (for the documents page)."""
    found = session.get(Organisation, organisation_id)
    return found.name if found else ""
