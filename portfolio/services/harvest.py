"""Harvest dataset entries from open-data portals: a CKAN action API or a DCAT data.json.

A harvest reads the whole catalogue first (paged, with time-outs and retries), then matches each
entry to a dataset already registered (by the portal's identifier, then by its URL, then by
title, which a person confirms), and writes every addition and update in one transaction, or
nothing. A level a person assessed is never overwritten; the portal's metadata only suggests one.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpcore
import httpx
import orjson
from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.enums import Access, ReadinessLevel, UpdateFrequency
from portfolio.errors import Conflict, DomainError, Invalid
from portfolio.models import Dataset, Organisation, utcnow
from portfolio.services.common import one_at_a_time, organisation_by_code, record, rows_changed
from portfolio.services.datasets import NEW_DATASET_CODES
from portfolio.text import whole_number

if TYPE_CHECKING:
    from portfolio.db import Database

# Formats an analyst can load as they come (a suggestion of C1 when recently updated).
MACHINE_READABLE = frozenset({
    "csv", "tsv", "json", "geojson", "jsonl", "xlsx", "xls", "ods", "xml", "parquet", "api",
    "shp", "shapefile", "kml", "gpkg", "geopackage", "rdf", "ttl", "sparql", "wms", "wfs",
    "zip", "txt",
})
# How recent a portal's last change must be for a machine-readable entry to suggest C1.
RECENT_MONTHS = 24
# DCAT's accrualPeriodicity (ISO 8601 repeating durations) in the domain's words.
PERIODICITY = {
    "R/PT1S": UpdateFrequency.REALTIME, "R/PT1H": UpdateFrequency.REALTIME,
    "R/P1D": UpdateFrequency.DAILY, "R/P1W": UpdateFrequency.WEEKLY,
    "R/P1M": UpdateFrequency.MONTHLY, "R/P3M": UpdateFrequency.QUARTERLY,
    "R/P1Y": UpdateFrequency.ANNUAL, "irregular": UpdateFrequency.ADHOC,
}
TRIES = 3
# The catalogue's source_identifier column (models.Dataset).
IDENTIFIER_LIMIT = 300


class HarvestFailed(DomainError):
    """The portal could not be read; nothing was written."""

    status_code = 422


@dataclass(frozen=True)
class PortalDataset:
    """One catalogue entry as a portal publishes it."""

    identifier: str
    title: str
    description: str = ""
    publisher: str = ""
    licence: str = ""
    modified: date | None = None
    formats: tuple[str, ...] = ()
    url: str = ""
    frequency: UpdateFrequency = UpdateFrequency.ADHOC


@dataclass(frozen=True)
class Limits:
    """How much a harvest may read: per request, in all, and how long to wait."""

    timeout_seconds: float = 10.0
    max_response_bytes: int = 50_000_000
    max_datasets: int = 100_000
    page_size: int = 1000
    # Whether a portal may be at a private, loopback or link-local address (an on-premises
    # catalogue, a developer's test server); otherwise every address it is read from, and every
    # one it redirects to, must be public.
    private_addresses: bool = True

    @classmethod
    def of(cls, settings: Any) -> Limits:
        """Return the limits a set of settings names."""
        return cls(timeout_seconds=settings.harvest_timeout_seconds,
                   max_response_bytes=settings.harvest_max_response_bytes,
                   max_datasets=settings.harvest_max_datasets,
                   private_addresses=settings.harvest_reads_private_addresses)


# Reading portals -----------------------------------------------------------------------------


def read_catalogue(url: str, *, client: httpx.Client, limits: Limits) -> list[PortalDataset]:
    """Read every entry of a CKAN or DCAT catalogue, or raise HarvestFailed."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, say
        parts = urlsplit("")
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise Invalid({"url": "give the portal's address, starting with http:// or https://"})
    path = parts.path.rstrip("/")
    if path.endswith(".json") and "/api/" not in path:
        found = list(_dcat_entries(client, url, limits))
    elif path.endswith("current_package_list_with_resources"):
        found = list(_ckan_offset_pages(client, url, limits))
    else:
        action = url if "/api/3/action/" in path else _join(url, "api/3/action/package_search")
        found = list(_ckan_search_pages(client, action, limits))
    duplicates = [i for i, n in Counter(d.identifier for d in found).items() if n > 1]
    if duplicates:
        raise HarvestFailed(f"the catalogue lists {len(duplicates)} identifier(s) more than once "
                            f"(for example {duplicates[0]!r}); nothing was harvested")
    return found


