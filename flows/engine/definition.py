"""Flow definitions: the YAML files in ``flows/`` read as the process they describe.

Each step is one named entry that says what it does (``do:`` an automatic action) or who acts
(``by:`` a role, for a human step that waits in the database), and what comes next — a single
step name, or a map from outcome to step name. ``end`` finishes the circulation. The file is
validated on load; every error names the file and line.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gongwen_engine.config.schema import Role
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors, load_yaml

END = "end"
PACKAGED_FLOWS_DIR = Path(__file__).parents[1] / "definitions"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(description="the step's Chinese name as offices know it, e.g. 签发")
    do: str | None = Field(default=None, description="automatic action name (see flows/actions.py)")
    by: Role | None = Field(default=None, description="human step: the role that may act")
    next: str | dict[str, str] = Field(description="next step, or {outcome: next step}")
    template: str | None = Field(default=None, description="doc_templates/ template the action uses")
    start_flow: str | None = Field(default=None, description="flow each recipient runs (distribution steps)")
    retries: int = Field(default=2, ge=0, le=10, description="retries of an automatic step on error")
    priority: int = Field(
        default=0, ge=-9, le=9,
        description="automatic steps: which ready circulations a worker takes first (Camunda's job priority): higher first, then oldest",
    )
    mode: Literal["one", "all", "sequence"] = Field(
        default="one",
        description="human steps: one item for the role (one), one item per user with the role in parallel, all must agree (all: 会签, parallel 传阅), or one user after another (sequence: sequential 传阅)",
    )
    due_days: int | None = Field(default=None, ge=0, description="time limit (办理时限) in calendar days from when the item opens")
    due_working_days: int | None = Field(default=None, ge=0, description="time limit (办理时限) in working days (工作日, 调休 included; models/rules/workdays.py): due at the end of the N-th working day after the item opens")
    record: bool = Field(default=False, description="re-issue the circulation's record (.docx) after this automatic step; human steps always do")
    sets_signer: bool = Field(default=False, description="the approving person becomes the document's signer (签发人)")

    @model_validator(mode="after")
    def _one_time_limit(self) -> "Step":
        if self.due_days is not None and self.due_working_days is not None:
            raise ValueError("give the time limit once: due_days (calendar days) or due_working_days (working days), not both")
        return self

    @property
    def human(self) -> bool:
        return self.by is not None

    @property
    def agree(self) -> str:
        """The outcome that counts as agreement when several people act on one step (the first listed)."""
        return next(iter(self.targets))

    @property
    def targets(self) -> dict[str, str]:
        """Outcome -> next step; a plain ``next`` is the outcome ``done``."""
        return {"done": self.next} if isinstance(self.next, str) else dict(self.next)

    def next_after(self, outcome: str | None) -> str:
        targets = self.targets
        if isinstance(self.next, str):
            return self.next
        if outcome not in targets:
            raise ValueError(f"step '{self.title}' has no outcome '{outcome}' (allowed: {', '.join(targets)})")
        return targets[outcome]


class FlowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    flow: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    lock: Literal["select_for_update"] = "select_for_update"
    record: Literal["draft_sheet", "processing_slip"] | None = Field(default=None, description="the .docx record this flow keeps (发文稿纸 or 收文处理单)")
    start: str
    steps: dict[str, Step] = Field(min_length=1)
    source: str = Field(default="", exclude=True)

    @cached_property
    def version(self) -> str:
        """Identifies the flow text a circulation runs (documents in flight keep theirs in the DB)."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:12]

    def step(self, name: str) -> Step:
        try:
            return self.steps[name]
        except KeyError:
            raise KeyError(f"flow '{self.flow}' has no step '{name}'") from None


def load_flow(path: Path, known_actions: set[str], known_flows: set[str] | None = None) -> FlowDefinition:
    """Read and check one flow file; raise SourceErrors naming file:line for every problem."""
    doc = load_yaml(path)
    data = dict(doc.data) if isinstance(doc.data, dict) else doc.data
    definition = doc.validate(FlowDefinition, data)
    definition = definition.model_copy(update={"source": path.read_text(encoding="utf-8")})
    errors: list[SourceError] = []
    if definition.start not in definition.steps:
        errors.append(doc.error(("start",), f"start step '{definition.start}' is not defined", f"use one of: {', '.join(definition.steps)}"))
    for name, step in definition.steps.items():
        loc = ("steps", name)
        if (step.do is None) == (step.by is None):
            errors.append(doc.error(loc, f"step '{name}' must have exactly one of 'do' (automatic action) or 'by' (human role)", "add do: <action> or by: <role>"))
        if step.do is not None and step.do not in known_actions:
            errors.append(doc.error((*loc, "do"), f"unknown action '{step.do}' in step '{name}'", f"use one of: {', '.join(sorted(known_actions))}"))
        for outcome, target in step.targets.items():
            if target != END and target not in definition.steps:
                where = (*loc, "next") if isinstance(step.next, str) else (*loc, "next", outcome)
                errors.append(doc.error(where, f"step '{name}' goes to unknown step '{target}'", f"define step '{target}' or use one of: {', '.join([*definition.steps, END])}"))
        if step.mode != "one" and not step.human:
            errors.append(doc.error((*loc, "mode"), f"step '{name}' has mode '{step.mode}' but is automatic", "mode applies to human steps (by: <role>) only"))
        if step.human and isinstance(step.next, dict) and not step.next:
            errors.append(doc.error((*loc, "next"), f"human step '{name}' has no outcomes", "list at least one outcome, e.g. approve: <step>"))
        if step.start_flow and known_flows is not None and step.start_flow not in known_flows:
            errors.append(doc.error((*loc, "start_flow"), f"unknown flow '{step.start_flow}'", f"use one of: {', '.join(sorted(known_flows))}"))
    if not errors:
        unreachable = set(definition.steps) - _reachable(definition)
        for name in sorted(unreachable):
            errors.append(doc.error(("steps", name), f"step '{name}' can never be reached from '{definition.start}'", "link it from another step's next, or remove it"))
    if errors:
        raise SourceErrors(errors)
    return definition


def _reachable(definition: FlowDefinition) -> set[str]:
    seen: set[str] = set()
    todo = [definition.start]
    while todo:
        name = todo.pop()
        if name in seen or name == END:
            continue
        seen.add(name)
        todo.extend(definition.steps[name].targets.values())
    return seen


def load_flows(directory: Path, known_actions: set[str]) -> dict[str, FlowDefinition]:
    """Every ``*.yaml`` in ``directory``, keyed by flow name."""
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise SourceError(directory, None, "no flow files (*.yaml) found", "point GONGWEN_FLOWS_DIR at a folder with flow definitions")
    names = {p.stem for p in paths}
    flows: dict[str, FlowDefinition] = {}
    errors: list[SourceError] = []
    for path in paths:
        try:
            definition = load_flow(path, known_actions, names)
        except SourceErrors as exc:
            errors.extend(exc.errors)
            continue
        except SourceError as exc:
            errors.append(exc)
            continue
        if definition.flow != path.stem:
            errors.append(SourceError(path, load_yaml(path).line_of(("flow",)), f"flow name '{definition.flow}' differs from the file name '{path.stem}'", f"rename the file to {definition.flow}.yaml or the flow to {path.stem}"))
        flows[definition.flow] = definition
    if errors:
        raise SourceErrors(errors)
    return flows
