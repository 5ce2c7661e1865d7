"""An upload's type comes from its content; zip bombs, programs and oversized files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio.documents import FileStore, clean_filename, identify
from portfolio.errors import Invalid
from tests import documents

LIMIT = 20_000_000


@pytest.mark.parametrize(("data", "name", "media_type"), [
    (documents.PDF, "business-case.pdf", "application/pdf"),
    (documents.docx(), "dpia.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (documents.xlsx(), "costs.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (documents.odt(), "agreement.odt", "application/vnd.oasis.opendocument.text"),
    (documents.PNG, "map.png", "image/png"),
    (documents.JPEG, "photo.jpeg", "image/jpeg"),
    (documents.JPEG, "photo.JPG", "image/jpeg"),
    (documents.PDF, "no-extension", "application/pdf"),
])
def test_each_accepted_type_is_known_from_its_content(data: bytes, name: str,
                                                      media_type: str) -> None:
    assert identify(data, name, max_bytes=LIMIT).media_type == media_type


def refusal(data: bytes, name: str, limit: int = LIMIT) -> str:
    with pytest.raises(Invalid) as caught:
        identify(data, name, max_bytes=limit)
    return caught.value.errors["file"]


def test_a_linux_program_renamed_pdf_is_refused_for_what_it_is() -> None:
    assert "Linux program" in refusal(documents.ELF, "business-case.pdf")


def test_a_windows_program_renamed_pdf_is_refused_for_what_it_is() -> None:
    assert "Windows program" in refusal(documents.EXE, "dpia.pdf")


def test_text_named_pdf_is_refused() -> None:
    assert "attach a PDF, DOCX" in refusal(b"just some words", "notes.pdf")


def test_a_zip_bomb_disguised_as_docx_is_refused() -> None:
    bomb = documents.zip_bomb_docx(60)
    assert len(bomb) < 200_000
    assert "zip bomb" in refusal(bomb, "business-case.docx")


def test_a_docx_whose_directory_understates_its_sizes_is_refused() -> None:
    honest = documents.docx(b"\x00" * 3_000_000)
    declared = (3_000_000).to_bytes(4, "little")
    # Claim a few bytes in both the local header and the central directory.
    forged = honest.replace(declared, (10).to_bytes(4, "little"))
    assert forged != honest
    message = refusal(forged, "business-case.docx")
    assert "damaged" in message or "zip bomb" in message


def test_a_damaged_docx_is_refused() -> None:
    good = documents.docx(b"<w:document>" + b"words " * 2000 + b"</w:document>")
    assert "damaged" in refusal(good[:-60], "x.docx")


def test_a_file_over_the_limit_is_refused_naming_the_limit() -> None:
    message = refusal(documents.PDF + b"\x00" * 30_000, "big.pdf", limit=20_000)
    assert message == "the file is larger than 20 KB, the most a document may be"


def test_a_name_that_says_another_type_is_refused() -> None:
    assert "named .pdf but its content is a PNG image" in refusal(documents.PNG, "map.pdf")


def test_an_empty_file_is_refused() -> None:
    assert "empty" in refusal(b"", "x.pdf")


def test_file_names_lose_their_folders_and_refuse_control_characters() -> None:
    assert clean_filename("C:\\Users\\me\\Business case.pdf") == "Business case.pdf"
    assert clean_filename("../../etc/passwd.pdf") == "passwd.pdf"
    with pytest.raises(Invalid):
        clean_filename("bad\x01name.pdf")
    assert len(clean_filename("x" * 300 + ".pdf")) == 200


def test_the_store_keeps_one_file_per_content(tmp_path: Path) -> None:
    files = FileStore(tmp_path)
    first = files.put(documents.PDF)
    again = files.put(documents.PDF)
    assert first == again and files.path(first).read_bytes() == documents.PDF
    assert len(list(tmp_path.rglob("*"))) == 2  # one folder, one file, no temporary left
    files.discard(first)
    assert not files.exists(first)