def _join(base: str, tail: str) -> str:
    """Return base with a path appended."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + tail))


def _ckan_search_pages(client: httpx.Client, action: str,
                       limits: Limits) -> Iterator[PortalDataset]:
    """Yield the packages of CKAN's package_search, page by page."""
    start, count = 0, None
    while count is None or start < count:
        body = _get_json(client, action, {"rows": limits.page_size, "start": start}, limits)
        result = _ckan_result(body, action)
        if not isinstance(result, dict) or not isinstance(result.get("results"), list):
            raise HarvestFailed(f"{action} did not answer in CKAN's package_search shape")
        try:
            count = min(int(result.get("count") or 0), limits.max_datasets + 1)
        except (TypeError, ValueError, OverflowError):  # words, a list, past 4,300 digits
            raise HarvestFailed(f"{action} gave a count that is no whole number: "
                                f"{str(result.get('count'))[:40]!r}") from None
        page = result["results"]
        if not page:
            break
        yield from (from_ckan(p) for p in page)
        start += len(page)
        _check_size(start, limits)


def _ckan_offset_pages(client: httpx.Client, action: str,
                       limits: Limits) -> Iterator[PortalDataset]:
    """Yield the packages of current_package_list_with_resources (DataPress), page by page."""
    offset = 0
    while True:
        body = _get_json(client, action, {"limit": limits.page_size, "offset": offset}, limits)
        page = _ckan_result(body, action)
        if not isinstance(page, list):
            raise HarvestFailed(f"{action} did not answer with a list of packages")
        if not page:
            return
        yield from (from_ckan(p) for p in page)
        offset += len(page)
        _check_size(offset, limits)


def _ckan_result(body: Any, action: str) -> Any:
    """Return a CKAN answer's result, or raise with the portal's own error."""
    if not isinstance(body, dict) or "result" not in body:
        raise HarvestFailed(f"{action} did not answer like a CKAN action API")
    if body.get("success") is False:
        raise HarvestFailed(f"the portal refused: {body.get('error')}")
    return body["result"]


def _dcat_entries(client: httpx.Client, url: str, limits: Limits) -> Iterator[PortalDataset]:
    """Yield the datasets of a DCAT (Project Open Data) data.json catalogue."""
    body = _get_json(client, url, {}, limits)
    entries = body.get("dataset") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise HarvestFailed(f"{url} is not a DCAT catalogue (no \"dataset\" list)")
    _check_size(len(entries), limits)
    yield from (from_dcat(e) for e in entries)


def _check_size(seen: int, limits: Limits) -> None:
    """Refuse a catalogue larger than the harvest limit."""
    if seen > limits.max_datasets:
        raise HarvestFailed(f"the catalogue holds more than {limits.max_datasets:,} datasets, "
                            "the harvest limit (PORTFOLIO_HARVEST_MAX_DATASETS)")


