"""Reading the structure of a received document (公文结构识别), GB/T 9704-2012 §7 and the
pre-2012 fields (domain README §3).

The lines of a file are read part by part: the document itself (``main``), then what follows it
— a forwarded document (``forwarded``: its own mark and number, or the document a 转发 title
names) or an attachment (``attachment``: after an 附件 heading, or any further text when the
document lists attachments). Each part is read top-down: header (份号, 密级, 紧急程度, mark,
number, 签发人), title, main recipients, body with heading levels, attachment notes, signature
and date of writing, notes (附注), colophon (抄送, 印发机关和印发日期, 主题词, 报/送/发, 共印N份).

Every field found is a :class:`Field` with the line it came from, a confidence (0–1) and the
warnings about it (e.g. what normalising the number changed). A file that is a collection of
several texts (篇1, 篇2, …) is reported as such: no fields are invented for the file as a whole,
and each text is read on its own (:class:`CollectionText`), so the deadlines each one states are
found (seed 004: 5月19日前, 5月25日前, 6月10日前 in 篇一).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gongwen_engine.doc_templates.reader.deadlines import Deadline, find_deadlines
from gongwen_engine.doc_templates.reader.extract import Line
from gongwen_engine.models.rules.dates import CN_DATE_RE, format_cn_date, parse_cn_date
from gongwen_engine.models.rules.doc_kinds import TITLE_ENDINGS, kind_of_title
from gongwen_engine.models.rules.doc_numbers import normalise_doc_number
from gongwen_engine.models.rules.titles import forwarding_source

# The fields a document normally has; those not found are listed as missing.
EXPECTED_FIELDS = ("issuer_mark", "doc_number", "title", "main_recipients", "signature", "issued_on")
MARK_SUFFIXES = ("文件", "命令", "纪要")
ORG_SUFFIXES = tuple("联合会 妇联 委员会 政府 办公厅 办公室 人民代表大会 政协 工会 团委 局 厅 部 委 院 署 会 处 室 中心".split())
# How a main recipient's name ends (各市妇联, 各有关单位, 各县（市、区）妇联, 婦聯 in traditional script).
RECIPIENT_ENDINGS = (*ORG_SUFFIXES, "单位", "部门", "组织", "机关", "会员", "同志", "）", ")", "聯", "會", "單位", "部門", "組織", "機關", "辦公室", "廳")

_SPACES = re.compile(r"[\s\u3000\xa0]+")
_COPY_RE = re.compile(r"^\d{6}$")
_SECURITY_RE = re.compile(r"^(绝密|机密|秘密)(★.*)?$")
_URGENCY_RE = re.compile(r"^(特急|加急|特提|平急)$")
_NUMBER_HINT = re.compile(r"[\[［(（〔【{〖]\s*[0-9０-９]{4}\s*[\]］)）〕】}〗]\s*第?\s*[0-9０-９]{1,6}\s*[号號]")
_SIGNER_RE = re.compile(r"签发人[:：]\s*(?P<signer>\S.*)$")
_DATE_ONLY_RE = re.compile(rf"^[（(]?{CN_DATE_RE.pattern}[）)]?$")
_HEADINGS = (
    (1, re.compile(r"^[一二三四五六七八九十]+、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]+[）)]")),
    (3, re.compile(r"^\d{1,2}[.．、](?!\d)")),
    (4, re.compile(r"^[（(]\d{1,2}[）)]")),
)
_ATTACHMENT_NOTE_RE = re.compile(r"^附\s*件\s*(?P<n>[一二三四五六七八九十\d]*)\s*[:：]\s*(?P<rest>.*)$")
_ATTACHMENT_HEAD_RE = re.compile(r"^附\s*件\s*(?P<n>[一二三四五六七八九十\d]*)$")
_NOTE_ITEM_RE = re.compile(r"^\d{1,2}[.．、]\s*(?P<name>.+)$")
_CONTACT_RE = re.compile(r"^(联系人|联系电话|电话|传真|邮箱|地址|邮编)[:：]")
_CONTACT_LABEL_RE = re.compile(r"^(?P<label>[^:：]{1,12})[:：]\s*(?P<value>.*)$")
_COLOPHON_RE = re.compile(r"^(?P<label>主题词|抄送|报|送|发)[:：]\s*(?P<value>.*)$")
_PRINTED_RE = re.compile(rf"^(?P<office>.*?)\s*(?P<date>{CN_DATE_RE.pattern})\s*印发$")
_COPIES_RE = re.compile(r"^[（(]?共印\s*(?P<n>\d+)\s*份[）)]?$")
_PAGE_NUMBER_RE = re.compile(r"^[—–\-－]\s*\d{1,4}\s*[—–\-－]$")
_PINYIN_RE = re.compile(r"(?<=[\u4e00-\u9fff])\([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]{1,7}\)")
_COLLECTION_MARK_RE = re.compile(r"^(篇[一二三四五六七八九十\d]{1,3}|.{2,40}篇\s*[一二三四五六七八九十\d]{1,3})$")
_TRADITIONAL = set("為與對區婦兒聯國們學號報書發會過這實關際時據達劃質機區務應將請單員統計總導護權衛環體東門開階題職義須辦條義")
_SENTENCE_END = "。！？；"
_LIST_SEPARATORS = re.compile(r"[，,；;]")


@dataclass
class Field:
    """One field read from the file: the value, the line it came from, how sure, and warnings."""

    name: str
    value: Any
    source: str
    confidence: float
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        value = self.value.isoformat() if isinstance(self.value, date) else self.value
        return {"value": value, "source": self.source, "confidence": self.confidence, "warnings": self.warnings}


@dataclass
class Paragraph:
    """A body paragraph: its text, heading level (0 plain, 1 一、, 2 （一）, 3 1., 4 （1）) and source."""

    text: str
    level: int
    source: str


@dataclass
class Part:
    """One document inside the file: the main document, a forwarded document or an attachment."""

    kind: str
    fields: dict[str, Field] = field(default_factory=dict)
    body: list[Paragraph] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)

    def value(self, name: str, default: Any = None) -> Any:
        found = self.fields.get(name)
        return found.value if found else default

    @property
    def missing(self) -> list[str]:
        return [name for name in EXPECTED_FIELDS if name not in self.fields]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fields": {k: f.as_json() for k, f in self.fields.items()},
            "missing": self.missing,
            "body": [{"text": p.text, "level": p.level, "source": p.source} for p in self.body],
            "deadlines": [d.as_json() for d in self.deadlines],
        }


@dataclass
class CollectionText:
    """One text of a collection (篇一, 篇二 …): its heading, where it starts, and its own reading."""

    heading: str
    source: str
    reading: Reading

    def as_json(self) -> dict[str, Any]:
        return {"heading": self.heading, "source": self.source, **self.reading.as_json()}


@dataclass
class Reading:
    """What the reader made of one file."""

    parts: list[Part] = field(default_factory=list)
    collection: list[str] = field(default_factory=list)  # the texts' headings when the file is a collection
    texts: list[CollectionText] = field(default_factory=list)  # a collection: each text read on its own
    script: str = "simplified"
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    has_text: bool = False
    active_content: list[str] = field(default_factory=list)  # a PDF's JavaScript, launch/open actions, embedded files (extract.py)

    @property
    def main(self) -> Part | None:
        return self.parts[0] if self.parts else None

    @property
    def fields(self) -> dict[str, Field]:
        return self.main.fields if self.main else {}

    @property
    def missing(self) -> list[str]:
        return self.main.missing if self.main else list(EXPECTED_FIELDS)

    @property
    def deadlines(self) -> list[Deadline]:
        """Every deadline stated in the file: in its parts, or in each text of a collection."""
        return [d for part in self.parts for d in part.deadlines] + [d for text in self.texts for d in text.reading.deadlines]

    def part(self, kind: str) -> Part | None:
        return next((p for p in self.parts if p.kind == kind), None)

    def as_json(self) -> dict[str, Any]:
        data = {
            "format": self.format,
            "script": self.script,
            "collection": self.collection,
            "warnings": self.warnings,
            "fields": {k: f.as_json() for k, f in self.fields.items()},
            "missing": self.missing,
            "deadlines": [d.as_json() for d in self.deadlines],
            "parts": [p.as_json() for p in self.parts],
        }
        if self.texts:
            data["texts"] = [t.as_json() for t in self.texts]
        return data


def compact(text: str) -> str:
    """The text without any spaces (全  国  妇  联 -> 全国妇联)."""
    return _SPACES.sub("", text)


def parse_lines(lines: list[Line]) -> Reading:
    """Read the structure of a file's lines."""
    reading = Reading()
    cleaned, stripped_pinyin = [], False
    for line in lines:
        text = line.text.strip()
        if _PINYIN_RE.search(text):
            text, stripped_pinyin = _PINYIN_RE.sub("", text), True
        if text and not _PAGE_NUMBER_RE.match(compact(text)):
            cleaned.append(Line(text, line.source))
    reading.has_text = bool(cleaned)
    if stripped_pinyin:
        reading.warnings.append("原文汉字后附有拼音注音（如“發(fā)”），读取时已去掉")
    all_text = "".join(line.text for line in cleaned)
    cjk = sum(1 for c in all_text if "\u4e00" <= c <= "\u9fff")
    traditional = sum(1 for c in all_text if c in _TRADITIONAL)
    if cjk and traditional >= 10 and traditional / cjk > 0.03:
        reading.script = "traditional"
        reading.warnings.append("原文为繁体字，按原文读取（未做繁简转换）")
    markers = [i for i, line in enumerate(cleaned) if _COLLECTION_MARK_RE.match(compact(line.text))]
    if len(markers) >= 2:
        _read_collection(cleaned, markers, reading)
        return reading
    if not cleaned:
        return reading
    _PartReader(cleaned, reading).read()
    return reading


