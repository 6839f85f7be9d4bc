"""One input policy for every text a person gives (输入检查): a launch file, the web's compose
form, ``gongwen act --title/--body-file`` (and the leader's revision on the web), the secretary's
corrections at 收文登记. Checked before anything is stored; a refusal names the field, the place
in it and what to do.

- **Control characters** (C0/C1, e.g. ``\\x00``, ``\\x0b``) are refused: a document cannot carry
  them (the .docx's XML refuses them, so a title with one could never be signed). A paragraph of
  the body may hold a line break or a tab; a title or a name may not.
- **Bidirectional controls** (U+202A–202E, U+2066–2069, U+200E/200F, U+061C) are refused: they make
  text print in another order than it is stored (a title stored reversed from what it shows).
- **Lengths**: a title at most ``TITLE_MAX`` characters, a paragraph at most ``PARAGRAPH_MAX``,
  any other line at most ``LINE_MAX``.
- **A body** is required unless the 文种 allows none (``doc_kinds.body_required``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.rules.doc_kinds import body_required

if TYPE_CHECKING:
    from gongwen_engine.models.content import DocumentContent

TITLE_MAX = 200  # characters; the longest titles of the seeds are under 100
PARAGRAPH_MAX = 5000  # characters in one paragraph of the 正文
LINE_MAX = 500  # any other field: a name, a recipient, a note
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
IN_PARAGRAPHS = frozenset("\n\t")  # what a paragraph may hold beyond printable text

# The fields of a document's content a person writes, with their Chinese names.
FIELD_NAMES = {
    "title": "标题",
    "body": "正文",
    "main_recipients": "主送机关",
    "cc": "抄送机关",
    "issuer_mark": "发文机关标志",
    "signature": "发文机关署名",
    "signer": "签发人",
    "notes": "附注",
    "attachment_notes": "附件说明",
    "attachments": "附件",
    "printed_by": "印发机关",
    "doc_number": "发文字号",
    "security": "密级和保密期限",
    "urgency": "紧急程度",
    "copy_number": "份号",
    "issuer": "发文机关",
    "issuer_short_name": "发文机关规范化简称",
    "doc_type": "文种",
}


class InputRefused(Refusal):
    """A text a person gave breaks the input policy; the message names the field."""


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}{f' {name}' if name else ''}"


def check_text(field: str, value: str, *, limit: int = LINE_MAX, multiline: bool = False) -> str:
    """Refuse ``value`` (of the field named ``field``, in Chinese) with a control or bidi
    character, or longer than ``limit`` characters; returns it unchanged."""
    for position, char in enumerate(value, start=1):
        if char in BIDI_CONTROLS:
            raise InputRefused(f"{field}第 {position} 个字符是双向文本控制符（{_describe(char)}），会使显示的文字顺序与保存的不同。请删除该字符后重新提交")
        if unicodedata.category(char) == "Cc" and not (multiline and char in IN_PARAGRAPHS):
            raise InputRefused(
                f"{field}第 {position} 个字符是控制字符（{_describe(char)}，不可见），公文中不能含有。请删除该字符（常见于从其他软件复制的文字）后重新提交"
            )
    if len(value) > limit:
        raise InputRefused(f"{field}有 {len(value)} 个字符，超过上限 {limit} 个。请精简后重新提交")
    return value


def check_value(name: str, value: Any) -> None:
    """One field of a document's content (``DocumentContent`` field name), as a person gave it."""
    field = FIELD_NAMES.get(name, name)
    if isinstance(value, str):
        check_text(field, value, limit=TITLE_MAX if name == "title" else LINE_MAX)
    elif name == "body":
        _check_paragraphs(field, value)
    elif name == "attachments":
        for number, attachment in enumerate(value or (), start=1):
            data = attachment if isinstance(attachment, Mapping) else attachment.model_dump(exclude={"document"})
            check_text(f"附件 {number} 的标题", str(data.get("title") or ""), limit=TITLE_MAX)
            _check_paragraphs(f"附件 {number} 的正文", data.get("body") or ())
    elif isinstance(value, Iterable):
        for number, item in enumerate(value, start=1):
            if isinstance(item, str):
                check_text(f"{field}第 {number} 项", item)


def _check_paragraphs(field: str, paragraphs: Iterable[Any]) -> None:
    for number, paragraph in enumerate(paragraphs, start=1):
        check_text(f"{field}第 {number} 段", str(paragraph), limit=PARAGRAPH_MAX, multiline=True)


def check_changes(changes: Mapping[str, Any]) -> None:
    """A revision of a draft (``act --title/--body-file``, the leader's form): each field given;
    an emptied body is refused as at launch."""
    for name, value in changes.items():
        check_value(name, value)
    if "body" in changes and not any(str(p).strip() for p in changes["body"] or ()):
        raise InputRefused("正文不能为空：修改后的正文没有任何段落（--body-file 中段落之间空一行）")


def check_content(content: DocumentContent) -> None:
    """A new document as a person wrote it (a launch file, the compose form): every text field,
    and a body unless its 文种 allows none."""
    for name in FIELD_NAMES:
        if name in type(content).model_fields:
            check_value(name, getattr(content, name))
    if not content.title.strip():
        raise InputRefused("标题不能为空")
    if body_required(content.doc_type) and not any(p.strip() for p in content.body):
        raise InputRefused(f"正文不能为空：文种“{content.doc_type}”须有正文。请写上正文后重新提交")


def refusal(content: DocumentContent) -> str | None:
    """``check_content``'s refusal as text (a form shows it beside what was typed), or None."""
    try:
        check_content(content)
    except InputRefused as refused:
        return str(refused)
    return None
