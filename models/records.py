"""The data of a process record (发文稿纸 / 收文处理单): what the engine gathers after each step
(``flows/engine/records.py``) and the renderer lays out (``doc_templates/records.py``) — plain
data, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class RecordKind(StrEnum):
    """The two process records; the value is the flow file's ``record:`` and the filed file's role."""

    draft_sheet = "draft_sheet"
    processing_slip = "processing_slip"


@dataclass(frozen=True)
class ReceivedParticulars:
    """The received document of a 收文处理单 (registration number and date once registered)."""

    register_number: str | None
    received_on: date | None
    sender: str  # the issuer's name (an organisation outside the tree by the name it was received under)
    doc_number: str | None
    title: str
    active_content: tuple[str, ...] = ()  # a received PDF's active content, flagged at registration (never run)


@dataclass(frozen=True)
class DraftParticulars:
    """The circulation's own draft (发文稿纸), or the forwarding draft of a 收文处理单."""

    doc_number: str | None
    title: str
    main_recipients: list[str]
    cc: list[str]
    version: int
    drafting_unit: str = ""  # 拟稿单位
    drafter: str = ""  # 拟稿人: the person who drafted (launched) it
    security: str = ""  # 密级
    urgency: str = ""  # 缓急
    copies: int | None = None  # 印数
    attachments: list[str] = field(default_factory=list)  # 附件 (the names in the 附件说明)


@dataclass(frozen=True)
class Opinion:
    """One action on a step, as written on the record: the outcome's label, the comment verbatim, who
    and when (an automatic 拟办 or 办结 is written as the system's)."""

    step_title: str
    step_kind: str  # the step's kind (flows/definitions kind:): where the opinion goes on the form
    outcome_label: str
    comment: str | None
    person: str
    acting_for: str | None
    finished_on: date | None


@dataclass(frozen=True)
class RecordData:
    """Everything a record shows: gathered by the flows layer, rendered here without a database."""

    kind: RecordKind
    org_name: str
    org_short_name: str
    received: ReceivedParticulars | None = None
    draft: DraftParticulars | None = None
    opinions: list[Opinion] = field(default_factory=list)