def _read_collection(lines: list[Line], markers: list[int], reading: Reading) -> None:
    """A collection (篇1, 篇2 …): no fields for the file as a whole; each text read on its own."""
    reading.collection = [compact(lines[i].text) for i in markers]
    for k, start in enumerate(markers):
        end = markers[k + 1] if k + 1 < len(markers) else len(lines)
        text = Reading(script=reading.script, has_text=end > start + 1)
        if text.has_text:
            _PartReader(lines[start + 1 : end], text).read()
        reading.texts.append(CollectionText(reading.collection[k], lines[start].source, text))
        reading.warnings.extend(f"{reading.collection[k]}：{warning}" for warning in text.warnings)
    sources = "、".join(f"{compact(lines[i].text)}（{lines[i].source}）" for i in markers[:10])
    reading.warnings.append(f"这不是一份公文，而是 {len(markers)} 篇文字的合集：{sources}；整份文件不识别公文字段，各篇分别读取（见 texts）")


class _PartReader:
    """Reads the parts one after another over the cleaned lines."""

    def __init__(self, lines: list[Line], reading: Reading) -> None:
        self.lines, self.reading, self.i = lines, reading, 0

    @property
    def n(self) -> int:
        return len(self.lines)

    def text(self, i: int | None = None) -> str:
        return compact(self.lines[self.i if i is None else i].text)

    def read(self) -> None:
        main = self.part("main")
        while self.i < self.n:
            before = self.i
            kind = "attachment"
            heading = _ATTACHMENT_HEAD_RE.match(self.text())
            if heading:
                self.i += 1
            elif self._forwarded(main):
                kind = "forwarded"
            part = self.part(kind)
            if heading:
                part.fields["attachment_heading"] = Field("attachment_heading", compact(self.lines[before].text), self.lines[before].source, 0.9)
            if self.i == before:  # nothing could be read: keep the line as body text and move on
                part.body.append(Paragraph(self.lines[self.i].text, 0, self.lines[self.i].source))
                self.i += 1
        written_on = main.value("issued_on")
        for part in self.reading.parts:
            when = part.value("issued_on") or written_on
            part.deadlines = [d for p in part.body for d in find_deadlines(p.text, p.source, when)]
        unresolved = [d.text for d in self.reading.deadlines if d.kind != "working_days" and d.start is None]
        if unresolved:
            self.reading.warnings.append(f"时限“{'”“'.join(unresolved)}”没有写年份，文中也没有成文日期可推算：登记报送要求时请写明年份")

    def _forwarded(self, main: Part) -> bool:
        title = main.value("title") or ""
        return self._is_mark(self.i) or (forwarding_source(title) is not None and not main.value("attachment_notes"))

    # ---- one part ---------------------------------------------------------------------------
    def part(self, kind: str) -> Part:
        part = Part(kind)
        self.reading.parts.append(part)
        self._header(part)
        self._title(part)
        self._recipients(part)
        self._body_and_closing(part)
        self._after_date(part)
        return part

    def _add(self, part: Part, name: str, value: Any, i: int, confidence: float, warnings: list[str] | None = None) -> None:
        part.fields[name] = Field(name, value, self.lines[i].source, confidence, warnings or [])

    def _header(self, part: Part) -> None:
        for name, pattern in (("copy_number", _COPY_RE), ("security", _SECURITY_RE), ("urgency", _URGENCY_RE)):
            if self.i < self.n and pattern.match(self.text()):
                self._add(part, name, self.text(), self.i, 0.9)
                self.i += 1
        if self.i < self.n and self._is_mark(self.i):
            start, mark = self.i, self.text()
            self.i += 1
            if self.i < self.n and self.text() in MARK_SUFFIXES and not mark.endswith(MARK_SUFFIXES):
                mark += self.text()  # the mark laid out as a table: name | 文件
                self.i += 1
            confident = mark.endswith(MARK_SUFFIXES)
            self._add(part, "issuer_mark", mark, start, 0.95 if confident else 0.7, [] if confident else ["发文机关标志没有“文件”二字，按首行的机关名称读取"])
            self._add(part, "issuer", _issuer_from_mark(mark), start, 0.9 if confident else 0.7)
        for _ in range(2):  # number and signer, on one line or two
            if self.i >= self.n:
                return
            line, consumed = self.text(), False
            signer = _SIGNER_RE.search(line)
            if signer and "signer" not in part.fields:
                self._add(part, "signer", signer["signer"], self.i, 0.9)
                line, consumed = line[: signer.start()], True
            number = _NUMBER_HINT.search(line)
            if number and "doc_number" not in part.fields and len(line) <= 30:
                written = line[: number.end()]
                try:
                    parsed, changes = normalise_doc_number(written)
                except ValueError:
                    parsed, changes = None, []
                if parsed is not None:
                    warnings = [f"文号“{written}”已规范为“{parsed}”：{'；'.join(changes)}"] if changes else []
                    self._add(part, "doc_number", str(parsed), self.i, 0.8 if changes else 0.95, warnings)
                    consumed = True
            if not consumed:
                return
            self.i += 1

    def _is_mark(self, i: int) -> bool:
        """A mark: 'XXX文件' (or the name alone when the next line is 文件, a number or a title)."""
        text = compact(self.lines[i].text)
        if not 2 < len(text) <= 40 or any(c in text for c in "，。：；、《》“”") or CN_DATE_RE.search(text):
            return False
        if text.endswith(MARK_SUFFIXES) and not text.startswith(("关于", "附件")):
            return True
        if not text.endswith(ORG_SUFFIXES) or i + 1 >= self.n:
            return False
        following = compact(self.lines[i + 1].text)
        return following in MARK_SUFFIXES or bool(_NUMBER_HINT.search(following)) or _looks_like_title_start(following)

    def _title(self, part: Part) -> None:
        start = self.i
        pieces: list[str] = []
        while self.i < self.n and len(pieces) < 5:
            text = self.lines[self.i].text.strip()
            flat = compact(text)
            if pieces and (flat.endswith(("：", ":")) or _DATE_ONLY_RE.match(flat)):
                break
            if _looks_like_body(flat) or (not pieces and (flat.endswith(("：", ":")) or _DATE_ONLY_RE.match(flat))):
                break
            if _ATTACHMENT_NOTE_RE.match(flat) or _COLOPHON_RE.match(flat):
                break
            pieces.append(flat)
            self.i += 1
            if flat.endswith(TITLE_ENDINGS) and not (self.i < self.n and _continues_title(self.text(), "".join(pieces))):
                break
        if not pieces:
            return
        title = "".join(pieces)
        ends_well = title.endswith(TITLE_ENDINGS)
        self._add(part, "title", title, start, 0.9 if ends_well else 0.6, [] if ends_well else ["标题不以文种结尾，请核对"])
        doc_type = kind_of_title(title)
        if doc_type:
            self._add(part, "doc_type", doc_type, start, 0.8)
        named = re.match(r"^(?P<issuer>.{2,30}?)关于", title)
        if "issuer" not in part.fields and named and named["issuer"].endswith(ORG_SUFFIXES):
            self._add(part, "issuer", named["issuer"], start, 0.7, ["发文机关取自标题"])
        if self.i < self.n and _DATE_ONLY_RE.match(self.text()):  # (2012年2月6日) under the title
            self._date(part, self.i, 0.8, "成文日期取自标题下的括注")
            self.i += 1

    def _recipients(self, part: Part) -> None:
        if self.i >= self.n:
            return
        flat = self.text()
        if flat.endswith(("：", ":")) and _names_recipients(flat[:-1]):
            self._add(part, "main_recipients", split_recipients(flat[:-1]), self.i, 0.9)
            self.i += 1

    def _body_and_closing(self, part: Part) -> None:
        end = self._closing_date_index()
        stop = end if end is not None else self._next_part_index()
        colophon = next((j for j in range(self.i, stop) if _is_colophon(self.text(j))), None)
        if colophon is not None:  # a colophon without a date before it: the text ends there
            stop, end = colophon, None
        signature_at = None
        if end is not None and end - 1 >= self.i and _looks_like_signature(self.text(end - 1)):
            signature_at = end - 1
        body_end = signature_at if signature_at is not None else stop
        contact: list[tuple[str, int]] = []
        j = self.i
        while j < body_end:
            flat = self.text(j)
            if _ATTACHMENT_NOTE_RE.match(flat):
                notes_end = self._attachment_notes(part, j, body_end)
                j = notes_end
                continue
            if _CONTACT_RE.match(flat):
                contact.append((contact_note(self.lines[j].text), j))
            else:
                text = self.lines[j].text.strip()
                part.body.append(Paragraph(text, _heading_level(text), self.lines[j].source))
            j += 1
        if contact:
            self._add(part, "notes", [t for t, _ in contact], contact[0][1], 0.8)
        if signature_at is not None:
            self._add(part, "signature", self.text(signature_at), signature_at, 0.85)
            if "issuer" not in part.fields:
                self._add(part, "issuer", self.text(signature_at), signature_at, 0.6, ["发文机关取自署名"])
        if end is not None:
            self._date(part, end, 0.9)
            self.i = end + 1
        else:
            self.i = stop

    def _attachment_notes(self, part: Part, j: int, end: int) -> int:
        """附件：1.XXX / 2.XXX (or 附件一：…, 附件二：…); a wrapped name continues on the next line."""
        names: list[str] = []
        start = j
        while j < end:
            flat = self.text(j)
            note, item = _ATTACHMENT_NOTE_RE.match(flat), _NOTE_ITEM_RE.match(flat)
            if note:
                rest = note["rest"]
                item_in_rest = _NOTE_ITEM_RE.match(rest)
                names.append(item_in_rest["name"] if item_in_rest else rest)
            elif item and names:
                names.append(item["name"])
            elif names and names[-1].count("《") > names[-1].count("》"):
                names[-1] += flat  # a long name wraps
            else:
                break
            j += 1
        names = [n.replace("<", "〈").replace(">", "〉") for n in names if n]
        if names:
            self._add(part, "attachment_notes", names, start, 0.85)
        return j

    def _date(self, part: Part, i: int, confidence: float, note: str | None = None) -> None:
        day, changes = parse_cn_date(self.text(i))
        self._add(part, "issued_on", day, i, confidence, [*changes, *([note] if note else [])])

    def _closing_date_index(self) -> int | None:
        """The date of writing: the first line that is only a date, before the next part starts."""
        stop = self._next_part_index()
        for j in range(self.i, stop):
            if _DATE_ONLY_RE.match(self.text(j)):
                try:
                    parse_cn_date(self.text(j))
                except ValueError:
                    continue
                return j
        return None

    def _next_part_index(self) -> int:
        """Where the next document starts when the current one has no date: a mark or an 附件 heading."""
        for j in range(self.i + 1, self.n):
            if _ATTACHMENT_HEAD_RE.match(self.text(j)) or (self._is_mark(j) and j + 1 < self.n and _NUMBER_HINT.search(self.text(j + 1))):
                return j
        return self.n

    def _after_date(self, part: Part) -> None:
        """附注 and the colophon after the date; the first other line starts the next part.

        The colophon after an attachment without its own date is the document's (GB/T 9704
        puts it after the attachments); an attached or forwarded document with a date keeps its
        own, and a second colophon after that one's 印发 line is the whole document's: it closes
        the document after everything forwarded or attached (domain §3.3).
        """
        notes = list(part.value("notes", []))
        if "issued_on" not in part.fields and self.reading.parts[0] is not part:
            part = self.reading.parts[0]
        closed = False  # this part's colophon has ended with its 印发 line
        while self.i < self.n:
            flat = self.text()
            colophon, printed, copies = _COLOPHON_RE.match(flat), _PRINTED_RE.match(flat), _COPIES_RE.match(flat)
            if closed and (colophon or printed) and part is not self.reading.parts[0]:
                part, closed = self.reading.parts[0], False
            if flat.startswith(("（", "(")) and flat.endswith(("）", ")")) and not copies:
                notes.append(flat[1:-1])
                self._add(part, "notes", notes, self.i, 0.8)
            elif _CONTACT_RE.match(flat):
                notes.append(contact_note(self.lines[self.i].text))
                self._add(part, "notes", notes, self.i, 0.8)
            elif colophon:
                label, value = colophon["label"], colophon["value"].rstrip("。")
                name = {"主题词": "subject_words", "抄送": "cc", "报": "report_to", "送": "send_to", "发": "distribute_to"}[label]
                if name == "subject_words":  # words are separated by spaces: read them from the line as written
                    value = spaced(re.split(r"[:：]", self.lines[self.i].text, maxsplit=1)[-1])
                self._add(part, name, value if name == "subject_words" else split_recipients(value, by_comma_only=True), self.i, 0.9)
            elif printed:
                day, changes = parse_cn_date(printed["date"])
                if printed["office"]:
                    self._add(part, "printed_by", printed["office"], self.i, 0.9)
                self._add(part, "printed_on", day, self.i, 0.9, changes)
                closed = True
            elif copies:
                self._add(part, "copies_printed", int(copies["n"]), self.i, 0.9)
            else:
                return
            self.i += 1


