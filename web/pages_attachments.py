"""Pages: the documents attached to a project or an agreement (list, upload, download, remove)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from python_multipart.multipart import parse_options_header
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from portfolio.actors import Actor
from portfolio.documents import ACCEPTED_NAMES, megabytes
from portfolio.enums import AttachmentOwner, DocumentKind
from portfolio.errors import Invalid
from portfolio.services import attachments as attachment_service
from web.pages_common import FIELD_LABELS, AppDatabase, when
from web.routing import Router
from web.security import Policy, RowId, policy, with_body
from web.templating import flash, path_for, render

router = Router(include_in_schema=False)
Reader = Annotated[Actor | None, Depends(policy(Policy.READ))]
Attacher = Annotated[Actor, Depends(policy(Policy.ATTACH))]
KIND_LABELS = {"business_case": "Business case", "dpia": "DPIA", "agreement": "Agreement",
               "other": "Other"}
FIELD_LABELS.update(file="File", kind="What the document is")
# Where attachments are uploaded: the body limit lets these through up to the upload limit.
UPLOAD_PREFIXES = ("/attachments/", "/api/v1/attachments/")
PAGE_UPLOADS = "/attachments/"
# How much of an over-large upload is read for the fields before its file (the form's token and
# the document's kind take a few hundred bytes).
FIRST_FIELDS_BYTES = 64 * 1024
TOO_LARGE = "upload_over_body_limit"  # request state: the body limit the upload went over


class OverLargeUpload:
    """Answer a browser's upload over the body limit with its documents page, not JSON.

    The body limit refuses before reading, so an over-large file from the page's form got the
    limit's JSON. A browser asking for a page instead sends its route only the fields that come
    before the file (the CSRF token, the kind), read from the body's start; the route then says
    beside the file field that it is too large. API clients, and bodies of no stated size, still
    meet the body limit itself.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        length = headers.get(b"content-length", b"")
        kind, options = parse_options_header(headers.get(b"content-type", b""))
        if (scope.get("method") != "POST" or not scope.get("path", "").startswith(PAGE_UPLOADS)
                or b"text/html" not in headers.get(b"accept", b"") or not length.isdigit()
                or int(length) <= self.limit or kind != b"multipart/form-data"
                or not options.get(b"boundary")):
            await self.app(scope, receive, send)
            return
        head, more = b"", True
        while more and len(head) < FIRST_FIELDS_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return  # the browser went away
            head += message.get("body", b"")
            more = message.get("more_body", False)
        body = fields_before_file(head, options[b"boundary"])
        marked = {**scope, "state": {**scope.get("state", {}), TOO_LARGE: self.limit}}
        await self.app(*with_body(marked, body), send)


def fields_before_file(head: bytes, boundary: bytes) -> bytes:
    """Return a multipart body of the whole parts in `head` that come before the first file."""
    delimiter = b"--" + boundary
    kept = start = head.find(delimiter)
    while start >= 0:
        headers_end = head.find(b"\r\n\r\n", start)
        following = head.find(b"\r\n" + delimiter, headers_end)
        if headers_end < 0 or following < 0 or b"filename=" in head[start:headers_end].lower():
            break
        kept = start = following + 2
    return (head[:kept] if kept > 0 else b"") + delimiter + b"--\r\n"


def read_document(file: UploadFile, limit: int) -> bytes:
    """Read an upload, at most one byte over the limit (the service says it is too large)."""
    return file.file.read(limit + 1)


def download_headers(record: dict[str, Any]) -> dict[str, str]:
    """Return the headers that make a browser save a document rather than show it."""
    name = record["filename"]
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{record["sha256"]}"',
    }


def shown(entry: dict[str, Any]) -> dict[str, Any]:
    """Add what the list shows of a document: its kind, size and time in words."""
    return entry | {"kind_label": KIND_LABELS.get(entry["kind"], entry["kind"]),
                    "size": megabytes(entry["size_bytes"]),
                    "when": when(entry["uploaded_at"])}


def project_attachments(session: Session, actor: Actor | None,
                        slug: str) -> list[dict[str, Any]]:
    """Return a project's documents as its page lists them."""
    return [shown(a) for a in attachment_service.list_attachments(
        session=session, actor=actor, owner_kind=AttachmentOwner.PROJECT, ref=slug)]


# Each owner kind: its page's route, its documents page and its upload route, by name.
ROUTES = {AttachmentOwner.PROJECT.value: ("project", "project_attachments", "project_attach"),
          AttachmentOwner.AGREEMENT.value: ("agreement", "agreement_attachments",
                                            "agreement_attach")}


