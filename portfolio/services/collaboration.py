"""Who else is doing this: similar projects, collaboration opportunities, joining a project."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, contact, require
from portfolio.enums import PartnerRole, Role, Theme
from portfolio.errors import Conflict, Invalid, NotFound
from portfolio.models import (
    AuditEvent,
    Dataset,
    DismissedSuggestion,
    Organisation,
    PartnerRequest,
    Project,
    ProjectDataset,
    ProjectPartner,
    RankingRow,
    User,
)
from portfolio.schemas import Input, Multiline, parse
from portfolio.services.common import (
    as_record,
    chunks,
    consistent_read,
    current_revision,
    organisation_by_code,
    portfolio_revision,
    project_by_slug,
    record,
)
from portfolio.services.notifications import announce, close_partner_request
from portfolio.settings import Settings
from portfolio.writers import sqlite_file
from scoring import similarity

if TYPE_CHECKING:
    from portfolio.db import Database

LOG = logging.getLogger(__name__)

# Pairs at least this alike make a collaboration opportunity (a suggestion on a project's page
# needs only similarity.MIN_SCORE): a group is a claim that several teams should talk.
GROUP_SCORE = 0.3
# How far along a project is, for the suggested lead of a group: furthest first.
ADVANCEMENT = ["delivered", "in_progress", "approved", "proposed", "idea", "paused"]
# A rejected project is nobody's partner-to-be; it still shows among a project's similar ones.
NOT_IN_GROUPS = {"rejected"}


# What pages show of a project, in the order the index reads it; the values many projects
# share (theme, status, the owner's code, name and kind) are kept once.
PROJECT_FIELDS = ("id", "slug", "title", "owner_id", "theme", "status", "cost_gbp",
                  "organisation", "organisation_name", "organisation_kind")
SHARED_FIELDS = frozenset({"theme", "status", "organisation", "organisation_name",
                           "organisation_kind"})
NUMBER_FIELDS = frozenset({"id", "owner_id", "cost_gbp"})


class ProjectRows(Mapping[int, dict[str, Any]]):
    """What pages show of each project, by id, kept as columns.

    A dict per project, each with its own copy of its organisation's name, its theme and its
    status, held about 100 MB at 100,000 projects; columns of shared values hold a quarter,
    and the numbers are kept in arrays.
    """

    def __init__(self, columns: dict[str, Any], rows: Mapping[Any, int]) -> None:
        self._columns = columns
        self._rows = rows  # row of each project id (the similarity model's own)

    def __getitem__(self, key: int) -> dict[str, Any]:
        row = self._rows[key]
        return {name: _plain(values[row]) for name, values in self._columns.items()}

    def value(self, key: int, name: str) -> Any:
        """Return one field of a project (no dict built: for loops over many pairs)."""
        return _plain(self._columns[name][self._rows[key]])

    def field_of(self, keys: np.ndarray, name: str) -> np.ndarray:
        """Return one field of many projects as an array (no Python work per project)."""
        rows = np.fromiter((self._rows[key] for key in keys.tolist()), dtype=np.int64,
                           count=len(keys))
        values = self._columns[name]
        return (values if isinstance(values, np.ndarray)
                else np.asarray(values, dtype=object))[rows]

    def __iter__(self) -> Iterator[int]:
        return iter(np.asarray(self._columns["id"]).tolist())

    def __len__(self) -> int:
        return len(self._columns["id"])


def _plain(value: Any) -> Any:
    """Return a NumPy number as Python's (pages and JSON take those)."""
    return value.item() if isinstance(value, np.generic) else value


class SlugIds(Mapping[str, int]):
    """Each project's id by its slug, found by binary search in the sorted slugs.

    A dict of 100,000 slugs held 6.6 MB in every web worker keeping the similarity model.
    """

    def __init__(self, slugs: Sequence[str], ids: np.ndarray) -> None:
        names = np.asarray(slugs, dtype=object)
        order = np.argsort(names, kind="stable")
        self._slugs, self._ids = names[order], np.asarray(ids, dtype=np.int64)[order]

    def __getitem__(self, slug: str) -> int:
        if isinstance(slug, str):
            place = int(np.searchsorted(self._slugs, slug))
            if place < len(self._slugs) and self._slugs[place] == slug:
                return int(self._ids[place])
        raise KeyError(slug)

    def __iter__(self) -> Iterator[str]:
        return iter(self._slugs.tolist())

    def __len__(self) -> int:
        return len(self._slugs)