def _names_recipients(text: str) -> bool:
    """A line before a colon names recipients, not a sentence: every name ends like an organisation.

    Seed 004's 篇一 opens with a 120-character sentence ending in ':' (…请各成员单位按下列要求，
    认真做好…工作:) — a request, not a 主送机关 line.
    """
    if not text or len(text) > 200 or any(c in text for c in _SENTENCE_END) or _HEADINGS[0][1].match(text):
        return False
    return all(piece.endswith(RECIPIENT_ENDINGS) for piece in _LIST_SEPARATORS.split(text) if piece)


def _is_colophon(text: str) -> bool:
    if _PRINTED_RE.match(text) or _COPIES_RE.match(text):
        return True
    match = _COLOPHON_RE.match(text)
    return bool(match) and len(text) <= 200 and "。" not in text.rstrip("。")


def spaced(text: str) -> str:
    """Runs of spaces as one space (主题词 are separated by spaces)."""
    return " ".join(text.split())


def contact_note(text: str) -> str:
    """'联 系 人：调研二处  董  葵' -> '联系人：调研二处 董 葵' (the label closed up, the value single-spaced)."""
    match = _CONTACT_LABEL_RE.match(text.strip())
    return f"{compact(match['label'])}：{spaced(match['value'])}" if match else spaced(text)


