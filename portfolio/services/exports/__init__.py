"""Write a snapshot, or the live portfolio, as CSV, JSON, Parquet, XLSX, a Data Package or GraphML.

What each format holds:
- csv: one table (default: projects in rank order), UTF-8, RFC 4180; streamed.
- json: the whole snapshot, {"snapshot": {...}, "tables": {name: [row objects]}}; streamed.
- parquet: one table (default: projects), typed, with the snapshot's metadata in the schema.
- xlsx: an About sheet, then one sheet per table (continued on further sheets past Excel's
  row limit).
- datapackage: a zip of datapackage.json (Frictionless Tabular Data Package: a table schema per
  resource with primary and foreign keys, licence, sources, created time, snapshot hash) and one
  CSV per table under data/.
- graphml: the graph of projects, datasets and organisations.

Every export of the same snapshot is byte-identical: rows come in the snapshot's canonical
order, and zip members, workbook properties and file times carry the snapshot's own time.
Text cells in CSV, XLSX and the Data Package's CSVs go through one function,
`portfolio.text.neutralise`: control characters are stripped first, then text a spreadsheet
would run as a formula (starting with = + - @, their full-width forms, a tab or a carriage
return, after any zero-width character) gets a leading apostrophe (OWASP ASVS V1.2.10). JSON and
Parquet are data formats and keep text as stored; GraphML drops what XML cannot hold.

One writer module per format (`to_csv`, `to_json`, `to_parquet`, `to_xlsx`, `to_datapackage`,
`to_graphml`), what they share in `common`, and the one list of formats in `registry.FORMATS`.
"""

from portfolio.services.exports.common import DEFAULT_TABLE
from portfolio.services.exports.diff_csv import diff_csv
from portfolio.services.exports.registry import (
    FORMAT_NAMES,
    FORMATS,
    MEDIA_TYPES,
    ExportFormat,
    Format,
    check_table,
    export_filename,
    live_content,
    live_tables,
    stream_export,
    write_export,
)

__all__ = [
    "DEFAULT_TABLE",
    "FORMATS",
    "FORMAT_NAMES",
    "MEDIA_TYPES",
    "ExportFormat",
    "Format",
    "check_table",
    "diff_csv",
    "export_filename",
    "live_content",
    "live_tables",
    "stream_export",
    "write_export",
]
