"""What an uploaded document is, judged from its bytes, and where its bytes are kept.

The type comes from the content (the `filetype` package's signatures), never from the name or
the browser's Content-Type. Office documents are ZIP archives: before one is accepted every
member is inflated, counting, so a small file that would unpack to gigabytes is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import filetype

from portfolio.errors import Invalid
from portfolio.text import control_problem


@dataclass(frozen=True)
class DocumentType:
    """A kind of file the portfolio accepts."""

    media_type: str
    name: str
    extensions: tuple[str, ...]
    zipped: bool = False


ACCEPTED: tuple[DocumentType, ...] = (
    DocumentType("application/pdf", "PDF", ("pdf",)),
    DocumentType("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "Word document (DOCX)", ("docx",), zipped=True),
    DocumentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "Excel workbook (XLSX)", ("xlsx",), zipped=True),
    DocumentType("application/vnd.oasis.opendocument.text", "OpenDocument text (ODT)", ("odt",),
                 zipped=True),
    DocumentType("image/png", "PNG image", ("png",)),
    DocumentType("image/jpeg", "JPEG image", ("jpg", "jpeg")),
)
BY_MEDIA_TYPE = {t.media_type: t for t in ACCEPTED}
ACCEPTED_NAMES = "PDF, DOCX, XLSX, ODT, PNG or JPEG"
# Words for what else a file may turn out to be, for the refusal.
SEEN_AS = {
    "application/x-executable": "a Linux program (ELF executable)",
    "application/x-msdownload": "a Windows program (executable)",
    "application/x-mach-binary": "a macOS program",
    "application/x-sh": "a shell script",
    "application/zip": "a ZIP archive",
    "text/html": "a web page",
}

# Zip-bomb limits (after Apache POI's ZipSecureFile): a member bigger than GRACE_BYTES
# unpacked may be at most MAX_RATIO times its compressed size, and all members together
# may unpack to at most MAX_UNPACKED_FACTOR times the upload limit.
MAX_RATIO = 100
GRACE_BYTES = 100_000
MAX_UNPACKED_FACTOR = 10
MAX_MEMBERS = 10_000
READ_BYTES = 1 << 16
FILENAME_MAX = 200
MB = 1_000_000


def megabytes(size: int) -> str:
    """Return a size as people read it ("20 MB", "20.5 MB", "35 KB")."""
    if size < 100_000:
        return f"{max(1, round(size / 1000))} KB"
    value = size / MB
    return f"{value:.0f} MB" if value == int(value) else f"{value:.1f} MB"


def refuse(message: str) -> Invalid:
    """Return the refusal of an upload, named after its field."""
    return Invalid({"file": message})


def clean_filename(name: str) -> str:
    """Return the base name of an upload, refusing control characters and blanks."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = " ".join(base.split())
    if problem := control_problem(base):
        raise refuse(f"the file name {problem}")
    if not base or base in {".", ".."}:
        raise refuse("the file has no name")
    if len(base) > FILENAME_MAX:
        stem, dot, extension = base.rpartition(".")
        base = (stem[: FILENAME_MAX - len(extension) - 1] + dot + extension) if dot else (
            base[:FILENAME_MAX])
    return base


def identify(data: bytes, filename: str, *, max_bytes: int) -> DocumentType:
    """Return the accepted type of an upload's bytes, or refuse it saying why."""
    if not data:
        raise refuse("the file is empty")
    if len(data) > max_bytes:
        # The caller may read only one byte past the limit: say the limit, not a size.
        raise refuse(f"the file is larger than {megabytes(max_bytes)}, the most a document "
                     "may be")
    guess = filetype.guess(data)
    found = BY_MEDIA_TYPE.get(guess.mime) if guess is not None else None
    if found is None:
        seen = SEEN_AS.get(guess.mime, f"a {guess.mime} file") if guess else "not a type we know"
        raise refuse(f"the file's content is {seen}, whatever its name says; attach a "
                     f"{ACCEPTED_NAMES} file")
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension and extension not in found.extensions:
        raise refuse(f"the file is named .{extension} but its content is a {found.name}; "
                     "rename it to match what it is")
    if found.zipped:
        check_archive(data, found, max_bytes=max_bytes)
    return found


def check_archive(data: bytes, found: DocumentType, *, max_bytes: int) -> None:
    """Refuse an Office document that is damaged or unpacks far beyond its size (a zip bomb)."""
    budget = max_bytes * MAX_UNPACKED_FACTOR
    bomb = (f"the {found.name} would unpack to more than {megabytes(budget)} or at more than "
            f"{MAX_RATIO} times its packed size (a zip bomb); it was not stored")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise refuse(f"the {found.name} holds {len(members)} parts; at most "
                             f"{MAX_MEMBERS} are accepted")
            # What the archive declares first (cheap), then what it really holds (a
            # directory can lie about sizes).
            if sum(m.file_size for m in members) > budget or any(
                    _too_packed(m.file_size, m.compress_size) for m in members):
                raise refuse(bomb)
            unpacked = 0
            for member in members:
                seen = 0
                with archive.open(member) as stream:
                    while chunk := stream.read(READ_BYTES):
                        seen += len(chunk)
                        unpacked += len(chunk)
                        if unpacked > budget or _too_packed(seen, member.compress_size):
                            raise refuse(bomb)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            OSError, ValueError) as exc:
        raise refuse(f"the {found.name} is damaged and cannot be read ({exc})") from None


def _too_packed(unpacked: int, packed: int) -> bool:
    """Tell whether a member unpacks to more than MAX_RATIO times its packed size."""
    return unpacked > GRACE_BYTES and unpacked > MAX_RATIO * max(packed, 1)


def content_hash(data: bytes) -> str:
    """Return the sha256 (hex) a document is stored under."""
    return hashlib.sha256(data).hexdigest()


class FileStore:
    """Documents on disk, one file per content hash (root/ab/abcdef...)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Return where the document with this hash is kept."""
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256: {digest!r}")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Keep a document (once, however often it comes) and return its hash."""
        digest = content_hash(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return digest

    def exists(self, digest: str) -> bool:
        """Tell whether the document is on disk."""
        return self.path(digest).exists()

    def discard(self, digest: str) -> None:
        """Delete a document's file (when no attachment refers to it any more)."""
        self.path(digest).unlink(missing_ok=True)