# A project id and an organisation id, or arrays of them (one per pair).
Ids = TypeVar("Ids", int, np.ndarray)


def involvement(project: Ids, organisation: Ids) -> Ids:
    """Return one number for an organisation taking part in a project (or one per pair)."""
    # A set of numbers holds about half of what a set of pairs does (12 MB, not 21, at 100k).
    return project << 32 | organisation


@dataclass(frozen=True)
class SimilarityIndex:
    """The similarity model of one revision and what pages show of each project."""

    revision: int
    model: similarity.SimilarityModel
    projects: ProjectRows
    datasets: dict[int, dict[str, str]]
    contacts: dict[int, dict[str, str]]
    by_slug: Mapping[str, int] = field(default_factory=dict)
    organisations: dict[str, int] = field(default_factory=dict)
    groups: list[list[int]] = field(default_factory=list)

    @functools.cached_property
    def titles(self) -> dict[int, str]:
        """Return dataset titles by id, for reasons in words."""
        return {key: value["title"] for key, value in self.datasets.items()}


def _project_columns(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Return the projects' fields as columns: numbers in arrays, shared values kept once."""
    shared: dict[Any, Any] = {}
    return {name: np.fromiter((r[i] for r in rows), dtype=np.int64, count=len(rows))
            if name in NUMBER_FIELDS else
            [shared.setdefault(r[i], r[i]) for r in rows] if name in SHARED_FIELDS
            else [r[i] for r in rows] for i, name in enumerate(PROJECT_FIELDS)}


def _read_index(session: Session, revision: int) -> SimilarityIndex:
    """Read the portfolio's text, datasets and partners and build the similarity model."""
    rows = session.execute(
        select(col(Project.id), col(Project.slug), col(Project.title), col(Project.owner_id),
               col(Project.theme), col(Project.status), col(Project.cost_gbp),
               col(Organisation.code), col(Organisation.name), col(Organisation.kind),
               col(Project.description))
        .join(Organisation, col(Organisation.id) == col(Project.owner_id))
        .order_by(col(Project.id))
    ).all()
    columns = _project_columns(rows)
    # The descriptions are read for the model alone (it keeps the text it compares).
    frame = pd.DataFrame({
        "key": columns["id"], "organisation": columns["owner_id"], "theme": columns["theme"],
        "title": columns["title"], "description": [r[-1] or "" for r in rows],
    })
    del rows
    links = pd.DataFrame([tuple(r) for r in session.execute(
        select(col(ProjectDataset.project_id), col(ProjectDataset.dataset_id))).all()],
        columns=["project", "dataset"])
    datasets = {r[0]: {"code": r[1], "title": r[2]} for r in session.execute(
        select(col(Dataset.id), col(Dataset.code), col(Dataset.title))).all()}
    # involvement(project id, organisation id) for every partner link, owners included: what
    # the groups leave out, and then not kept (9 MB at 100,000 projects).
    partners = {involvement(r[0], r[1]) for r in session.execute(
        select(col(ProjectPartner.project_id), col(ProjectPartner.organisation_id))).all()}
    partners.update(involvement(columns["id"], columns["owner_id"]).tolist())
    involved = np.fromiter(partners, dtype=np.int64, count=len(partners))
    del partners
    contacts: dict[int, dict[str, str]] = {}
    leads = cast(list[tuple[int, str, str]], session.execute(
        select(col(User.organisation_id), col(User.name), col(User.email))
        .where(col(User.role) == Role.LEAD.value, col(User.is_active),
               col(User.organisation_id).is_not(None))
        .order_by(col(User.id))).all())
    for organisation_id, name, email in leads:
        contacts.setdefault(organisation_id, {"name": name, "email": email})
    model = similarity.build_model(frame, links)
    del frame
    model = replace(model, neighbours=_compact(model.neighbours))
    organisations = dict(session.execute(select(col(Organisation.code),
                                                col(Organisation.id))).all())
    index = SimilarityIndex(revision=revision, model=model,
                            projects=ProjectRows(columns, model.rows),
                            datasets=datasets, contacts=contacts,
                            by_slug=SlugIds(columns["slug"], columns["id"]),
                            organisations=organisations)
    return SimilarityIndex(**{**index.__dict__, "groups": _groups(index, involved)})


def _compact(neighbours: pd.DataFrame) -> pd.DataFrame:
    """Return the neighbours' columns pages read, ids in 32 bits (37 MB -> 13 MB at 100,000)."""
    return pd.DataFrame({"project": neighbours["project"].astype("int32"),
                         "other": neighbours["other"].astype("int32"),
                         "score": neighbours["score"]})


def _already_partners(index: SimilarityIndex, involved: np.ndarray, a: np.ndarray,
                      b: np.ndarray) -> np.ndarray:
    """Tell, per pair, whether either project's organisation already takes part in the other."""
    owner_a = index.projects.field_of(a, "owner_id").astype(np.int64)
    owner_b = index.projects.field_of(b, "owner_id").astype(np.int64)
    return (np.isin(involvement(a, owner_b), involved)
            | np.isin(involvement(b, owner_a), involved))


def _groups(index: SimilarityIndex, involved: np.ndarray) -> list[list[int]]:
    """Return groups of alike projects in different organisations that are not yet partners.

    `involved` holds involvement(project, organisation) of every partner link, owners included.
    """
    near = index.model.neighbours
    near = near[near["score"] >= GROUP_SCORE].sort_values(
        ["score", "project", "other"], ascending=[False, True, True], kind="stable")
    a, b = near["project"].to_numpy(np.int64), near["other"].to_numpy(np.int64)
    # As arrays: a check per pair in Python took a second at 100,000 projects.
    closed = list(NOT_IN_GROUPS)
    keep = (~np.isin(index.projects.field_of(a, "status"), closed)
            & ~np.isin(index.projects.field_of(b, "status"), closed)
            & ~_already_partners(index, involved, a, b))
    pairs = list(zip(a[keep].tolist(), b[keep].tolist(), strict=True))
    return [[int(cast(int, x)) for x in group]
            for group in similarity.groups(cast(list[tuple[object, object]], pairs))]


def similarity_index(db: Database, *, fresh: bool = False) -> SimilarityIndex:
    """Return the similarity model of the current revision, built once per revision.

    The build runs in a background thread of this worker (30 s or more at 100,000 projects);
    while it runs, callers wait up to PORTFOLIO_RANKING_WAIT_SECONDS and then get the previous
    revision's model, as pages do with the ranking. With no previous model they wait for it.
    """
    revision = portfolio_revision(db)
    kept = db.run_memo.get(("similarity", revision))
    if kept is not None:
        return kept
    job = db.background.submit(("similarity",), lambda: _build_index(db))
    previous = None if fresh else db.run_memo.get(("similarity, latest",))
    if previous is None:
        return job.result()
    try:
        return job.result(timeout=db.settings.ranking_wait_seconds)
    except FutureTimeout:
        return previous


def _build_index(db: Database) -> SimilarityIndex:
    """Build the similarity model of the current revision, apart when it is large; keep it."""
    index = None
    if _build_apart(db):
        try:
            index = _index_apart(db.settings)
        except (BrokenProcessPool, OSError) as exc:
            # The child could not start or was killed (out of memory, say): the model is
            # still wanted, so this worker builds it as it would a small one.
            LOG.warning("the similarity model's child process failed (%s); building it here",
                        exc)
    if index is None:
        index = _index_here(db)
    # Only the newest is kept: at 100,000 projects a model holds a hundred megabytes. Kept
    # with the other large results, where the pages a worker shows cannot push it out.
    db.run_memo.put_latest(("similarity", index.revision), index)
    return db.run_memo.put(("similarity, latest",), index)


def _index_here(db: Database) -> SimilarityIndex:
    """Read the portfolio in one consistent transaction and build its similarity model."""
    with db.read() as session:
        consistent_read(session)
        return _read_index(session, current_revision(session))


def _build_apart(db: Database) -> bool:
    """Tell whether to build the model in a child process: a large portfolio in a shared file.

    At 100,000 projects the build takes 6 s of this worker's interpreter and leaves 100 MB
    more resident than the model itself; a child's memory all goes back when it ends.
    """
    threshold = db.settings.similarity_process_from
    if threshold < 0 or (db.is_sqlite and sqlite_file(db.engine.url) is None):
        return False  # never, or an in-memory database no other process can open
    with db.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Project)).scalar_one()) \
            >= threshold


