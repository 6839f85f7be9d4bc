"""A corpus of received documents made in different ways, each with the fields it states.

Used by ``tests/test_reader_corpus.py`` and ``benchmarks/reader_accuracy.py``. Every document is
made from a :class:`Spec` (what it says) by a maker (how it was produced): python-docx with the
mark in a paragraph, a table or a text box; a WPS-style package (mc:AlternateContent with a
fallback, WPS's app properties); LibreOffice's re-saved .docx and its PDF export; plain text in
GBK, GB18030, UTF-8 with BOM and UTF-16.
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import docx
from docx.oxml import parse_xml

from gongwen_engine.models.rules.dates import format_cn_date

CORE_FIELDS = ("issuer_mark", "doc_number", "title", "main_recipients", "signature", "issued_on", "cc", "printed_by", "printed_on")


@dataclass(frozen=True)
class Spec:
    """What a document states, and how it writes some of it (``number_as``, ``date_as``)."""

    key: str
    issuer_mark: str
    title_lines: tuple[str, ...]
    main_recipients: tuple[str, ...]
    body: tuple[str, ...]
    signature: str
    issued_on: date
    doc_number: str | None = None
    number_as: str | None = None  # how the file writes the number (a look-alike), else doc_number
    date_as: str | None = None  # how the file writes the date (e.g. Chinese numerals)
    header_lines: tuple[str, ...] = ()  # 份号, 密级, 紧急程度
    signer: str | None = None
    cc: tuple[str, ...] = ()
    printed_by: str | None = None
    printed_on: date | None = None

    @property
    def title(self) -> str:
        return "".join(self.title_lines)

    def expected(self) -> dict[str, object]:
        values: dict[str, object] = {
            "issuer_mark": self.issuer_mark,
            "doc_number": self.doc_number,
            "title": self.title,
            "main_recipients": list(self.main_recipients),
            "signature": self.signature,
            "issued_on": self.issued_on,
            "cc": list(self.cc) or None,
            "printed_by": self.printed_by,
            "printed_on": self.printed_on,
        }
        return values

    def lines(self) -> list[str]:
        """The document as paragraphs, top to bottom (blank strings are blank lines)."""
        out = [*self.header_lines, self.issuer_mark, ""]
        number = self.number_as or self.doc_number
        if number:
            out.append(f"{number}    签发人：{self.signer}" if self.signer else number)
        out += [
            "",
            *self.title_lines,
            "",
            "，".join(self.main_recipients) + "：",
            *self.body,
            "",
            self.signature,
            self.date_as or format_cn_date(self.issued_on),
        ]
        if self.cc:
            out += ["", "抄送：" + "，".join(self.cc) + "。"]
        if self.printed_by and self.printed_on:
            out.append(f"{self.printed_by}    {format_cn_date(self.printed_on)}印发")
        return out


SPECS = [
    Spec(
        "national",
        "中华全国妇女联合会文件",
        ("关于在全国县以上妇联组织开展", "“下基层、访妇情、办实事”活动的意见"),
        ("各省、自治区、直辖市妇联", "新疆生产建设兵团妇联"),
        (
            "为深入贯彻中央精神，全国妇联决定集中开展活动，现提出如下意见。",
            "一、充分认识开展活动的重要性。",
            "各省区市妇联要在2012年2月底前将活动实施方案报全国妇联办公厅。",
        ),
        "全国妇联",
        date(2012, 1, 6),
        doc_number="妇字〔2012〕2号",
        printed_by="全国妇联办公厅",
        printed_on=date(2012, 1, 6),
    ),
    Spec(
        "brackets",
        "山东省妇女联合会文件",
        ("关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知",),
        ("各市妇联",),
        ("现将全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》（妇字〔2012〕2号）转发给你们，请结合实际，抓好贯彻落实。",),
        "山东省妇女联合会",
        date(2012, 1, 31),
        doc_number="鲁妇发〔2012〕10号",
        number_as="鲁妇发[2012]10号",
    ),
    Spec(
        "zeros",
        "济南市妇女联合会文件",
        ("关于做好2012年“三八”节", "宣传工作的通知"),
        ("各区县妇联",),
        ("请于2月20日前将宣传方案报市妇联宣传部。", "二、要突出重点。"),
        "济南市妇女联合会",
        date(2012, 2, 8),
        doc_number="济妇发〔2012〕3号",
        number_as="济妇发（2012）第003号",
        date_as="二〇一二年二月八日",
        cc=("山东省妇联",),
        printed_by="济南市妇联办公室",
        printed_on=date(2012, 2, 8),
    ),
    Spec(
        "upward",
        "湖南省妇女联合会文件",
        ("关于2011年妇女工作情况的报告",),
        ("全国妇联",),
        ("现将我省2011年妇女工作情况报告如下。", "一、主要工作。"),
        "湖南省妇女联合会",
        date(2012, 1, 20),
        doc_number="湘妇字〔2012〕1号",
        signer="李明",
        header_lines=("加急",),
    ),
    Spec(
        "external",
        "中华全国总工会文件",
        ("关于开展女职工权益保护", "专项活动的通知"),
        ("各省、自治区、直辖市总工会", "各全国产业工会"),
        ("各地要在5个工作日内将联系人名单报全国总工会女职工部。", "（一）加强组织领导。"),
        "中华全国总工会",
        date(2012, 3, 1),
        doc_number="总工发〔2012〕7号",
        cc=("全国妇联",),
        printed_by="全国总工会办公厅",
        printed_on=date(2012, 3, 2),
    ),
    Spec(
        "secret",
        "青岛市妇女联合会文件",
        ("关于推荐全国三八红旗手", "候选人的通知"),
        ("各县（市、区）妇联",),
        ("请于3月上旬报送推荐材料。",),
        "青岛市妇女联合会",
        date(2012, 2, 15),
        doc_number="青妇发〔2012〕5号",
        header_lines=("000012", "秘密★1年", "特急"),
        printed_by="青岛市妇联办公室",
        printed_on=date(2012, 2, 16),
    ),
]


# ---- makers: Spec -> bytes ---------------------------------------------------------------------
def _docx_bytes(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_paragraphs(spec: Spec) -> bytes:
    """python-docx, every line a paragraph (the mark too)."""
    document = docx.Document()
    for line in spec.lines():
        document.add_paragraph(line)
    return _docx_bytes(document)


def docx_table_mark(spec: Spec) -> bytes:
    """python-docx, the mark laid out as a one-row table: name | 文件."""
    document = docx.Document()
    lines = spec.lines()
    at = lines.index(spec.issuer_mark)
    for line in lines[:at]:
        document.add_paragraph(line)
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = spec.issuer_mark.removesuffix("文件")
    table.cell(0, 1).text = "文件"
    for line in lines[at + 1 :]:
        document.add_paragraph(line)
    return _docx_bytes(document)


_VML_BOX = (
    '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:v="urn:schemas-microsoft-com:vml">'
    '<w:pict><v:shape style="width:400pt;height:60pt"><v:textbox><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p>'
    "</w:txbxContent></v:textbox></v:shape></w:pict></w:r>"
)
_WPS_BOX = (
    '<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
    '<mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
    "<wps:wsp><wps:txbx><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent></wps:txbx></wps:wsp>"
    "</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
    "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>"
    "</mc:AlternateContent>"
)


def _with_box_mark(spec: Spec, box: str) -> docx.document.Document:
    document = docx.Document()
    lines = spec.lines()
    at = lines.index(spec.issuer_mark)
    for line in lines[:at]:
        document.add_paragraph(line)
    anchor = document.add_paragraph()
    run = parse_xml(box.format(text=spec.issuer_mark))
    if run.tag.endswith("AlternateContent"):
        holder = anchor.add_run()._r
        holder.append(run)
    else:
        anchor._p.append(run)
    for line in lines[at + 1 :]:
        document.add_paragraph(line)
    return document


def docx_textbox_mark(spec: Spec) -> bytes:
    """python-docx, the mark in a (VML) text box anchored in an empty paragraph."""
    return _docx_bytes(_with_box_mark(spec, _VML_BOX))


def docx_wps_style(spec: Spec) -> bytes:
    """A WPS-style package: the mark in a wps text box with a VML fallback, WPS app properties."""
    data = _docx_bytes(_with_box_mark(spec, _WPS_BOX))
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "docProps/app.xml":
                content = re.sub(
                    rb"<Application>[^<]*</Application>", b"<Application>WPS Office_11.1.0.11294_F1E327BC-269C-435d-A152-05C5408002CA</Application>", content
                )
            target.writestr(info, content)
        target.writestr(
            "customXml/item90.xml",
            '<s:customData xmlns="http://www.wps.cn/officeDocument/2013/wpsCustomData" xmlns:s="http://www.wps.cn/officeDocument/2013/wpsCustomData"><customSectProps><customSectPr/></customSectProps></s:customData>',
        )
    return out.getvalue()


def text_in(encoding: str) -> Callable[[Spec], bytes]:
    def make(spec: Spec) -> bytes:
        return "\r\n".join(spec.lines()).encode(encoding)

    make.__name__ = f"text_{encoding.replace('-', '_')}"
    return make


@dataclass
class CorpusItem:
    name: str
    data: bytes
    expected: dict[str, object]
    maker: str
    spec: str


@dataclass
class Corpus:
    items: list[CorpusItem] = field(default_factory=list)

    def add(self, spec: Spec, maker: Callable[[Spec], bytes], ext: str) -> CorpusItem:
        item = CorpusItem(f"{spec.key}-{maker.__name__}{ext}", maker(spec), spec.expected(), maker.__name__, spec.key)
        self.items.append(item)
        return item


def libreoffice(sources: list[Path], target: str, outdir: Path, profile: Path) -> None:
    """Convert files with LibreOffice (one process for all of them)."""
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", target, "--outdir", str(outdir), *map(str, sources)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def build_corpus(workdir: Path) -> Corpus:
    """The whole corpus (≥ 20 documents); LibreOffice makes the re-saved .docx and the PDFs."""
    corpus = Corpus()
    for spec in SPECS:
        corpus.add(spec, docx_paragraphs, ".docx")
    for spec in SPECS[:3]:
        corpus.add(spec, docx_table_mark, ".docx")
    for spec in SPECS[2:5]:
        corpus.add(spec, docx_textbox_mark, ".docx")
    for spec in (SPECS[1], SPECS[4]):
        corpus.add(spec, docx_wps_style, ".docx")
    for spec, encoding in ((SPECS[0], "gbk"), (SPECS[2], "gb18030"), (SPECS[3], "utf-8-sig"), (SPECS[5], "utf-16")):
        corpus.add(spec, text_in(encoding), ".txt")
    originals = workdir / "lo-in"
    originals.mkdir(parents=True, exist_ok=True)
    picked = [SPECS[0], SPECS[2], SPECS[4], SPECS[5]]
    for spec in picked:
        (originals / f"{spec.key}.docx").write_bytes(docx_paragraphs(spec))
    sources = [originals / f"{s.key}.docx" for s in picked]
    libreoffice(sources, "docx:MS Word 2007 XML", workdir / "lo-docx", workdir / "profile")
    libreoffice(sources, "pdf", workdir / "lo-pdf", workdir / "profile")
    for spec in picked:
        for kind, ext in (("lo-docx", ".docx"), ("lo-pdf", ".pdf")):
            data = (workdir / kind / f"{spec.key}{ext}").read_bytes()
            corpus.items.append(CorpusItem(f"{spec.key}-libreoffice{ext}", data, spec.expected(), f"libreoffice_{ext[1:]}", spec.key))
    return corpus


def compare(expected: dict[str, object], fields: dict[str, object]) -> dict[str, bool]:
    """Per field: was it read correctly (a field the document does not state must not be invented)?"""
    result = {}
    for name in CORE_FIELDS:
        want, got = expected.get(name), fields.get(name)
        if isinstance(want, list) and isinstance(got, list):  # as printed: names joined by ，
            want, got = "，".join(want), "，".join(got)
        if isinstance(want, str) and isinstance(got, str):
            result[name] = re.sub(r"\s+", "", want) == re.sub(r"\s+", "", got)
        else:
            result[name] = (want or None) == (got or None)
    return result