def public_address(host: str, port: int) -> list[str]:
    """Resolve a portal's name once; refuse it unless every address it has is public.

    A harvest reads whatever address it is given: without this, the server's own network (a
    cloud's metadata service, an internal admin page) would be one form away.
    """
    try:
        found = list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)))
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host} has no address ({exc})") from None
    for text in found:
        address = ipaddress.ip_address(text.split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise HarvestFailed(
                f"{host} is at {address}, a private or local address: a harvest reads public "
                "portals only (PORTFOLIO_HARVEST_PRIVATE_ADDRESSES=true lets it read an "
                "on-premises one)")
    return found


class _PublicNetwork(httpcore.NetworkBackend):
    """Open every connection (a redirect's too) at an address checked public, never a name.

    The name is resolved once, checked, and the socket opened at the address checked: resolved
    again to connect, a name whose address changed in between (DNS rebinding) would reach a
    private one. TLS still names the host, so its certificate is checked as before.
    """

    def __init__(self) -> None:
        self._network = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        """Connect to the first of the name's public addresses that answers."""
        failed: Exception | None = None
        for address in public_address(host, port):
            try:
                return self._network.connect_tcp(address, port, timeout, local_address,
                                                 socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failed = exc
        assert failed is not None  # getaddrinfo answers at least one address or raises
        raise failed

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        """Refuse: a portal is read over the network."""
        raise httpcore.ConnectError("a portal is read over TCP, not a local socket")

    def sleep(self, seconds: float) -> None:
        """Sleep as the standard backend does."""
        self._network.sleep(seconds)


class PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's own transport, its connections opened by `_PublicNetwork`; no proxy."""

    def __init__(self) -> None:
        super().__init__()
        # The pool httpx made, made again with the same TLS defaults and the checked network:
        # httpx has no public setting for the network its pool connects through.
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=_PublicNetwork())


def _get_json(client: httpx.Client, url: str, params: dict[str, Any], limits: Limits) -> Any:
    """GET a JSON document, retrying time-outs and server errors, within the size limit."""
    target = f"{url}?{urlencode(params)}" if params else url
    for attempt in range(TRIES):
        try:
            return _fetch_json(client, target, limits)
        except _Retry as exc:
            if attempt == TRIES - 1:
                raise HarvestFailed(f"{target}: {exc} (tried {TRIES} times); nothing was "
                                    "harvested") from None
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


class _Retry(Exception):
    """A failure worth another try (a time-out, a dropped connection, a 5xx)."""


def _fetch_json(client: httpx.Client, url: str, limits: Limits) -> Any:
    """Read one JSON answer, streamed so that an oversized one is cut off early."""
    try:
        with client.stream("GET", url, timeout=limits.timeout_seconds) as response:
            if response.status_code >= 500:
                raise _Retry(f"the portal answered {response.status_code}")
            if response.status_code >= 400:
                raise HarvestFailed(f"{url}: the portal answered {response.status_code}")
            declared = response.headers.get("content-length", "")
            if (whole_number(declared) or 0) > limits.max_response_bytes:
                raise HarvestFailed(_too_big(url, limits))
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limits.max_response_bytes:
                    raise HarvestFailed(_too_big(url, limits))
                chunks.append(chunk)
            kind = response.headers.get("content-type", "")
    except httpx.TooManyRedirects:
        raise HarvestFailed(f"{url} redirects in a loop") from None
    except (httpx.InvalidURL, UnicodeError):
        # UnicodeError: a host with an empty or overlong label, which the socket's IDNA
        # encoding refuses only when it connects.
        raise HarvestFailed(f"{url!r} is not a web address a portal can have") from None
    except httpx.TimeoutException:
        raise _Retry(f"no answer within {limits.timeout_seconds:g} s") from None
    except httpx.ConnectError:
        raise _Retry("the portal could not be reached") from None
    except httpx.TransportError:
        raise _Retry("the connection to the portal broke off") from None
    body = b"".join(chunks)
    if "html" in kind or body.lstrip()[:1] == b"<":
        raise HarvestFailed(f"{url} answered a web page, not JSON: is this the portal's API "
                            "address?")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HarvestFailed(f"{url} answered malformed JSON ({exc})") from None


def _too_big(url: str, limits: Limits) -> str:
    """Say that an answer is over the size limit."""
    return (f"{url} answered more than {limits.max_response_bytes // 1_000_000} MB, the limit "
            "(PORTFOLIO_HARVEST_MAX_RESPONSE_BYTES)")


# Mapping entries -----------------------------------------------------------------------------


def from_ckan(package: dict[str, Any]) -> PortalDataset:
    """Map a CKAN package onto a catalogue entry."""
    if not isinstance(package, dict):
        raise HarvestFailed("a CKAN package is not an object")
    organisation = package.get("organization") or {}
    resources = _listed(package.get("resources"))
    formats = tuple(sorted({str(r.get("format") or "").strip().lower()
                            for r in resources if isinstance(r, dict) and r.get("format")}))
    identifier = _identifier(package.get("id") or package.get("name"), "CKAN package")
    return PortalDataset(
        identifier=identifier,
        title=_text(package.get("title") or package.get("name"), 300),
        description=_text(package.get("notes"), 20_000),
        publisher=_text(organisation.get("title") if isinstance(organisation, dict) else "",
                        300),
        licence=_text(package.get("license_title") or package.get("license_id"), 120),
        modified=_date(package.get("metadata_modified")),
        formats=formats,
        url=_web_address(package.get("url"), *_addresses(resources)),
    )


def from_dcat(entry: dict[str, Any]) -> PortalDataset:
    """Map a DCAT (Project Open Data) dataset onto a catalogue entry."""
    if not isinstance(entry, dict):
        raise HarvestFailed("a DCAT dataset entry is not an object")
    publisher = entry.get("publisher") or {}
    distributions = [d for d in _listed(entry.get("distribution")) if isinstance(d, dict)]
    formats = tuple(sorted({_format_of(d) for d in distributions} - {""}))
    identifier = _identifier(entry.get("identifier"), "DCAT dataset")
    return PortalDataset(
        identifier=identifier,
        title=_text(entry.get("title"), 300),
        description=_text(entry.get("description"), 20_000),
        publisher=_text(publisher.get("name") if isinstance(publisher, dict) else publisher,
                        300),
        licence=_text(entry.get("license"), 120),
        modified=_date(entry.get("modified")),
        formats=formats,
        url=_web_address(entry.get("landingPage"), *_addresses(distributions)),
        frequency=PERIODICITY.get(str(entry.get("accrualPeriodicity") or ""),
                                  UpdateFrequency.ADHOC),
    )


def _format_of(distribution: dict[str, Any]) -> str:
    """Return a distribution's format: its own word, else from its media type."""
    given = str(distribution.get("format") or "").strip().lower()
    if given:
        return given
    media = str(distribution.get("mediaType") or "").lower()
    return media.rsplit("/", 1)[-1].removeprefix("vnd.") if media else ""


def _addresses(items: list[Any]) -> Iterator[Any]:
    """Yield the download or access addresses of distributions or resources, in order."""
    for item in items:
        if isinstance(item, dict):
            for key in ("url", "downloadURL", "accessURL"):
                if item.get(key):
                    yield item[key]


def _web_address(*candidates: Any) -> str:
    """Return the first candidate that is a web address (http or https), else nothing.

    The dataset's page links to it: a portal's `javascript:` or `data:` address is dropped, as
    the catalogue form and the API refuse it.
    """
    for candidate in candidates:
        text = _text(candidate, 1000)
        if text.lower().startswith(("https://", "http://")):
            return text
    return ""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _listed(value: Any) -> list[Any]:
    """Return a portal's list of files, or none when it gave something else."""
    return value if isinstance(value, list) else []


def _identifier(value: Any, kind: str) -> str:
    """Return an entry's identifier as the catalogue keeps it, or refuse the portal's answer."""
    identifier = str(value or "")
    if not identifier:
        raise HarvestFailed(f"a {kind} has no identifier")
    if len(identifier) > IDENTIFIER_LIMIT:
        # The catalogue matches entries again by it: cut, two could become one.
        raise HarvestFailed(f"a {kind}'s identifier is longer than {IDENTIFIER_LIMIT} "
                            f"characters: {identifier[:40]}…")
    return identifier


def _text(value: Any, limit: int) -> str:
    """Return a portal's text without control characters, cut to the column's size."""
    return _CONTROL.sub("", str(value or "")).strip()[:limit]


def _date(value: Any) -> date | None:
    """Return the date of an ISO 8601 date or timestamp, or None."""
    text = str(value or "")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def suggested_level(entry: PortalDataset, *, today: date) -> ReadinessLevel:
    """Suggest a readiness level from a portal's metadata (docs/DESIGN.md states the rule)."""
    if not entry.formats and not entry.url:
        return ReadinessLevel.C3
    machine = any(f in MACHINE_READABLE for f in entry.formats)
    months = None if entry.modified is None else (
        (today.year - entry.modified.year) * 12 + today.month - entry.modified.month)
    if machine and months is not None and months <= RECENT_MONTHS:
        return ReadinessLevel.C1
    return ReadinessLevel.C2


# Matching and writing ------------------------------------------------------------------------


# What a plan keeps to write itself, never shown: row ids, and the version and values read.
PRIVATE_KEYS = ("id", "publisher_id", "version", "read")


@dataclass
class HarvestPlan:
    """What a harvest would add, update, ask a person about and leave as it is."""

    source: str
    add: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    confirm: list[dict[str, Any]] = field(default_factory=list)
    leave: list[dict[str, Any]] = field(default_factory=list)
    written: bool = False

    def summary(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data, each dataset named by its code."""
        # The row ids are for writing the plan; a reader knows datasets and publishers by code.
        def public(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in item.items() if k not in PRIVATE_KEYS}
                    for item in items]

        return {"source": self.source, "written": self.written,
                "counts": {k: len(getattr(self, k)) for k in ("add", "update", "confirm",
                                                               "leave")},
                "add": public(self.add), "update": public(self.update),
                "confirm": public(self.confirm), "leave": public(self.leave)}


@dataclass(frozen=True)
class _Known:
    """A registered dataset, as matching needs it."""

    id: int
    code: str
    title: str
    source_identifier: str | None
    url: str
    version: int
    values: dict[str, Any]


def plan_harvest(session: Session, entries: list[PortalDataset], *, source: str,
                 default_publisher: Organisation, confirmed: set[str],
                 today: date) -> HarvestPlan:
    """Match catalogue entries to registered datasets and decide what to write."""
    known = _known_datasets(session)
    by_identifier = {k.source_identifier: k for k in known if k.source_identifier}
    by_url = {k.url: k for k in known if k.url}
    by_title = {_normal(k.title): k for k in known}
    publishers = _publishers(session)
    codes = {k.code for k in known}
    plan = HarvestPlan(source=source)
    for entry in entries:
        publisher = publishers.get(_normal(entry.publisher), default_publisher)
        proposed = _values(entry, publisher, today)
        match, how = by_identifier.get(entry.identifier), "identifier"
        if match is None and entry.url:
            match, how = by_url.get(entry.url), "url"
        if match is None:
            match, how = by_title.get(_normal(entry.title)), "title"
        if match is not None and how == "title" and entry.identifier not in confirmed:
            plan.confirm.append(proposed | {"matches": match.code,
                                            "matches_title": match.title})
            continue
        if match is None:
            proposed["code"] = _new_code(entry.title, codes)
            plan.add.append(proposed)
            continue
        changes = {k for k in (*WRITTEN, "source_modified")
                   if match.values.get(k) != proposed[k]}
        item = proposed | {"code": match.code, "matched_by": how, "id": match.id,
                           "drl": match.values["drl"], "changes": sorted(changes),
                           "version": match.version, "read": dict(match.values)}
        (plan.update if changes else plan.leave).append(item)
    return plan


def _known_datasets(session: Session) -> list[_Known]:
    """Return every registered dataset with the fields a harvest compares."""
    columns = tuple(col(c) for c in (
        Dataset.id, Dataset.code, Dataset.title, Dataset.source_identifier, Dataset.url,
        Dataset.version, Dataset.description, Dataset.licence, Dataset.formats,
        Dataset.source_modified, Dataset.update_frequency, Dataset.drl))
    found: list[_Known] = []
    for row in session.execute(select(*columns)).all():
        values = {"title": row.title, "description": row.description, "licence": row.licence,
                  "url": row.url, "formats": row.formats, "source_identifier":
                  row.source_identifier, "source_modified": _iso(row.source_modified),
                  "update_frequency": row.update_frequency, "drl": row.drl}
        found.append(_Known(row.id, row.code, row.title, row.source_identifier, row.url,
                            row.version, values))
    return found


def _publishers(session: Session) -> dict[str, Organisation]:
    """Return organisations by their name and code, normalised for matching."""
    found: dict[str, Organisation] = {}
    organisation: Organisation
    for organisation in session.execute(select(Organisation)).scalars():
        found[_normal(organisation.name)] = organisation
        found[_normal(organisation.code)] = organisation
    return found


def _values(entry: PortalDataset, publisher: Organisation, today: date) -> dict[str, Any]:
    """Return the dataset fields a catalogue entry gives."""
    suggested = suggested_level(entry, today=today).value
    return {
        "source_identifier": entry.identifier, "title": entry.title or entry.identifier,
        "description": entry.description, "licence": entry.licence, "url": entry.url,
        "formats": ", ".join(entry.formats)[:300], "source_modified": _iso(entry.modified),
        "update_frequency": entry.frequency.value, "publisher": publisher.code,
        "publisher_name": publisher.name, "publisher_id": publisher.id,
        "access": Access.OPEN.value, "drl": suggested, "suggested_drl": suggested,
    }


def _iso(value: date | None) -> str | None:
    """Return a date as ISO text."""
    return value.isoformat() if value else None


def _normal(text: str) -> str:
    """Return text folded for matching: lower case, single spaces, no punctuation."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _new_code(title: str, taken: set[str]) -> str:
    """Return an unused dataset code made from a title."""
    base = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:100].strip("-") or "dataset"
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    taken.add(code)
    return code


WRITTEN = ("title", "description", "licence", "url", "formats", "source_identifier",
           "update_frequency")


def apply_plan(session: Session, actor: Actor, plan: HarvestPlan) -> None:
    """Write a harvest's additions and updates in the caller's transaction."""
    now = utcnow()
    rows = [{k: item[k] for k in WRITTEN} | {
        "code": item["code"], "publisher_id": item["publisher_id"], "access": item["access"],
        "drl": item["drl"], "source_modified": _parse_date(item["source_modified"]),
        "version": 1, "created_at": now, "updated_at": now} for item in plan.add]
    for start in range(0, len(rows), 1000):
        session.execute(insert(Dataset), rows[start:start + 1000])
    # Two entries may match one dataset: each writes over what the one before it wrote.
    written: dict[int, tuple[int, dict[str, Any]]] = {}
    for item in plan.update:
        version, read = written.get(item["id"], (item["version"], item["read"]))
        written[item["id"]] = _write_update(session, actor, item, version, read, now)
    record(session, actor, action="harvest", entity="dataset", entity_id=None, after={
        "source": plan.source, "added": len(plan.add), "updated": len(plan.update),
        "to_confirm": len(plan.confirm), "unchanged": len(plan.leave)})
    plan.written = True


def _write_update(session: Session, actor: Actor, item: dict[str, Any], version: int,
                  read: dict[str, Any], now: Any) -> tuple[int, dict[str, Any]]:
    """Write a dataset's harvested changes from the version and values read; return the new.

    Only the fields the harvest changes are written, and only at the version the plan read:
    an edit committed meanwhile refuses the whole harvest (409), never put back. Each
    dataset's change is recorded as an edit is, so an edit from before the harvest is merged
    with it (`portfolio.services.merge`).
    """
    changed = {k: item[k] for k in (*WRITTEN, "source_modified") if read.get(k) != item[k]}
    if not changed:
        return version, read
    columns = {**changed, **({"source_modified": _parse_date(changed["source_modified"])}
                             if "source_modified" in changed else {})}
    written = session.execute(
        update(Dataset).where(col(Dataset.id) == item["id"], col(Dataset.version) == version)
        .values(**columns, version=Dataset.version + 1, updated_at=now))
    if rows_changed(written) != 1:
        raise Conflict(f"dataset {item['code']!r} was edited while the harvest read the "
                       "portal; nothing was written: harvest again")
    record(session, actor, action="update", entity="dataset", entity_id=item["id"],
           before={**{k: read.get(k) for k in changed}, "version": version},
           after={**changed, "version": version + 1})
    return version + 1, {**read, **changed}


def _parse_date(value: str | None) -> date | None:
    """Return the date of ISO text."""
    return date.fromisoformat(value) if value else None


def harvest(db: Database, *, actor: Actor, url: str, default_publisher: str, dry_run: bool,
            confirmed: set[str] | None = None, limits: Limits | None = None,
            client: httpx.Client | None = None, today: date | None = None) -> HarvestPlan:
    """Read a portal's catalogue and add or update datasets from it, all or nothing."""
    require(actor, Capability.HARVEST_CATALOGUE)
    with db.read() as session:
        organisation_by_code(session, default_publisher, field="publisher")
    # The portal is read before any transaction opens: a slow portal holds no lock.
    limits = limits or Limits()
    owned = client is None
    client = client or httpx.Client(
        follow_redirects=True, max_redirects=5,
        headers={"User-Agent": "london-data-portfolio harvest"},
        transport=None if limits.private_addresses else PublicOnlyTransport())
    try:
        entries = read_catalogue(url, client=client, limits=limits)
    finally:
        if owned:
            client.close()
    with (db.read() if dry_run else db.write()) as session:
        return harvest_entries(session, actor=actor, entries=entries, source=url,
                               default_publisher=default_publisher, dry_run=dry_run,
                               confirmed=confirmed or set(),
                               today=today or datetime.now(UTC).date())


def harvest_entries(session: Session, *, actor: Actor, entries: list[PortalDataset],
                    source: str, default_publisher: str, dry_run: bool, confirmed: set[str],
                    today: date) -> HarvestPlan:
    """Match a catalogue's entries and, unless a dry run, write them in the caller's transaction."""
    if not dry_run:
        # New codes are chosen among the datasets registered, which miss those another harvest
        # (or registration) has not committed: it would take a code first, and the unique code
        # refuse this harvest's insert. This one waits for it, then matches what it added.
        one_at_a_time(session, NEW_DATASET_CODES)
    publisher = organisation_by_code(session, default_publisher, field="publisher")
    plan = plan_harvest(session, entries, source=source, default_publisher=publisher,
                        confirmed=confirmed, today=today)
    if not dry_run and (plan.add or plan.update):
        apply_plan(session, actor, plan)
    return plan