def _index_apart(settings: Settings) -> SimilarityIndex:
    """Build the similarity model in a child process and return it (the caller keeps it)."""
    # Spawned, not forked: a fork would copy this worker's threads' locks mid-use.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as child:
        return child.submit(_index_of, settings).result()


def _index_of(settings: Settings) -> SimilarityIndex:
    """Open the database and build its similarity model (the child process's work)."""
    from portfolio.db import Database

    db = Database(settings)
    try:
        return _index_here(db)
    finally:
        db.dispose()


def _contact(index: SimilarityIndex, organisation_id: int,
             actor: Actor | None) -> dict[str, str | None] | None:
    """Return a lead to contact at an organisation, if it has one.

    Their email only for a reader who may see contacts: an anonymous visitor (public read)
    gets the lead's name and null.
    """
    found = index.contacts.get(organisation_id)
    return None if found is None else {"name": found["name"],
                                       "email": contact(actor, found["email"])}


def _suggestion(index: SimilarityIndex, other: int, score: float,
                why: similarity.Reason, actor: Actor | None) -> dict[str, Any]:
    """Return one similar project as pages and the API show it."""
    project = index.projects[other]
    return {
        "slug": project["slug"], "title": project["title"], "status": project["status"],
        "theme": project["theme"], "organisation": project["organisation"],
        "organisation_name": project["organisation_name"], "score": round(score, 3),
        "why": why.words(cast(dict[object, str], index.titles)),
        "same_theme": why.same_theme,
        "shared_datasets": [index.datasets[cast(int, d)]["code"] for d in why.shared_datasets],
        "shared_terms": list(why.shared_terms),
        "contact": _contact(index, project["owner_id"], actor),
    }


