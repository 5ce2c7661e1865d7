"""The import template, as CSV and as a workbook."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from portfolio.services.imports.columns import TEMPLATE_PATH


def template_bytes() -> bytes:
    """Return the CSV template that docs/IMPORT.md documents."""
    return TEMPLATE_PATH.read_bytes()


def template_xlsx() -> bytes:
    """Return the template as a workbook with one sheet named projects."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "projects"
    reader = csv.reader(io.StringIO(template_bytes().decode("utf-8")))
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
