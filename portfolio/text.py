"""Text rules shared by inputs and spreadsheet writers: control characters, formulas, amounts.

Inputs (forms, API, import, CLI) refuse C0 and C1 control characters, except tab and line
breaks in long text, through `refuse_controls`. Writers of spreadsheet formats (CSV, XLSX, the
Data Package's CSVs) pass every text cell through `neutralise`, which first strips the control
characters already stored (rows from before the rule, which lxml and openpyxl refuse) and then
prefixes an apostrophe to text a spreadsheet would run as a formula (OWASP ASVS V1.2.10).
Amounts people type (forms, the plan and roadmap, the import) read commas only as thousands
(`THOUSANDS`, `typed_amount`); a comma anywhere else is refused in words, never joined up.
"""

from __future__ import annotations

import re

# C0 (but tab, line feed, carriage return), DEL and C1; and what XML cannot hold either (lone
# surrogates, U+FFFE, U+FFFF), which would make every XLSX written with it a damaged file.
_NOT_XML = "\x7f-\x9f\ud800-\udfff\ufffe\uffff"
CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_NOT_XML}]")
# Single-line text also refuses tab and line breaks.
CONTROL_SINGLE_LINE = re.compile(f"[\x00-\x1f{_NOT_XML}]")
# Invisible characters a spreadsheet skips before deciding that a cell is a formula.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
# ASCII and full-width formula starts; tab and carriage return too (OWASP).
FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


WHOLE_DIGITS = 100


def whole_number(value: str) -> int | None:
    """Return text of up to 100 ASCII digits (spaces around) as a number, else None."""
    # str.isdigit() also takes "²" and "①", which int() then refuses; so it does past 4,300
    # digits. A number past the database's 64-bit range is still read: the services refuse
    # it in words (an id or a version it never had).
    value = value.strip()
    return (int(value) if value.isascii() and value.isdigit() and len(value) <= WHOLE_DIGITS
            else None)


def strip_controls(value: str) -> str:
    """Return text without control characters (tab and line breaks kept)."""
    return CONTROL.sub("", value) if CONTROL.search(value) else value


def neutralise(value: str) -> str:
    """Return a text cell a spreadsheet will show rather than run: strip, then neutralise.

    The apostrophe goes before text whose first mark, past invisible characters and
    apostrophes, starts a formula: so text that already starts with an apostrophe gets one
    more, and `unneutralise` takes exactly one off again.
    """
    if not value:
        return value
    # Most cells: no control or invisible character at all (those are not printable), and no
    # formula start or apostrophe; one C-level check instead of a regular expression per cell.
    if value.isprintable() and value[0] not in FORMULA_START and value[0] != "'":
        return value
    value = strip_controls(value)
    if value and value.lstrip(INVISIBLE + "'")[:1] in FORMULA_START:
        return "'" + value
    return value


def unneutralise(value: str) -> str:
    """Return text read back from a spreadsheet without the apostrophe `neutralise` added."""
    if value[:1] == "'" and neutralise(value[1:]) == value:
        return value[1:]
    return value


def control_problem(value: str, *, multiline: bool = False) -> str | None:
    """Return why text is refused for its control characters, or None when it is clean."""
    found = (CONTROL if multiline else CONTROL_SINGLE_LINE).search(value)
    if found is None:
        return None
    allowed = " (tab and line breaks are allowed)" if multiline else ""
    return (f"must not contain control characters: found U+{ord(found.group()):04X} at "
            f"position {found.start() + 1}{allowed}")


def refuse_controls(value: str) -> str:
    """Pydantic validator: refuse single-line text holding a control character."""
    problem = control_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def refuse_controls_multiline(value: str) -> str:
    """Pydantic validator: refuse long text holding a control character other than line breaks."""
    problem = control_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


# Commas only between groups of three digits, the first not 0: anything else is a slip or a
# decimal comma, which read as thousands would make "100,5" 1005 and "0,035" 35.
THOUSANDS = re.compile(r"^[-+]?£?[1-9]\d{0,2}(,\d{3})+(\.\d*)?$")


def comma_problem(value: str) -> str | None:
    """Return why a typed amount's commas cannot be thousands, or None when they can."""
    compact = re.sub(r"[\s\u00a0\u202f]", "", value)
    if "," not in compact or THOUSANDS.match(compact):
        return None
    return (f"“{value.strip()}” has a comma out of place: write decimals with a point "
            "(100.5) and thousands with commas (1,000)")


def typed_amount(value: str) -> str:
    """Return a typed amount without £, spaces and thousands commas; ValueError if misplaced."""
    problem = comma_problem(value)
    if problem:
        raise ValueError(problem)
    return re.sub(r"[£,\s\u00a0\u202f]", "", value)