def similar_projects(db: Database, *, actor: Actor | None, slug: str, top: int = 10,
                     fresh: bool = False) -> dict[str, Any]:
    """Return the projects in other organisations most like one project, with why."""
    index = similarity_index(db, fresh=fresh)
    if slug not in index.by_slug and not fresh:
        index = similarity_index(db, fresh=True)  # a project newer than the previous model
    if slug not in index.by_slug:
        raise NotFound("project", slug)
    found = index.projects[index.by_slug[slug]]
    near = index.model.neighbours
    near = near[near["project"] == found["id"]].head(top)
    similar = [_suggestion(index, int(other), float(score),
                           similarity.reason(index.model, found["id"], int(other)), actor)
               for other, score in zip(near["other"], near["score"], strict=True)]
    none = None
    if not similar:
        row = index.model.row_of(found["id"])
        has_text = row is not None and index.model.text[row].nnz > 0
        has_data = row is not None and index.model.datasets[row].nnz > 0
        none = ("this project has no description, title words or datasets to compare yet"
                if not has_text and not has_data else
                "no project in another organisation shares enough of its words or datasets")
    return {"project": {"slug": found["slug"], "title": found["title"],
                        "organisation": found["organisation"]},
            "revision": index.revision, "similar": similar, "none_reason": none}


class DraftInput(Input):
    """What the registration form has so far: any of it may be missing or odd."""

    title: str = ""
    description: str = ""
    theme: str = ""
    owner: str = ""


