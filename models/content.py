"""The content of one official document (公文), as GB/T 9704-2012 lays it out.

This is the single document model that every renderer reads (the .docx writer here, the
HTML preview of the web pages later). Field names follow the glossary in
``gongwen_engine.models.glossary``.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, model_validator

from gongwen_engine.models.rules.doc_kinds import DEFAULT_KIND, Direction


class AttachedFile(BaseModel):
    """A file given as an attachment (a PDF, .docx, .xlsx or image uploaded with the draft): kept
    once under the storage folder by its SHA-256 and carried with the document wherever it goes
    (delivery shares the stored file; the archive item files a copy)."""

    name: str  # the file's own name as uploaded (shown and used for the download)
    file: str  # path relative to the storage folder: attachments/ab/<sha256>.<ext>
    sha256: str
    size: int
    format: str  # pdf | docx | xlsx | png | jpeg


class Attachment(BaseModel):
    """附件: an attachment printed after the text and before the 版记, each on a new page
    headed 附件1 (附件一 in some house styles).

    Either its own ``title`` and ``body`` (an annex drafted with the document), or ``document``:
    a received document attached as it was received — printed from its title on (no red
    header is invented for it), with its own signature, date and 版记 as received; ``title``
    is then the name given in the 附件说明. ``file``: the attachment as an uploaded file (its text,
    when it is a .docx, is the ``body`` printed on its page).
    """

    title: str
    body: list[str] = Field(default_factory=list)
    document: DocumentContent | None = None
    file: AttachedFile | None = None


class LegacyColophon(BaseModel):
    """Pre-2012 fields (GB/T 9704-1999) kept when an old document is reproduced.

    主题词 (subject words), the 报/送/发 distribution lines and 共印N份.
    """

    subject_words: str | None = None
    report_to: list[str] = Field(default_factory=list)  # 报
    send_to: list[str] = Field(default_factory=list)  # 送
    distribute_to: list[str] = Field(default_factory=list)  # 发
    copies_printed: int | None = None  # 共印N份


class DocumentContent(BaseModel):
    """公文 content: header (版头), body (主体) and colophon (版记)."""

    doc_type: str = DEFAULT_KIND  # 文种 (models/rules/doc_kinds)
    direction: Direction = Direction.down  # 行文方向
    copy_number: str | None = None  # 份号
    security: str | None = None  # 密级和保密期限, e.g. 秘密★1年
    urgency: str | None = None  # 紧急程度: 特急 / 加急
    issuer_mark: str  # 发文机关标志, e.g. 山东省妇女联合会文件
    doc_number: str | None = None  # 发文字号, e.g. 鲁妇发〔2012〕10号
    signer: str | None = None  # 签发人 (upward documents only)
    title: str  # 标题
    main_recipients: list[str] = Field(default_factory=list)  # 主送机关
    body: list[str] = Field(default_factory=list)  # 正文 paragraphs; headings start with 一、 /（一）/ 1. /（1）
    attachment_notes: list[str] = Field(default_factory=list)  # 附件说明 (attachment names)
    signature: str | None = None  # 发文机关署名
    issued_on: date  # 成文日期
    sealed: bool = False  # 加盖印章
    notes: list[str] = Field(default_factory=list)  # 附注, e.g. 联系人：… 电话：…
    attachments: list[Attachment] = Field(default_factory=list)  # 附件
    cc: list[str] = Field(default_factory=list)  # 抄送机关
    printed_by: str | None = None  # 印发机关
    printed_on: date | None = None  # 印发日期
    legacy: LegacyColophon | None = None  # pre-2012 fields, only for reproduced old documents

    @model_validator(mode="after")
    def _notes_name_the_attachments(self) -> DocumentContent:
        """The 附件说明 names the attachments: when only the attachments are given, their titles
        (one line each; a line break in a title is for the attachment page only) are the names."""
        if self.attachments and not self.attachment_notes:
            self.attachment_notes = [attachment_name(a) for a in self.attachments]
        return self


def attachment_name(attachment: Attachment) -> str:
    """How the 附件说明 names ``attachment``: its title on one line."""
    return "".join(line.strip() for line in attachment.title.splitlines())


Attachment.model_rebuild()  # ``document`` refers to DocumentContent, defined after it
