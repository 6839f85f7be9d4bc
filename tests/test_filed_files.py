"""ArchiveItem.files read through one typed accessor (FiledFile); the stored JSON is unchanged."""

from __future__ import annotations

from datetime import date

from gongwen_engine.models.tables import ArchiveItem, FiledFile

STORED = {
    "seq": 1,
    "role": "issued_copy",
    "file": "archive/X001/2012/X001-WS-2012-Y-BGS-0001/01-issued_copy.docx",
    "source": "shandong/鲁妇发〔2012〕10号.docx",
    "format": "docx",
    "size": 12345,
    "sha256": "ab" * 32,
    "sm3": "cd" * 32,
    "pages": 2,
    "pages_method": "pdf",
    "stamped": True,
}


def _item(files: list[dict]) -> ArchiveItem:
    return ArchiveItem(
        org="shandong",
        fonds="X001",
        year=2012,
        retention="Y",
        dept_code="BGS",
        item_no=1,
        archive_code="X001-WS-2012-Y-BGS-0001",
        title="关于转发的通知",
        responsible="山东省妇女联合会",
        dated=date(2012, 1, 31),
        files=files,
    )


def test_a_filed_file_dumps_to_the_stored_json_key_for_key() -> None:
    (filed,) = _item([STORED]).filed_files()
    assert (filed.file, filed.size, filed.stamped) == (STORED["file"], 12345, True)
    assert list(filed.model_dump().items()) == list(STORED.items())


def test_an_entry_stored_before_the_stamp_was_recorded_reads_as_unstamped() -> None:
    older = {k: v for k, v in STORED.items() if k != "stamped"}
    assert _item([older]).filed_files() == [FiledFile(**older, stamped=False)]


def test_an_imported_file_may_not_know_its_pages() -> None:
    assert _item([STORED | {"pages": None, "pages_method": None}]).filed_files()[0].pages is None
