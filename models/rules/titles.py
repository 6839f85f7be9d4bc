"""The title rules: forwarding (转发标题) and replying (答复), in one place.

关于转发{issuer short name}《{original title}》的通知 — domain README §5:
- a book-title mark inside 《》 becomes 〈〉;
- forwarding a forward refers to the original document, never
  "关于转发…《关于转发…的通知》的通知". When only the received forward's title is known (no
  link to the original), the original issuer and title are recovered from it.
"""

from __future__ import annotations

import re

_FORWARD_RE = re.compile(r"^关于转发(?P<issuer>[^《〈]+)《(?P<title>.+)》的通知$")


def nest_book_title_marks(title: str) -> str:
    """《a》 inside a title that will itself stand in 《》 becomes 〈a〉."""
    return title.replace("《", "〈").replace("》", "〉")


def forwarding_source(title: str) -> tuple[str, str] | None:
    """(original issuer, original title) named by a forwarding title, or None if it is not one."""
    match = _FORWARD_RE.match(title.strip())
    return (match["issuer"], match["title"]) if match else None


def forwarding_title(issuer_short_name: str, original_title: str) -> str:
    """The title of a notice that forwards ``original_title`` issued by ``issuer_short_name``.

    If ``original_title`` is itself a forwarding title, the document it forwards is referred to
    instead (the rule for forwarding a forward). The original's own 的通知 is kept inside the book
    title marks (关于转发X《关于…的通知》的通知); the rule to avoid "的通知的通知" is about titles
    without 《》 (common practice; unconfirmed as a written rule, domain README §5).
    """
    issuer, title = issuer_short_name.strip(), original_title.strip()
    if not issuer or not title:
        raise ValueError("forwarding_title needs the original issuer's short name and the original title")
    match = _FORWARD_RE.match(title)
    if match:
        # The title already refers to the original: its inner title is nested once already.
        return f"关于转发{match['issuer']}《{match['title']}》的通知"
    return f"关于转发{issuer}《{nest_book_title_marks(title)}》的通知"


_MATTER = re.compile(r"^关于(?P<matter>.+?)的(?:函|通知|请示|意见|报告|通报|决定|批复)$")


def reply_title(received_title: str, upward: bool) -> str:
    """答复的标题: 关于{事由}的复函, or, to a superior, 关于{事由}有关情况的报告 (common practice: the
    matter of the received title, its 文种 dropped; a title of another shape is quoted in 〈〉)."""
    match = _MATTER.match(received_title.strip())
    matter = match["matter"] if match else f"〈{nest_book_title_marks(received_title.strip())}〉"
    return f"关于{matter}有关情况的报告" if upward else f"关于{matter}的复函"


def received_attachment_name(issuer_short_name: str, title: str) -> str:
    """The name in the 附件说明 of a received document attached as received: its issuer's short
    name and its title in 《》 (inner 《》 become 〈〉), e.g. 全国妇联办公厅《关于进一步做好〈妇工要情〉
    信息报送工作的通知》 (seed 000)."""
    issuer, title = issuer_short_name.strip(), "".join(line.strip() for line in title.splitlines())
    if not title:
        raise ValueError("received_attachment_name needs the received document's title")
    return f"{issuer}《{nest_book_title_marks(title)}》"