def similar_to_draft(db: Database, *, actor: Actor | None, data: dict[str, Any],
                     top: int = 5) -> dict[str, Any]:
    """Return existing projects like a project being registered (the registration panel)."""
    # Half-typed, pasted or odd text is normal here: cut to what the comparison reads.
    values = parse(DraftInput, {name: str(data.get(name) or "")[:similarity.MAX_TEXT_CHARS]
                                for name in DraftInput.model_fields})
    index = similarity_index(db)
    owner = index.organisations.get(values.owner)
    theme = values.theme if values.theme in {t.value for t in Theme} else None
    if not (values.title or values.description):
        return {"similar": [], "none_reason": "type a title or a description to see similar "
                                              "projects in other organisations"}
    found = similarity.similar_to_draft(index.model, title=values.title,
                                        description=values.description, theme=theme,
                                        organisation=owner, top_k=top)
    similar = [_suggestion(index, int(cast(int, key)), score, why, actor)
               for key, score, why in found]
    if similar and values.owner:
        # "We will partner" is no offer where the owner-to-be partners already.
        with db.read() as session:
            partnered: set[str] = set(session.execute(
                select(col(Project.slug))
                .join(ProjectPartner, col(ProjectPartner.project_id) == col(Project.id))
                .join(Organisation, col(Organisation.id) == col(ProjectPartner.organisation_id))
                .where(col(Organisation.code) == values.owner,
                       col(Project.slug).in_([s["slug"] for s in similar]))).scalars())
        for suggestion in similar:
            suggestion["partnered"] = suggestion["slug"] in partnered
    none = None if similar else ("no project in another organisation shares enough of these "
                                 "words yet")
    return {"similar": similar, "none_reason": none}


def _values(db: Database, ids: list[int]) -> dict[int, float]:
    """Return the composite of projects in the current stored ranking (none if there is none)."""
    from portfolio.services.ranking import ensure_ranking

    try:
        run = ensure_ranking(db, None, wait_seconds=db.settings.ranking_wait_seconds)
    except NotFound:  # no weight profile yet
        return {}
    values: dict[int, float] = {}
    with db.read() as session:
        for part in chunks(ids):
            rows = cast(list[tuple[int, float | None]], session.execute(
                select(col(RankingRow.project_id), col(RankingRow.composite))
                .where(col(RankingRow.run_id) == run.rows_id,
                       col(RankingRow.project_id).in_(part))).all())
            for project_id, composite in rows:
                if composite is not None:
                    values[project_id] = float(composite)
    return values


def members_key(ids: list[int]) -> str:
    """Return the stored key of a group: its project ids, sorted, comma-separated."""
    return ",".join(str(i) for i in sorted(set(ids)))


def opportunities(db: Database, *, theme: str | None = None, organisation: str | None = None,
                  limit: int = 100, actor: Actor | None = None,
                  fresh: bool = False) -> dict[str, Any]:
    """Return groups of alike projects in different organisations that are not yet partners.

    Each group has the datasets its projects share, their combined value (composites in the
    current ranking) and cost, and a suggested lead: the most advanced project, then the
    highest value. A group someone dismissed does not return unless a project joins it.
    """
    index = similarity_index(db, fresh=fresh)
    with db.read() as session:
        dismissed: set[str] = set(session.execute(
            select(col(DismissedSuggestion.members))).scalars())
    matching = []
    for group in index.groups:
        if members_key(group) in dismissed:
            continue
        members = [index.projects[i] for i in group]
        if theme and not any(m["theme"] == theme for m in members):
            continue
        if organisation and not any(m["organisation"] == organisation for m in members):
            continue
        matching.append(group)
    chosen = matching[:limit]
    values = _values(db, [i for group in chosen for i in group])
    groups = [_group(index, g, values, actor) | {"may_dismiss": any(
        can(actor, Capability.DISMISS_SUGGESTION, index.projects[i]["owner_id"]) for i in g)}
        for g in chosen]
    return {"revision": index.revision, "groups": groups, "total": len(matching)}


