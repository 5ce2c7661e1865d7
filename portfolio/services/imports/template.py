"""The import template, as CSV and as a workbook."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.models import Organisation
from portfolio.services.imports.columns import TEMPLATE_PATH


def template_bytes(owner: str | None = None) -> bytes:
    """Return the CSV template that docs/IMPORT.md documents, its examples owned by `owner`.

    A lead imports only their own organisation's projects: examples owned by another borough
    would be refused, row by row, from a file they had not changed yet.
    """
    found = TEMPLATE_PATH.read_bytes()
    if owner is None:
        return found
    rows = list(csv.reader(io.StringIO(found.decode("utf-8"))))
    column = rows[0].index("owner")
    for row in rows[1:]:
        row[column] = owner
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def template_owner(session: Session, actor: Actor) -> str | None:
    """Return the organisation whose code the template's examples carry for a user, if any."""
    if actor.organisation_id is None:
        return None  # the staff import for anyone: the examples stay as documented
    found = session.get(Organisation, actor.organisation_id)
    return None if found is None else found.code


def template_xlsx(owner: str | None = None) -> bytes:
    """Return the template as a workbook with one sheet named projects."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "projects"
    reader = csv.reader(io.StringIO(template_bytes(owner).decode("utf-8")))
    for number, cells in enumerate(reader):
        if number == 0:
            sheet.append(cells)
            continue
        sheet.append([_template_value(c) for c in cells])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _template_value(text: str) -> Any:
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+\.\d+", text):
        return float(text)
    return text
