"""The JSON API for working together: owner and progress, comments, watching, notifications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from portfolio.actors import Actor
from portfolio.schemas import NumberOnly
from portfolio.services import comments as comment_service
from portfolio.services import notifications as notification_service
from portfolio.services import progress as progress_service
from portfolio.services import watching as watch_service
from portfolio.services.common import project_by_slug
from web.api import AppDatabase, CurrentActor, ReadSession, WriteSession
from web.api_contract import ERRORS
from web.api_models import IsoDate
from web.routing import Router
from web.security import Policy, RowId, policy

router = Router(prefix="/api/v1", tags=["working together"], responses=ERRORS)

READ = Depends(policy(Policy.READ))
EDIT = Depends(policy(Policy.EDIT))
PROGRESS = Depends(policy(Policy.PROGRESS))
COMMENT = Depends(policy(Policy.COMMENT))
WATCH = Depends(policy(Policy.WATCH))
Reader = Annotated[Actor | None, READ]
Channel = Literal["in_app", "email", "digest", "off"]


class Strict(BaseModel):
    """A request body that refuses fields it does not know."""

    model_config = ConfigDict(extra="forbid")


class CommentIn(Strict):
    """A comment in Markdown (raw HTML is shown as text); `@name` mentions a reader."""

    # The settings' limit (20,000 by default) is checked by the service; this bounds the schema.
    body: str = Field(min_length=1, max_length=50_000)


class CommentEditIn(CommentIn):
    """A comment's new Markdown, with the edit time it was read at."""

    was_edited_at: str | None = Field(default=None, max_length=40, description=(
        "The comment's `edited_at` as read (empty: never edited); a comment edited since is "
        "kept and answers 409 with `current`. Left out, the edit is not checked"))


class CommentOut(BaseModel):
    """A comment as a reader sees it: sanitised HTML, and what this reader may do to it."""

    id: int
    author: str
    html: str
    created_at: datetime
    edited_at: datetime | None
    removed: bool
    can_edit: bool
    can_remove: bool
    body: str = Field(description="The Markdown, only while its author may still edit it")


class Mentioned(BaseModel):
    """A reader a comment mentions (and who is told): the @handle it used, and their name."""

    handle: str
    name: str


class CommentPosted(BaseModel):
    """A comment just posted, with the readers it mentions (who are told)."""

    id: int
    project: str
    body: str
    mentioned: list[Mentioned]


class CommentChanged(BaseModel):
    """A comment just edited."""

    id: int
    body: str


class CommentRemoved(BaseModel):
    """A comment just removed (the audit trail keeps its text)."""

    id: int
    removed: bool


class ProgressIn(Strict):
    """A RAG status with an update in words, for a project in progress or paused."""

    rag: Literal["red", "amber", "green"]
    summary: str = Field(min_length=1, max_length=5000)
    reported_on: IsoDate | None = Field(default=None,
                                       description="Today unless given; not later")


class ProgressReported(BaseModel):
    """A progress update just recorded."""

    project: str
    rag: str
    summary: str
    reported_on: date


class Latest(BaseModel):
    """A committed project's newest RAG status and whether it has gone stale (and since when)."""

    rag: str | None
    summary: str
    reported_on: date | None
    stale: bool
    stale_since: date


class Update(BaseModel):
    """One progress update."""

    rag: str
    summary: str
    reported_on: date
    author: str


class Owner(BaseModel):
    """A project's named owner."""

    name: str
    email: str | None = Field(description="The owner's email; null for an anonymous reader "
                                          "(public read), who is shown the public contact")


class ProgressOut(BaseModel):
    """A project's owner, public contact, latest status and update history (newest first)."""

    owner: Owner | None
    public_contact: str
    latest: Latest | None
    updates: list[Update]


class StewardshipRead(Strict):
    """A project's owner and public contact as the client read them (null or "" for none)."""

    owner_email: str | None = Field(default=None, max_length=254)
    public_contact: str | None = Field(default=None, max_length=254)


