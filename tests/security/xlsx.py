"""Workbooks written by hand, as a hostile client would: the sheet XML is ours to choose."""

from __future__ import annotations

import io
import zipfile

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="projects" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
HEADER = ("slug", "title", "owner", "theme")


def _cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


def workbook(dimension: str, rows: list[tuple[int, list[tuple[str, str]]]]) -> bytes:
    """Return an .xlsx whose sheet declares a dimension and holds only the given cells."""
    letters = "ABCD"
    body = '<row r="1">' + "".join(_cell(f"{letters[i]}1", name)
                                   for i, name in enumerate(HEADER)) + "</row>"
    for number, cells in rows:
        body += f'<row r="{number}">' + "".join(_cell(ref, text) for ref, text in cells) + "</row>"
    return workbook_with_sheet('<?xml version="1.0" encoding="UTF-8"?>'
                               '<worksheet xmlns="http://schemas.openxmlformats.org/'
                               f'spreadsheetml/2006/main"><dimension ref="{dimension}"/>'
                               f"<sheetData>{body}</sheetData></worksheet>")


def declared_dimension_bomb(last_row: int = 8000) -> bytes:
    """Return the review's bomb: A1:XFD<n> declared, a header and one cell in the last row."""
    return workbook(f"A1:XFD{last_row}", [(last_row, [(f"XFD{last_row}", "x")])])


def shared_strings_bomb(megabytes: int = 20) -> bytes:
    """Return a small .xlsx whose shared strings unpack to `megabytes` MB of one letter."""
    types = CONTENT_TYPES.replace("</Types>", (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    rels = WORKBOOK_RELS.replace("</Relationships>", (
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="1">' + "".join(_cell(f"{'ABCD'[i]}1", name)
                                                for i, name in enumerate(HEADER))
             + '</row></sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", rels)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        with archive.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                          b'openxmlformats.org/spreadsheetml/2006/main">')
            item = b"<si><t>" + b"a" * 1000 + b"</t></si>"
            for _ in range(megabytes * 1000):
                strings.write(item)
            strings.write(b"</sst>")
    return out.getvalue()


def workbook_with_sheet(sheet: str) -> bytes:
    """Return an .xlsx whose one sheet, "projects", is this XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


def workbook_with_row(cells: str) -> bytes:
    """Return an .xlsx of the header and one row 2 of these cells, written as XML."""
    header = "".join(_cell(f"{'ABCD'[i]}1", name) for i, name in enumerate(HEADER))
    return workbook_with_sheet(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<sheetData><row r="1">{header}</row><row r="2">{cells}</row></sheetData></worksheet>')
