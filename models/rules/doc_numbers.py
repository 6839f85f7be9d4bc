"""The form of document numbers (发文字号) and incoming-register numbers (收文登记号).

The format rule lives here and only here: ``{prefix}〔{year}〕{serial}号`` — the year in full
Arabic digits inside 六角括号 〔〕, the serial without 第 and without leading zeros
(GB/T 9704-2012 §7.2.4). Allocation (gap-free counters in the database) is ``models/numbering.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOC_NUMBER_RE = re.compile(r"^(?P<prefix>[^〔〕\s]+)〔(?P<year>\d{4})〕(?P<serial>[1-9]\d*)号$")


@dataclass(frozen=True)
class DocNumber:
    """A parsed 发文字号."""

    prefix: str
    year: int
    serial: int

    def __str__(self) -> str:
        return format_doc_number(self.prefix, self.year, self.serial)


def format_doc_number(prefix: str, year: int, serial: int) -> str:
    """('鲁妇发', 2012, 10) -> '鲁妇发〔2012〕10号'."""
    if serial < 1:
        raise ValueError(f"serial must be >= 1, got {serial}")
    head, tail = doc_number_affixes(prefix, year)
    return f"{head}{serial}{tail}"


def doc_number_affixes(prefix: str, year: int) -> tuple[str, str]:
    """What stands before and after the serial: ('鲁妇发〔2012〕', '号'). The database builds the
    number from these when it allocates (``allocate_doc_number``), so the format stays here."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"year must have four digits, got {year}")
    return f"{prefix}〔{year}〕", "号"


def parse_doc_number(text: str) -> DocNumber:
    """'鲁妇发〔2012〕10号' -> DocNumber; anything not in the standard form is refused."""
    match = DOC_NUMBER_RE.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a document number of the form 机关代字〔2012〕10号")
    return DocNumber(match["prefix"], int(match["year"]), int(match["serial"]))


# Look-alikes seen in received documents: [2012], ［2012］, (2012), （2012）, 【2012】, {2012}, 第10号,
# leading zeros (010号), full-width digits and spaces. One pattern reads them all; the standard
# form is then written by format_doc_number.
_LOOSE_DOC_NUMBER_RE = re.compile(
    r"^(?P<prefix>[^\s\[\]［］()（）〔〕【】{}\d０-９]{1,12}?)\s*"
    r"(?P<open>[\[［(（〔【{〖])\s*(?P<year>[0-9０-９]{4})\s*(?P<close>[\]］)）〕】}〗])\s*"
    r"(?P<di>第?)\s*(?P<serial>[0-9０-９]{1,6})\s*(?P<hao>[号號])$"
)
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def normalise_doc_number(text: str) -> tuple[DocNumber, list[str]]:
    """Read a 发文字号 as written by any sender; return it and what had to be changed.

    '鲁妇发[2012]第010号' -> (鲁妇发〔2012〕10号, ['年份括号 [] 改为六角括号 〔〕', '删去序号前的“第”',
    '删去序号的前导零 010 → 10']). Raises ValueError if ``text`` is no document number at all.
    """
    compact = re.sub(r"\s+", "", text.strip())
    match = _LOOSE_DOC_NUMBER_RE.match(compact)
    if not match:
        raise ValueError(f"'{text}' is not a document number of the form 机关代字〔2012〕10号")
    changes: list[str] = []
    if compact != text.strip():
        changes.append("删去文号中的空格")
    brackets = match["open"] + match["close"]
    if brackets != "〔〕":
        changes.append(f"年份括号 {brackets} 改为六角括号 〔〕")
    year_text, serial_text = match["year"], match["serial"]
    if (year_text + serial_text) != (year_text + serial_text).translate(_FULLWIDTH_DIGITS):
        changes.append("全角数字改为半角数字")
    year_text, serial_text = year_text.translate(_FULLWIDTH_DIGITS), serial_text.translate(_FULLWIDTH_DIGITS)
    if match["di"]:
        changes.append("删去序号前的“第”")
    serial = int(serial_text)
    if serial_text != str(serial):
        changes.append(f"删去序号的前导零 {serial_text} → {serial}")
    if match["hao"] != "号":
        changes.append("“號”改为“号”")
    number = DocNumber(match["prefix"], int(year_text), serial)
    format_doc_number(number.prefix, number.year, number.serial)  # validates serial >= 1 and the year
    return number, changes


def register_sequence(org: str) -> str:
    """The incoming-register (收文登记) sequence of one organisation."""
    return f"register:{org}"


def format_register_number(year: int, serial: int) -> str:
    """收文登记号, e.g. 收〔2012〕3号 (internal register; same bracket convention as 发文字号)."""
    return f"收〔{year}〕{serial}号"
