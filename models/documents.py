"""A document's content as stored and as rendered, with one home for its 发文字号.

``Document.doc_number`` (the column, unique) is the number; ``Document.content`` stores everything
else. A content dict written before the number moved to the column may still carry the key: the
column wins when the content is read back.
"""

from __future__ import annotations

from typing import Any

from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.tables import Document


def stored_content(content: DocumentContent) -> dict[str, Any]:
    """What ``Document.content`` holds: the content without its 发文字号 (kept in the column)."""
    return content.model_dump(mode="json", exclude={"doc_number"})


def content_of(doc: Document) -> DocumentContent:
    """The document's content for rendering and reading, its 发文字号 taken from the column."""
    return DocumentContent.model_validate({**doc.content, "doc_number": doc.doc_number})
