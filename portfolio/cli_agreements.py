"""`portfolio agreements`: list the register, import agreements from CSV, look ahead to a day."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from portfolio.cli import AsEmail, OutputFormat, acting, chosen, console, database, print_rows
from portfolio.enums import AgreementStanding
from portfolio.errors import Invalid
from portfolio.services.filters import require_organisation

agreements_app = typer.Typer(help="The data-sharing agreements register.", no_args_is_help=True)
# The columns of an agreements CSV (the London seed's `seeds/london/agreements.csv`).
CSV_COLUMNS = ("code", "title", "purpose", "parties", "datasets", "lawful_basis",
               "special_category_condition", "dpia_reference", "signed_on", "review_on",
               "expires_on", "status", "document_url")
MAX_ROWS = 10_000


@agreements_app.command("list")
def agreements_list(
    party: Annotated[str | None, typer.Option(help="Organisation code of a party.")] = None,
    status: Annotated[str | None, typer.Option(
        help="Standing today: drafting, signed or expired.")] = None,
    expiring_within: Annotated[int | None, typer.Option(
        help="Only agreements in force expiring within this many days.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")
                   ] = OutputFormat.table,
) -> None:
    """List agreements with their standing today, expiry, projects and value resting on them."""
    from portfolio.services import agreement_pages

    status = chosen("status", status, AgreementStanding)
    db = database()
    with db.read() as session:
        require_organisation(session, party, name="party")
    rows = agreement_pages.agreements_page(db, party=party, status=status,
                                           expiring_within=expiring_within)["agreements"]
    for row in rows:
        row["parties"] = ";".join(f"{p['organisation']}:{p['role']}" for p in row["parties"])
        row["datasets"] = ";".join(d["code"] for d in row["datasets"])
    print_rows(rows, ["code", "title", "standing", "expires_on", "parties", "projects", "value"],
               fmt)


def _row_input(row: dict[str, str]) -> dict[str, Any]:
    """Turn one CSV row into the service's input."""
    parties = []
    for part in filter(None, (p.strip() for p in (row.get("parties") or "").split(";"))):
        organisation, _, role = part.partition(":")
        parties.append({"organisation": organisation.strip(), "role": role.strip()})
    data: dict[str, Any] = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS
                            if k not in {"parties", "datasets"}}
    data["parties"] = parties
    data["datasets"] = [d.strip() for d in (row.get("datasets") or "").split(";") if d.strip()]
    return data


def _read_rows(path: Path) -> list[dict[str, str]]:
    """Read an agreements CSV's rows, or refuse a file that cannot be read as one in words."""
    if path.is_dir():
        raise Invalid({"file": f"{path} is a folder; name a CSV file"})
    if not path.exists():
        raise Invalid({"file": f"{path} does not exist"})
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            # Strict: a quote left open is refused, not read on to the end of the file.
            reader = csv.DictReader(handle, strict=True)
            missing = [c for c in ("code", "title", "parties")
                       if c not in (reader.fieldnames or [])]
            if missing:
                raise Invalid({"file": f"the file lacks the column(s) {', '.join(missing)}"})
            return list(reader)
    except UnicodeDecodeError:
        raise Invalid({"file": f"{path} is not UTF-8 text; save it as CSV UTF-8"}) from None
    except csv.Error as exc:
        raise Invalid({"file": f"{path} cannot be read as CSV: {exc}"}) from None
    except OSError as exc:
        raise Invalid({"file": f"cannot read {path}: {exc.strerror or exc}"}) from None


@agreements_app.command("import")
def agreements_import(
    path: Annotated[Path, typer.Argument(help="A CSV file with the columns of "
                                              "seeds/london/agreements.csv.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row, write nothing.")
                       ] = False,
    as_email: AsEmail = None,
) -> None:
    """Register the agreements of a CSV file, all or nothing (parties as CODE:role;...)."""
    from portfolio.services.agreements import create_agreement

    rows = _read_rows(path)
    if len(rows) > MAX_ROWS:
        raise Invalid({"file": f"import at most {MAX_ROWS:,} agreements at once"})
    db = database()
    actor = acting(as_email)
    problems: list[str] = []
    with db.write() as session:
        for number, row in enumerate(rows, start=2):
            try:
                with session.begin_nested():
                    create_agreement(session=session, actor=actor, data=_row_input(row))
            except Invalid as exc:
                problems += [f"row {number}: {field}: {text}"
                             for field, text in exc.errors.items()]
        for line in problems:
            console.print(line)
        if problems:
            raise Invalid({"file": f"{len(problems)} problem(s); nothing was imported"})
        if dry_run:
            session.rollback()
    verb = "would register" if dry_run else "registered"
    console.print(f"{path}: {verb} {len(rows)} agreement(s)")


@agreements_app.command("as-of")
def agreements_as_of(
    # Named as the service's field, so that a refusal of it names DATE.
    as_of: Annotated[str, typer.Argument(metavar="DATE", help="The day to look at, YYYY-MM-DD.")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")
                   ] = OutputFormat.table,
) -> None:
    """Say what breaks if nothing is renewed by a day: agreements lapsed, projects' scores."""
    from portfolio.services.agreement_pages import what_breaks

    try:
        when = date.fromisoformat(as_of)
    except ValueError:
        raise Invalid({"as_of": f"{as_of!r} is not a date such as 2027-03-31"}) from None
    found = what_breaks(database(), as_of=when)
    if fmt == OutputFormat.json:
        console.print_json(data=found, default=str)
        return
    print_rows(found["agreements"], ["code", "title", "expires_on", "now", "then"], fmt,
               title=f"Agreements lapsing by {when}")
    print_rows(found["projects"], ["slug", "readiness_now", "readiness_then", "score_now",
                                   "score_then"], fmt, title="Projects losing readiness")
    console.print(f"points lost: {found['points_lost']}")