class StewardshipIn(Strict):
    """Name the owner (a user of the owning organisation, by email) and a public contact."""

    owner_email: str = Field(default="", max_length=254)
    public_contact: str = Field(default="", max_length=254)
    was: StewardshipRead | None = Field(default=None, description=(
        "The owner and contact as read: then only the fields changed from it are saved, merged "
        "with what is saved now, and one changed differently since answers 409 with "
        "`conflicts`. Left out, both are replaced"))


class StewardshipOut(BaseModel):
    """A project's owner and public contact as saved."""

    project: str
    owner: str | None
    public_contact: str


class WatchIn(Strict):
    """Watch (true) or stop watching (false) a project."""

    watching: bool


class WatchOut(BaseModel):
    """Whether the caller watches a project."""

    project: str
    watching: bool


class NotificationOut(BaseModel):
    """One of the caller's notifications."""

    id: int
    kind: str
    message: str
    link: str
    created_at: datetime
    read: bool


class MarkReadIn(Strict):
    """Which notifications to mark read: the ids, or all unread when `ids` is left out."""

    ids: list[Annotated[int, Field(ge=1, le=2**62), NumberOnly]] | None = Field(
        default=None, max_length=1000)


class MarkedOut(BaseModel):
    """How many notifications were marked read."""

    marked: int


class ChannelsIn(Strict):
    """A channel per kind of notification (kinds left out are kept as they are)."""

    decision: Channel | None = None
    question: Channel | None = None
    mention: Channel | None = None
    comment: Channel | None = None
    stale: Channel | None = None
    agreement_expiring: Channel | None = None
    partner_request: Channel | None = None
    partner_answer: Channel | None = None


class PreferencesIn(Strict):
    """The channel for each kind of notification to change."""

    channels: ChannelsIn


class PreferencesOut(BaseModel):
    """The caller's channel for every kind, with each kind and channel in words."""

    channels: dict[str, Channel]
    kinds: dict[str, str]
    channel_names: dict[str, str]


# Comments

@router.get("/projects/{slug}/comments", dependencies=[READ], response_model=list[CommentOut])
def list_comments(slug: str, db: AppDatabase, session: ReadSession,
                  actor: Reader) -> list[dict[str, Any]]:
    """Return a project's discussion, oldest first (removed comments keep their place)."""
    project = project_by_slug(session, slug)
    return comment_service.discussion(session, int(project.id or 0), actor,
                                      edit_minutes=db.settings.comment_edit_minutes)


@router.post("/projects/{slug}/comments", status_code=201, dependencies=[COMMENT],
             response_model=CommentPosted)