def _group(index: SimilarityIndex, group: list[int], values: dict[int, float],
           actor: Actor | None) -> dict[str, Any]:
    """Return one collaboration opportunity as pages and the API show it."""
    model = index.model
    rows = [model.row_of(i) for i in group]
    used: dict[int, int] = {}
    for row in rows:
        for column in model.datasets[row].indices:
            key = int(model.dataset_keys[column])
            used[key] = used.get(key, 0) + 1
    shared = sorted((index.datasets[k] for k, n in used.items() if n > 1),
                    key=lambda d: d["title"])
    members = [index.projects[i] for i in group]
    lead = min(members, key=lambda m: (ADVANCEMENT.index(m["status"]),
                                       -values.get(m["id"], 0.0), m["id"]))
    present = [values[m["id"]] for m in members if m["id"] in values]
    organisations = sorted({m["organisation_name"] for m in members})
    return {
        "key": members_key(group),
        "projects": [{"slug": m["slug"], "title": m["title"], "status": m["status"],
                      "theme": m["theme"], "organisation": m["organisation"],
                      "organisation_name": m["organisation_name"], "cost_gbp": m["cost_gbp"],
                      "value": round(values[m["id"]], 1) if m["id"] in values else None,
                      "contact": _contact(index, m["owner_id"], actor)}
                     for m in members],
        "organisations": organisations,
        "shared_datasets": shared,
        "combined_value": round(sum(present), 1) if present else None,
        "combined_cost_gbp": sum(m["cost_gbp"] for m in members),
        "suggested_lead": {"slug": lead["slug"], "title": lead["title"],
                           "organisation_name": lead["organisation_name"],
                           "status": lead["status"]},
        "themes": sorted({m["theme"] for m in members}),
    }


