"""The registry of automatic actions a flow step can name with ``do:``, each with the kind of step
it performs (the flow loader checks a step's ``kind:`` against it). The engine is given this
registry (``flows/services`` ``open_engine``); the actions live in one module per family.

Each action runs inside the step's transaction with the circulation locked (see engine.py):
its database effects commit together with the step, or not at all. Files are written
deterministically and atomically, so a retried step rewrites identical bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from gongwen_engine.flows.actions import archiving, distribution, drafting, numbering, receipt, rendering, reporting, sealing
from gongwen_engine.flows.engine.context import ActionSpec
from gongwen_engine.flows.engine.definition import StepKind

ACTIONS: Mapping[str, ActionSpec] = {
    "sign_for": ActionSpec(StepKind.sign_for, receipt.sign_for),
    "register": ActionSpec(StepKind.register, receipt.register),
    "decide_forwarding": ActionSpec(StepKind.decide, drafting.decide_forwarding),
    "draft_forwarding": ActionSpec(StepKind.draft, drafting.draft_forwarding),
    "draft_reply": ActionSpec(StepKind.reply, drafting.draft_reply_to_sender),
    "allocate_number": ActionSpec(StepKind.number, numbering.allocate_number),
    "render": ActionSpec(StepKind.render, rendering.render),
    "render_report": ActionSpec(StepKind.render, reporting.render_report),
    "seal": ActionSpec(StepKind.seal, sealing.seal),
    "distribute": ActionSpec(StepKind.distribute, distribution.distribute),
    "submit_report": ActionSpec(StepKind.submit, reporting.submit_report),
    "conclude": ActionSpec(StepKind.conclude, distribution.conclude),
    "archive": ActionSpec(StepKind.archive, archiving.archive),
}
