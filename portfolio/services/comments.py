"""A project's discussion: comments in Markdown, rendered safely, with @mentions and moderation."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, require
from portfolio.errors import Conflict, Invalid, NotAllowed, NotFound
from portfolio.models import Project, ProjectComment, User, utcnow
from portfolio.services.common import LIKE_ESCAPE, escape_like, project_by_slug, record
from portfolio.services.notifications import REMOVED_EXCERPT, announce, requote_comment
from portfolio.services.watching import may_read
from portfolio.text import control_problem

# Raw HTML is never passed through (html=False); nh3 then keeps only these tags, and links
# only to these schemes, each with rel="noopener nofollow".
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).disable("image")
ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
                "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
# "@jane.doe" names the user whose email address starts "jane.doe@".
MENTIONS_MAX = 20
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._-]{0,63})")


class EditWindowClosed(NotAllowed):
    """The author's edit came after the comment's edit window closed."""


class CommentRemoved(NotFound):
    """The comment was removed (by its author or a moderator): there is nothing to change."""

    def __init__(self, comment_id: int) -> None:
        super().__init__("comment", comment_id)
        self.message = "this comment was removed meanwhile"
        self.args = (self.message,)


@lru_cache(maxsize=2048)
def render_markdown(text: str) -> str:
    """Render a comment's Markdown as sanitised HTML (no raw HTML, scripts or unsafe links)."""
    return nh3.clean(_MARKDOWN.render(text), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener nofollow")


def handles_in(text: str) -> list[str]:
    """Return a comment's @handles once each as written, lower-cased, without a final stop."""
    return list(dict.fromkeys(m.group(1).rstrip(".").lower() for m in MENTION.finditer(text)))


def shows(ch: str) -> bool:
    """Tell whether a character shows on the page: not a space nor a format mark (Cf)."""
    return not ch.isspace() and unicodedata.category(ch) != "Cf"


def _reads_as_words(text: str) -> bool:
    """Tell whether a comment's rendered Markdown has a character to read."""
    shown = html.unescape(re.sub(r"<[^>]*>", "", render_markdown(text)))
    return any(shows(ch) for ch in shown)


def _checked_body(body: str, *, max_chars: int) -> str:
    """Return a comment's text, or refuse it in words."""
    text = (body or "").strip()
    if not any(shows(ch) for ch in text):
        # Only spaces and invisible marks (zero-width, word joiners): an empty comment to see.
        raise Invalid({"body": "Write a comment."})
    if len(text) > max_chars:
        raise Invalid({"body": f"Keep a comment under {max_chars:,} characters (this one has "
                               f"{len(text):,})."})
    if problem := control_problem(text, multiline=True):
        raise Invalid({"body": f"The comment {problem}."})
    if not _reads_as_words(text):
        # Markdown that renders to nothing to read ("-", "* * *", "&nbsp;"): as empty.
        raise Invalid({"body": "Write a comment."})
    return text


def mentioned_readers(session: Session, project: Project, text: str) -> list[int]:
    """Return the users a comment mentions who may read the project (others: nobody is told)."""
    return sorted(int(user.id or 0) for _, user in _mentioned(session, project, text))


def _mentioned(session: Session, project: Project, text: str) -> list[tuple[str, User]]:
    """Return each handle naming one reader of the project, with that user, as written."""
    handles = handles_in(text)[:MENTIONS_MAX]
    if not handles:
        return []
    patterns = [escape_like(handle) + "@%" for handle in handles]
    users: Sequence[User] = session.execute(select(User).where(or_(
        *[func.lower(User.email).like(p, escape=LIKE_ESCAPE) for p in patterns]))).scalars().all()
    by_handle: dict[str, list[User]] = {}
    for user in users:
        by_handle.setdefault(user.email.split("@", 1)[0].lower(), []).append(user)
    # A handle two people share names neither: better no notice than the wrong person's.
    return [(handle, found[0]) for handle in handles
            if len(found := by_handle.get(handle, [])) == 1 and may_read(found[0], project)]


def post_comment(*, session: Session, actor: Actor, slug: str, body: str,
                 max_chars: int) -> dict[str, Any]:
    """Add a comment to a project's discussion; tell those it mentions and the watchers."""
    project = project_by_slug(session, slug)
    require(actor, Capability.COMMENT, project)
    text = _checked_body(body, max_chars=max_chars)
    row = ProjectComment(project_id=int(project.id or 0), author_id=actor.id, body=text,
                         body_html=render_markdown(text))
    session.add(row)
    session.flush()
    record(session, actor, action="comment", entity="project_comment", entity_id=row.id,
           project_id=project.id, after={"body": text})
    named = _mentioned(session, project, text)
    mentioned = sorted(int(user.id or 0) for _, user in named)
    excerpt = _excerpt(text)
    if mentioned:
        announce(session, "mention", project_id=project.id, actor=actor,
                 payload={"comment_id": row.id, "users": mentioned, "excerpt": excerpt})
    announce(session, "comment", project_id=project.id, actor=actor,
             payload={"comment_id": row.id, "skip": mentioned, "excerpt": excerpt})
    session.flush()
    # People by name (README, "The API"), with the handle that named them.
    return {"id": row.id, "project": slug, "body": text,
            "mentioned": [{"handle": handle, "name": user.name} for handle, user in named]}


def edit_comment(*, session: Session, actor: Actor, comment_id: int, body: str,
                 max_chars: int, edit_minutes: int, slug: str | None = None,
                 was_edited_at: str | None = None) -> dict[str, Any]:
    """Change one's own comment within the edit window, unless edited since `was_edited_at`."""
    # `slug` and `was_edited_at` as for remove_comment: the author's other tab or client may
    # have saved an edit since this one was read, and that edit is not replaced unseen.
    row = _comment(session, comment_id, slug, for_update=True)
    if row.author_id != actor.id:
        raise NotAllowed("only its author may edit a comment")
    if utcnow() - _aware(row.created_at) > timedelta(minutes=edit_minutes):
        raise EditWindowClosed(f"a comment may be edited for {edit_minutes} minutes after "
                               "posting; post a new one instead")
    if was_edited_at is not None and _edit_stamp(row.edited_at) != _read_stamp(was_edited_at):
        raise Conflict("this comment was changed since you read it (perhaps in another tab): "
                       "compare it with your text, then save yours again if it should replace "
                       "it", current=_as_shown(session, row, actor, edit_minutes))
    text = _checked_body(body, max_chars=max_chars)
    before = {"body": row.body}
    row.body, row.body_html, row.edited_at = text, render_markdown(text), utcnow()
    session.add(row)
    session.flush()
    record(session, actor, action="edit_comment", entity="project_comment", entity_id=row.id,
           project_id=row.project_id, before=before, after={"body": text})
    # The notices quote what the comment says now, not what it said.
    requote_comment(session, project_id=row.project_id, comment_id=int(row.id or 0),
                    excerpt=_excerpt(text))
    return {"id": row.id, "body": text}


def remove_comment(*, session: Session, actor: Actor, comment_id: int, edit_minutes: int,
                   slug: str | None = None, was_edited_at: str | None = None) -> dict[str, Any]:
    """Remove a comment (its author, or a moderator), unless edited since `was_edited_at`."""
    # Named through a project (`slug`), the comment must be on it; `was_edited_at` is the
    # edit time read (ISO, "" for never edited), and the audit trail keeps the text removed.
    row = _comment(session, comment_id, slug, for_update=True)
    if row.author_id != actor.id:
        require(actor, Capability.MODERATE_COMMENTS)
    if was_edited_at is not None and _edit_stamp(row.edited_at) != _read_stamp(was_edited_at):
        raise Conflict("this comment was edited by its author since you read it: read it "
                       "again, then remove it if it should still go",
                       current=_as_shown(session, row, actor, edit_minutes))
    before = {"body": row.body}
    row.body, row.body_html = "", ""
    row.removed_at, row.removed_by_id = utcnow(), actor.id
    session.add(row)
    session.flush()
    action = "remove_comment" if row.author_id == actor.id else "moderate_comment"
    record(session, actor, action=action, entity="project_comment", entity_id=row.id,
           project_id=row.project_id, before=before, after={"removed": True})
    # Its words leave the notices that quoted them (the audit trail keeps them).
    requote_comment(session, project_id=row.project_id, comment_id=int(row.id or 0),
                    excerpt=REMOVED_EXCERPT)
    return {"id": row.id, "removed": True}


def _edit_stamp(moment: datetime | None) -> datetime | None:
    """Return a comment's last edit as an aware time, to compare with one read."""
    return None if moment is None else _aware(moment)


def _read_stamp(text: str) -> datetime | None:
    """Read the edit time a page or client showed ("" for never edited)."""
    if not text.strip():
        return None
    try:
        return _aware(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise Invalid({"was_edited_at": "give the comment's edited_at as read, such as "
                                        "2027-01-31T09:30:00+00:00"}) from None


def discussion(session: Session, project_id: int, actor: Actor | None, *,
               edit_minutes: int) -> list[dict[str, Any]]:
    """Return a project's comments, oldest first, with what this reader may do to each."""
    rows: list[Any] = list(session.execute(
        select(col(ProjectComment.id), col(ProjectComment.author_id),
               col(ProjectComment.body_html), col(ProjectComment.body),
               col(ProjectComment.created_at), col(ProjectComment.edited_at),
               col(ProjectComment.removed_at), col(User.name))
        .outerjoin(User, col(User.id) == col(ProjectComment.author_id))
        .where(col(ProjectComment.project_id) == project_id)
        .order_by(col(ProjectComment.id))).all())
    now = utcnow()
    moderator = can(actor, Capability.MODERATE_COMMENTS)
    return [_shown(row, actor, edit_minutes=edit_minutes, now=now, moderator=moderator)
            for row in rows]


def _shown(row: Sequence[Any], actor: Actor | None, *, edit_minutes: int,
           now: datetime | None = None, moderator: bool | None = None) -> dict[str, Any]:
    """Return a comment row, as `discussion` selects it, as this reader sees and may act on it."""
    cid, author_id, html, body, created_at, edited_at, removed_at, name = row
    if moderator is None:
        moderator = can(actor, Capability.MODERATE_COMMENTS)
    own = actor is not None and author_id == actor.id
    live = removed_at is None
    editable = (live and own
                and (now or utcnow()) - _aware(created_at) <= timedelta(minutes=edit_minutes))
    return {
        "id": cid, "author": name or "A former user", "html": html,
        "created_at": created_at, "edited_at": edited_at, "removed": not live,
        "can_edit": editable, "body": body if editable else "",
        "can_remove": live and (own or moderator),
    }


def _as_shown(session: Session, row: ProjectComment, actor: Actor,
              edit_minutes: int) -> dict[str, Any]:
    """Return a comment as this actor's discussion shows it (a 409's `current`)."""
    author = session.get(User, row.author_id)
    return _shown((row.id, row.author_id, row.body_html, row.body, row.created_at,
                   row.edited_at, row.removed_at, author and author.name),
                  actor, edit_minutes=edit_minutes)


def comment_for_edit(session: Session, actor: Actor, comment_id: int) -> ProjectComment:
    """Return one's own comment to edit."""
    row = _comment(session, comment_id)
    if row.author_id != actor.id:
        raise NotAllowed("only its author may edit a comment")
    return row


def _comment(session: Session, comment_id: int, slug: str | None = None, *,
             for_update: bool = False) -> ProjectComment:
    """Return a live comment (on the project `slug`, when named) or refuse; locked until
    commit `for_update`."""
    # Locked, an edit waiting on the comment's removal finds it removed instead of writing
    # the author's text back into it (and telling them it is changed).
    row = session.get(ProjectComment, comment_id,
                      with_for_update={"key_share": True} if for_update else None)
    if row is None or (slug is not None and project_by_slug(session, slug).id != row.project_id):
        raise NotFound("comment", comment_id)
    if row.removed_at is not None:
        raise CommentRemoved(comment_id)
    return row


def _excerpt(text: str, limit: int = 140) -> str:
    """Return the start of a comment for a notification."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _aware(moment: Any) -> Any:
    """Read a stored time as UTC (SQLite gives it back without a zone)."""
    from datetime import UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