class DismissInput(Input):
    """Why a suggestion is set aside."""

    group: str = Field(min_length=1, max_length=2000, pattern=r"^\d{1,18}(,\d{1,18})*$")
    reason: Annotated[str, Field(max_length=2000), Multiline] = ""

    @field_validator("reason", mode="before")
    @classmethod
    def _reason_given(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("say why these projects should not work together, so others know")
        return value


def dismiss(*, session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Set a collaboration suggestion aside with a reason, so it does not return."""
    values = parse(DismissInput, data)
    ids = sorted({int(i) for i in values.group.split(",")})
    owners = dict(session.execute(select(col(Project.id), col(Project.owner_id))
                                  .where(col(Project.id).in_(ids))).all())
    if len(owners) != len(ids) or len(ids) < 2:
        raise Invalid({"group": "the suggestion names projects that do not exist; reload "
                                "the page"})
    if not any(can(actor, Capability.DISMISS_SUGGESTION, owner) for owner in owners.values()):
        require(actor, Capability.DISMISS_SUGGESTION, next(iter(owners.values())),
                doing="dismiss a suggestion none of whose projects is theirs",
                among="an organisation with a project in the suggestion")
    row = DismissedSuggestion(members=members_key(ids), reason=values.reason,
                              dismissed_by_id=actor.id)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict("this suggestion has already been dismissed") from None
    record(session, actor, action="dismiss", entity="suggestion", entity_id=row.id,
           after=as_record(row, exclude=("dismissed_at",)))
    return {"group": row.members, "reason": row.reason}


def dismissed(*, session: Session) -> list[dict[str, Any]]:
    """Return the suggestions set aside, newest first, with who and why."""
    rows = cast(list[tuple[DismissedSuggestion, str | None]], session.execute(
        select(DismissedSuggestion, col(User.name)).outerjoin(
            User, col(User.id) == col(DismissedSuggestion.dismissed_by_id))
        .order_by(col(DismissedSuggestion.id).desc())).all())
    return [{"group": d.members, "reason": d.reason, "by": name,
             "at": d.dismissed_at.isoformat() if d.dismissed_at else None} for d, name in rows]


class JoinInput(Input):
    """Which organisation joins the project."""

    organisation: str = Field(min_length=1, max_length=32)


def join_project(*, session: Session, actor: Actor, slug: str,
                 data: dict[str, Any]) -> dict[str, Any]:
    """Ask for an organisation to partner in another organisation's project ("we will partner").

    A partner's lead assesses the project, so joining needs the owning side's consent: one who
    may edit the project (a lead of its owner, the CDO, an admin) adds the partner at once;
    anyone else's request waits until such a person accepts it (`accept_partner_request`).
    """
    if not data.get("organisation") and actor.organisation_id is not None:
        # Named by no code (the project page's button): the user's own organisation.
        own = session.get(Organisation, actor.organisation_id)
        data = {**data, "organisation": own.code if own is not None else ""}
    values = parse(JoinInput, data)
    # Locked to the commit, as every write of a project's links (services/projects.py).
    project = project_by_slug(session, slug, for_update=True)
    organisation = organisation_by_code(session, values.organisation)
    require(actor, Capability.JOIN_PROJECT, organisation.id,
            doing="join a project on behalf of another organisation",
            among="the organisation that joins")
    if organisation.id == project.owner_id:
        raise Invalid({"organisation": "the project is already this organisation's own"})
    owner = session.get(Organisation, project.owner_id)
    assert project.id is not None and organisation.id is not None and owner is not None
    answer = {"project": slug, "title": project.title, "organisation": organisation.code,
              "organisation_name": organisation.name, "owner_name": owner.name}
    partner = _partner(session, project.id, organisation.id)
    if partner is not None:
        return answer | {"status": "partner", "role": partner.role, "already": True}
    if can(actor, Capability.EDIT_PROJECT, project):
        partner = _make_partner(session, actor, project.id, organisation.id)
        return answer | {"status": "partner", "role": partner.role}
    asked = _request(session, project.id, organisation.id)
    if asked is None:
        asked = PartnerRequest(project_id=project.id, organisation_id=organisation.id,
                               requested_by_id=actor.id)
        session.add(asked)
        session.flush()
        record(session, actor, action="request", entity="partner_request",
               project_id=project.id, entity_id=asked.id,
               after={"organisation_id": organisation.id})
        announce(session, "partner_request", project_id=project.id, actor=actor,
                 payload={"organisation": organisation.code,
                          "organisation_name": organisation.name})
    return answer | {"status": "requested", "role": None}


def _partner(session: Session, project_id: int, organisation_id: int) -> ProjectPartner | None:
    """Return an organisation's partner link to a project, if it is a partner."""
    return session.execute(select(ProjectPartner).where(
        col(ProjectPartner.project_id) == project_id,
        col(ProjectPartner.organisation_id) == organisation_id)).scalar()


def _request(session: Session, project_id: int, organisation_id: int) -> PartnerRequest | None:
    """Return an organisation's waiting request to partner in a project, if any."""
    return session.execute(select(PartnerRequest).where(
        col(PartnerRequest.project_id) == project_id,
        col(PartnerRequest.organisation_id) == organisation_id)).scalar()


def _make_partner(session: Session, actor: Actor, project_id: int,
                  organisation_id: int) -> ProjectPartner:
    """Add an organisation as a partner (role partner), recorded in the project's history."""
    partner = ProjectPartner(project_id=project_id, organisation_id=organisation_id,
                             role=PartnerRole.PARTNER.value)
    session.add(partner)
    session.flush()
    record(session, actor, action="create", entity="partner", project_id=project_id,
           entity_id=partner.id, after=as_record(partner))
    return partner


def _answering(session: Session, actor: Actor, slug: str,
               organisation: str) -> tuple[Project, Organisation, PartnerRequest]:
    """Return the project, organisation and request one who may edit the project answers."""
    project = project_by_slug(session, slug, for_update=True)
    require(actor, Capability.EDIT_PROJECT, project,
            doing="answer a request to partner in another organisation's project")
    asking = organisation_by_code(session, organisation)
    assert project.id is not None and asking.id is not None
    found = _request(session, project.id, asking.id)
    if found is None:
        raise Conflict(_no_request_waiting(session, project.id, asking))
    return project, asking, found


def _no_request_waiting(session: Session, project_id: int, asking: Organisation) -> str:
    """Say why an organisation has no request to answer or withdraw: accepted, or none left."""
    assert asking.id is not None
    if _partner(session, project_id, asking.id) is not None:
        return (f"{asking.name}'s request was accepted already: it is a partner in this "
                "project")
    ended = _how_request_ended(session, project_id, asking.id)
    return (f"{asking.name} has no request waiting to partner in this project: "
            + (f"its request was {ended} already" if ended else "it has not asked"))


def _how_request_ended(session: Session, project_id: int, organisation_id: int) -> str | None:
    """Return how an organisation's last request on a project ended (the audit trail says)."""
    events = session.execute(
        select(col(AuditEvent.action), col(AuditEvent.before))
        .where(col(AuditEvent.project_id) == project_id,
               col(AuditEvent.entity) == "partner_request",
               col(AuditEvent.action).in_(("decline", "withdraw")))
        .order_by(col(AuditEvent.id).desc())).all()
    for action, before in events:
        if isinstance(before, dict) and before.get("organisation_id") == organisation_id:
            return "declined" if action == "decline" else "withdrawn"
    return None


def accept_partner_request(*, session: Session, actor: Actor, slug: str,
                           organisation: str) -> dict[str, Any]:
    """Accept an organisation's request to partner in a project (who may edit the project)."""
    project, asking, found = _answering(session, actor, slug, organisation)
    assert project.id is not None and asking.id is not None
    partner = _partner(session, project.id, asking.id) or _make_partner(
        session, actor, project.id, asking.id)
    _tell_asker(session, actor, project, asking, found, "accepted")
    close_partner_request(session, project_id=project.id, organisation=asking.code,
                          outcome="accepted")
    session.delete(found)
    return {"project": slug, "organisation": asking.code, "organisation_name": asking.name,
            "status": "partner", "role": partner.role}


def decline_partner_request(*, session: Session, actor: Actor, slug: str,
                            organisation: str) -> None:
    """Decline an organisation's request to partner in a project (who may edit the project)."""
    project, asking, found = _answering(session, actor, slug, organisation)
    record(session, actor, action="decline", entity="partner_request", project_id=project.id,
           entity_id=found.id, before={"organisation_id": asking.id})
    _tell_asker(session, actor, project, asking, found, "declined")
    assert project.id is not None
    close_partner_request(session, project_id=project.id, organisation=asking.code,
                          outcome="declined")
    session.delete(found)


def _tell_asker(session: Session, actor: Actor, project: Project, asking: Organisation,
                found: PartnerRequest, answer: str) -> None:
    """Tell the lead who asked (or, their account gone, the asking organisation's leads)."""
    users = [found.requested_by_id] if found.requested_by_id is not None else list(
        session.execute(select(col(User.id)).where(
            col(User.organisation_id) == asking.id, col(User.role) == Role.LEAD.value,
            col(User.is_active).is_(True))).scalars())
    announce(session, "partner_answer", project_id=project.id, actor=actor,
             payload={"organisation": asking.code, "organisation_name": asking.name,
                      "answer": answer, "users": users})


def withdraw_partner_request(*, session: Session, actor: Actor, slug: str,
                             organisation: str) -> None:
    """Withdraw an organisation's waiting request to partner in a project (the asking side)."""
    project = project_by_slug(session, slug, for_update=True)
    asking = organisation_by_code(session, organisation)
    assert project.id is not None and asking.id is not None
    # Requests are shown to every reader, so saying one is gone tells no one anything new.
    found = _request(session, project.id, asking.id)
    if found is None:
        raise Conflict(_no_request_waiting(session, project.id, asking))
    require(actor, Capability.JOIN_PROJECT, asking.id,
            doing="withdraw another organisation's request to partner in a project",
            among="the organisation that asked")
    record(session, actor, action="withdraw", entity="partner_request", project_id=project.id,
           entity_id=found.id, before={"organisation_id": asking.id})
    # The owning side was told of the request: its notice says so, and it hears that nothing
    # waits on it any more.
    close_partner_request(session, project_id=project.id, organisation=asking.code,
                          outcome="withdrawn")
    announce(session, "partner_request", project_id=project.id, actor=actor,
             payload={"organisation": asking.code, "organisation_name": asking.name,
                      "withdrawn": True})
    session.delete(found)