def _page(request: Request, db: AppDatabase, actor: Actor | None, kind: str, ref: str, *,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200):
    with db.read() as session:
        owner = attachment_service.find_owner(session, kind, ref)
        listed = attachment_service.list_attachments(session=session, actor=actor,
                                                     owner_kind=owner.kind, ref=ref)
        organisation = attachment_service.organisation_name(session, owner.organisation_id) \
            if kind == AttachmentOwner.PROJECT else ""
    may_attach = attachment_service.may_attach(actor, owner)
    record_route, _page_route, attach_route = ROUTES[kind]
    key = "slug" if kind == AttachmentOwner.PROJECT else "code"
    return render(request, "attachments.html", {
        "owner": owner, "organisation": organisation,
        "owner_url": path_for(request, record_route, **{key: ref}),
        "attach_url": path_for(request, attach_route, **{key: ref}),
        "owner_words": "project" if kind == AttachmentOwner.PROJECT else "agreement",
        "attachments": [shown(a) for a in listed], "values": values or {"kind": ""},
        "errors": errors or {}, "may_attach": may_attach,
        "why_not": "" if may_attach or actor is None else attachment_service.why_not(
            actor, owner),
        "kind_options": [(k.value, KIND_LABELS[k.value]) for k in DocumentKind],
        "accepted": ACCEPTED_NAMES, "limit": megabytes(db.settings.attachment_max_bytes),
    }, status_code=status_code)


def _attach(request: Request, db: AppDatabase, actor: Actor, kind: str, ref: str,
            file: UploadFile | None, document_kind: str):
    """Attach a document; refused uploads show why beside the field, and nothing is kept."""
    values = {"kind": document_kind}
    if TOO_LARGE in request.scope.get("state", {}):
        # Its file was never read: OverLargeUpload sent only the fields before it.
        try:
            attachment_service.refuse_too_large(db, actor=actor, owner_kind=kind, ref=ref)
        except Invalid as exc:
            return _page(request, db, actor, kind, ref, values=values, errors=exc.errors,
                         status_code=413)
    if file is None or not file.filename:
        errors = {"file": "choose a file to attach"}
        if document_kind not in KIND_LABELS:
            errors["kind"] = "choose what the document is"
        return _page(request, db, actor, kind, ref, values=values, errors=errors,
                     status_code=422)
    data = read_document(file, db.settings.attachment_max_bytes)
    try:
        made = attachment_service.attach(db, actor=actor, owner_kind=kind, ref=ref,
                                         kind=document_kind, filename=file.filename, data=data)
    except Invalid as exc:
        return _page(request, db, actor, kind, ref, values=values, errors=exc.errors,
                     status_code=422)
    flash(request, f"Attached {made['filename']}.")
    return RedirectResponse(_documents_url(request, kind, ref), 303)


def _documents_url(request: Request, kind: str, ref: str) -> str:
    """Return the documents page of a record."""
    key = "slug" if kind == AttachmentOwner.PROJECT else "code"
    return path_for(request, ROUTES[kind][1], **{key: ref})


@router.get("/attachments/project/{slug}", name="project_attachments")
def attachments_page(request: Request, slug: str, db: AppDatabase,
                     actor: Reader):
    """List a project's documents with who attached them and when; upload where allowed."""
    return _page(request, db, actor, AttachmentOwner.PROJECT, slug)


@router.post("/attachments/project/{slug}", name="project_attach")
def attach_page(request: Request, slug: str, db: AppDatabase, actor: Attacher,
                file: Annotated[UploadFile | None, File()] = None,
                kind: Annotated[str, Form(max_length=20)] = ""):
    """Attach a document to a project."""
    return _attach(request, db, actor, AttachmentOwner.PROJECT, slug, file, kind)


@router.get("/attachments/agreement/{code}", name="agreement_attachments")
def agreement_attachments_page(request: Request, code: str, db: AppDatabase, actor: Reader):
    """List an agreement's documents (the signed agreement, its DPIA); upload where allowed."""
    return _page(request, db, actor, AttachmentOwner.AGREEMENT, code)


@router.post("/attachments/agreement/{code}", name="agreement_attach")
def agreement_attach_page(request: Request, code: str, db: AppDatabase, actor: Attacher,
                          file: Annotated[UploadFile | None, File()] = None,
                          kind: Annotated[str, Form(max_length=20)] = ""):
    """Attach a document to an agreement (staff, or a lead of a party to it)."""
    return _attach(request, db, actor, AttachmentOwner.AGREEMENT, code, file, kind)


@router.get("/attachments/{attachment_id}/download", name="attachment_download")
def download(attachment_id: RowId, db: AppDatabase, actor: Reader) -> FileResponse:
    """Send a document as a download, to a signed-in reader of its project."""
    found = attachment_service.open_attachment(db, actor=actor, attachment_id=attachment_id)
    return FileResponse(found.path, media_type=found.record["media_type"],
                        headers=download_headers(found.record))


@router.post("/attachments/{attachment_id}/remove", name="attachment_remove")
def remove(request: Request, attachment_id: RowId, db: AppDatabase,
           actor: Attacher):
    """Remove a document (audited) and go back to its record's documents."""
    removed = attachment_service.remove_attachment(db, actor=actor, attachment_id=attachment_id)
    flash(request, f"Removed {removed['filename']}.")
    return RedirectResponse(_documents_url(request, removed["owner_kind"], removed["owner"]),
                            303)
