"""Import projects from a CSV or XLSX file: check every row first, then write all or nothing.

The file's columns are documented in docs/IMPORT.md (the template is seeds/import_template.csv).
A row whose slug exists updates that project; a cell left blank keeps the project's current
value (a new project gets the default). `datasets` and `depends_on` add links and dependencies;
an import never removes any.

One concept per module: `columns` (columns, limits, refusals, the report), `reading` (the file),
`checking` (the rows), `writing` (the transaction), `importing` (the use case), `template`
and `editable` (the projects a user may import, as a file to edit and import again).
"""

from portfolio.services.imports.columns import (
    COLUMN_HELP,
    COLUMNS,
    MAX_IMPORT_BYTES,
    REQUIRED,
    BadFile,
    FileTooLarge,
    ImportLimits,
    ImportReport,
    OverLimit,
    Progress,
    RowError,
)
from portfolio.services.imports.editable import EDITABLE_FORMATS, export_projects
from portfolio.services.imports.importing import import_projects
from portfolio.services.imports.reading import (
    Sheet,
    read_sheet,
    require_importer,
    too_large_message,
)
from portfolio.services.imports.template import template_bytes, template_owner, template_xlsx

__all__ = [
    "COLUMNS",
    "COLUMN_HELP",
    "EDITABLE_FORMATS",
    "MAX_IMPORT_BYTES",
    "REQUIRED",
    "BadFile",
    "FileTooLarge",
    "ImportLimits",
    "ImportReport",
    "OverLimit",
    "Progress",
    "RowError",
    "Sheet",
    "export_projects",
    "import_projects",
    "read_sheet",
    "require_importer",
    "template_bytes",
    "template_owner",
    "template_xlsx",
    "too_large_message",
]