def post_comment(slug: str, body: CommentIn, db: AppDatabase, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    """Post a comment; those it mentions who may read the project and the watchers are told."""
    return comment_service.post_comment(session=session, actor=actor, slug=slug,
                                        body=body.body, max_chars=db.settings.comment_max_chars)


@router.patch("/comments/{comment_id}", dependencies=[COMMENT], response_model=CommentChanged)
def edit_comment(comment_id: RowId, body: CommentEditIn, db: AppDatabase,
                 session: WriteSession, actor: CurrentActor) -> dict[str, Any]:
    """Change one's own comment within the edit window (403 after it), as it was read."""
    return comment_service.edit_comment(session=session, actor=actor, comment_id=comment_id,
                                        body=body.body, max_chars=db.settings.comment_max_chars,
                                        edit_minutes=db.settings.comment_edit_minutes,
                                        was_edited_at=body.was_edited_at)


@router.delete("/comments/{comment_id}", dependencies=[COMMENT], response_model=CommentRemoved)
def remove_comment(comment_id: RowId, db: AppDatabase, session: WriteSession,
                   actor: CurrentActor,
                   was_edited_at: Annotated[str | None, Query(max_length=40, description=(
                       "The comment's `edited_at` as read (empty: never edited); a comment "
                       "edited since is kept and answers 409"))] = None) -> dict[str, Any]:
    """Remove one's own comment, or anyone's as a moderator (the CDO or an admin)."""
    return comment_service.remove_comment(session=session, actor=actor, comment_id=comment_id,
                                          edit_minutes=db.settings.comment_edit_minutes,
                                          was_edited_at=was_edited_at)


# Owner and progress

@router.get("/projects/{slug}/progress", response_model=ProgressOut)
def project_progress(slug: str, db: AppDatabase, session: ReadSession,
                     actor: Reader) -> dict[str, Any]:
    """Return a project's owner, contact, latest RAG status (stale or not) and its updates."""
    project = project_by_slug(session, slug)
    return progress_service.project_progress(session, int(project.id or 0), actor=actor,
                                             stale_days=db.settings.progress_stale_days)


@router.post("/projects/{slug}/progress", status_code=201, dependencies=[PROGRESS],
             response_model=ProgressReported)
def report_progress(slug: str, body: ProgressIn, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """Add a dated RAG status and update to a project in progress or paused."""
    data = body.model_dump(exclude_none=True)
    if body.reported_on is not None:
        data["reported_on"] = body.reported_on.isoformat()
    return progress_service.report_progress(session=session, actor=actor, slug=slug, data=data)


@router.put("/projects/{slug}/stewardship", dependencies=[EDIT], response_model=StewardshipOut)
def set_stewardship(slug: str, body: StewardshipIn, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """Name a project's owner and public contact (those who may edit the project)."""
    was = body.was.model_dump() if body.was is not None else None
    return progress_service.set_stewardship(session=session, actor=actor, slug=slug,
                                            data=body.model_dump(exclude={"was"}), was=was)


# Watching

@router.get("/projects/{slug}/watch", dependencies=[READ], response_model=WatchOut)
def is_watching(slug: str, session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    """Say whether the caller watches a project (by choice, or as a lead of its owner)."""
    project = project_by_slug(session, slug)
    return {"project": slug, "watching": watch_service.is_watching(session, actor, project)}


@router.put("/projects/{slug}/watch", dependencies=[WATCH], response_model=WatchOut)
def set_watching(slug: str, body: WatchIn, session: WriteSession,
                 actor: CurrentActor) -> dict[str, Any]:
    """Watch or stop watching a project."""
    return watch_service.set_watching(session=session, actor=actor, slug=slug,
                                      watching=body.watching)


# Notifications

@router.get("/notifications", dependencies=[READ], response_model=list[NotificationOut])
def my_notifications(
    session: ReadSession, actor: CurrentActor,
    unread: Annotated[bool, Query(description="Only those not yet read")] = False,
    limit: Annotated[int, Query(ge=1, le=notification_service.PAGE_LIMIT)] = 50,
) -> list[dict[str, Any]]:
    """Return the caller's notifications, newest first."""
    return notification_service.notifications_of(session, int(actor.id or 0), limit=limit,
                                                 unread_only=unread)


@router.post("/notifications/read", dependencies=[READ], response_model=MarkedOut)
def mark_read(body: MarkReadIn, session: WriteSession, actor: CurrentActor) -> dict[str, int]:
    """Mark some of the caller's notifications read, or all of them."""
    return {"marked": notification_service.mark_read(session=session, actor=actor,
                                                     ids=body.ids)}


def _preferences(channels: dict[str, str]) -> dict[str, Any]:
    return {"channels": channels,
            "kinds": {k: words for k, (words, _d) in notification_service.KINDS.items()},
            "channel_names": notification_service.CHANNELS}


@router.get("/notifications/preferences", dependencies=[READ], response_model=PreferencesOut)
def preferences(session: ReadSession, actor: CurrentActor) -> dict[str, Any]:
    """Return how the caller hears of each kind of notification."""
    return _preferences(notification_service.preferences(session, actor.id))


@router.put("/notifications/preferences", dependencies=[READ], response_model=PreferencesOut)
def set_preferences(body: PreferencesIn, session: WriteSession,
                    actor: CurrentActor) -> dict[str, Any]:
    """Choose in-app, email, a daily digest or off for some kinds."""
    choices = body.channels.model_dump(exclude_none=True)
    return _preferences(notification_service.set_preferences(
        session=session, user_id=int(actor.id or 0), choices=choices))
