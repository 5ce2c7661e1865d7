"""The JSON API for documents attached to projects and agreements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, File, Form, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import AttachmentOwner, DocumentKind
from portfolio.services import attachments as attachment_service
from web.api_contract import ERRORS
from web.deps import app_database
from web.pages_attachments import download_headers, read_document
from web.routing import Router
from web.security import Policy, RowId, policy

router = Router(prefix="/api/v1", tags=["attachments"], responses=ERRORS)
AppDatabase = Annotated[Database, Depends(app_database)]
Reader = Annotated[Actor | None, Depends(policy(Policy.READ))]
Attacher = Annotated[Actor, Depends(policy(Policy.ATTACH))]


class AttachmentOut(BaseModel):
    """A document attached to a record: its name, type, size, content hash, who and when."""

    id: int
    owner_kind: str
    owner: str
    kind: DocumentKind
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str | None = Field(
        description="The uploader's email; null for an anonymous reader (public read)")
    uploaded_by_name: str | None = Field(
        default=None, description="The uploader's name (in lists of a record's documents)")
    uploaded_at: datetime


@router.get("/attachments/project/{slug}", response_model=list[AttachmentOut])
def list_project_attachments(slug: str, db: AppDatabase, actor: Reader) -> list[dict]:
    """List a project's documents, newest first."""
    with db.read() as session:
        return attachment_service.list_attachments(
            session=session, actor=actor, owner_kind=AttachmentOwner.PROJECT, ref=slug)


@router.post("/attachments/project/{slug}", status_code=201, response_model=AttachmentOut)
def attach_to_project(
    slug: str, db: AppDatabase, actor: Attacher,
    file: Annotated[UploadFile, File(description="PDF, DOCX, XLSX, ODT, PNG or JPEG; the "
                                                 "type is read from the content")],
    kind: Annotated[DocumentKind, Form(description="business_case, dpia, agreement or other")],
) -> dict:
    """Attach a document to a project; 422 says why one is refused, and nothing is kept."""
    data = read_document(file, db.settings.attachment_max_bytes)
    return attachment_service.attach(db, actor=actor, owner_kind=AttachmentOwner.PROJECT,
                                     ref=slug, kind=kind.value, filename=file.filename or "",
                                     data=data)


@router.get("/attachments/agreement/{code}", response_model=list[AttachmentOut])
def list_agreement_attachments(code: str, db: AppDatabase, actor: Reader) -> list[dict]:
    """List an agreement's documents, newest first."""
    with db.read() as session:
        return attachment_service.list_attachments(
            session=session, actor=actor, owner_kind=AttachmentOwner.AGREEMENT, ref=code)


@router.post("/attachments/agreement/{code}", status_code=201, response_model=AttachmentOut)
def attach_to_agreement(
    code: str, db: AppDatabase, actor: Attacher,
    file: Annotated[UploadFile, File(description="PDF, DOCX, XLSX, ODT, PNG or JPEG; the "
                                                 "type is read from the content")],
    kind: Annotated[DocumentKind, Form(description="business_case, dpia, agreement or other")],
) -> dict:
    """Attach a document to an agreement (staff, or a lead of a party to it)."""
    data = read_document(file, db.settings.attachment_max_bytes)
    return attachment_service.attach(db, actor=actor, owner_kind=AttachmentOwner.AGREEMENT,
                                     ref=code, kind=kind.value, filename=file.filename or "",
                                     data=data)


@router.get("/attachments/{attachment_id}/content", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The document, as a download"}})
def attachment_content(attachment_id: RowId, db: AppDatabase, actor: Reader) -> FileResponse:
    """Download a document (signed-in readers of its project or agreement)."""
    found = attachment_service.open_attachment(db, actor=actor, attachment_id=attachment_id)
    return FileResponse(found.path, media_type=found.record["media_type"],
                        headers=download_headers(found.record))


@router.delete("/attachments/{attachment_id}", response_model=AttachmentOut)
def remove_attachment(attachment_id: RowId, db: AppDatabase, actor: Attacher) -> dict:
    """Remove a document from its project or agreement (audited)."""
    return attachment_service.remove_attachment(db, actor=actor, attachment_id=attachment_id)