def _issuer_from_mark(mark: str) -> str:
    for suffix in MARK_SUFFIXES:
        if mark.endswith(suffix) and len(mark) > len(suffix) + 1:
            return mark[: -len(suffix)]
    return mark


def _looks_like_title_start(text: str) -> bool:
    return text.startswith("关于") or bool(re.match(r"^.{2,30}关于", text)) or text.endswith(TITLE_ENDINGS)


def _looks_like_body(text: str) -> bool:
    return any(c in text for c in _SENTENCE_END) or len(text) > 60 or any(p.match(text) for _, p in _HEADINGS)


def _continues_title(text: str, title: str) -> bool:
    """The next line still belongs to the title (e.g. '的通知' after '…意见》')."""
    return text.startswith(("的通知", "的意见", "的决定", "的报告", "的请示", "的批复", "的函")) or (title.count("《") > title.count("》"))


def _looks_like_signature(text: str) -> bool:
    return 2 <= len(text) <= 30 and not any(c in text for c in "，。；：:、《》") and not _ATTACHMENT_NOTE_RE.match(text) and not _CONTACT_RE.match(text)


def _heading_level(text: str) -> int:
    return next((level for level, pattern in _HEADINGS if pattern.match(text)), 0)


def split_recipients(text: str, by_comma_only: bool = False) -> list[str]:
    """'各市州妇联、省直妇工委、机关各部室' -> three; '各省、自治区、直辖市妇联，新疆…' keeps '各省、自治区、直辖市妇联' whole.

    Names are separated by ，/； always, and by 、 only when every piece names an organisation on
    its own (各省、自治区、直辖市妇联 is one recipient written as a list of kinds). Colophon lines
    (``by_comma_only``) keep 、-groups as written, as the renderer joins them with ，.
    """
    names: list[str] = []
    for piece in _LIST_SEPARATORS.split(compact(text)):
        if not piece:
            continue
        sub = [s for s in piece.split("、") if s]
        if by_comma_only or len(sub) == 1 or not all(s.endswith((*ORG_SUFFIXES, "单位", "部门", "会员", "组织", "机关")) for s in sub):
            names.append(piece)
        else:
            names.extend(sub)
    return names


def standard_date_text(day: date) -> str:
    """For messages: the date as the standard writes it."""
    return format_cn_date(day)
