"""Flow definitions: the YAML files in ``flows/definitions/`` read as the process they describe.

Each step is one named entry that says what kind of step it is (``kind:``, one of
:class:`StepKind`: code that needs a step's meaning asks its kind, never its name), what it does
(``do:`` an automatic action) or who acts (``by:`` a role, for a human step that waits in the
database), and what comes next — a single step name, or a map from outcome to step name. ``end``
finishes the circulation. ``outcomes:`` maps every outcome a flow uses to the words a person
reads (approve → 同意).

Shared parts live in fragments under ``flows/definitions/_shared/`` (not flows themselves: flow
discovery reads only the folder's own ``*.yaml``). A flow names them with ``include:`` (a path
or a list of paths relative to the flow file); an included file holds ``steps:`` and/or
``outcomes:``. Its steps join the flow's after the flow's own; a step the flow also names is
merged key by key, the flow's keys winning (e.g. ``distribute: {start_flow: incoming}`` over the
shared 编号 → 印制 → 用印 → 核发 → 归档 tail). An error in an included part names the included
file and line; the flow's version hash covers the included text.

The file is validated on load and the wiring checked: every error names the file and line.
Wiring: each step's kind fits its action (the kind the action registry declares for it) or its
role (a kind a person can do); numbering comes before printing, printing before sealing and
distribution, sealing before distribution and 报送 where the flow seals; every step can reach
``end``; a loop passes a human step (a person decides, e.g. returns the draft), never automatic
steps alone; every outcome has its words. At run time the engine also stops a circulation that
has run more steps than ``GONGWEN_MAX_STEPS`` (``engine.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors, YamlDoc, load_yaml

END = "end"
PACKAGED_FLOWS_DIR = Path(__file__).parents[1] / "definitions"


class StepKind(StrEnum):
    """What a step means, whatever the flow names it (the closed set the flow files use)."""

    sign_for = "sign_for"  # 签收
    register = "register"  # 登记
    screen = "screen"  # 初审
    decide = "decide"  # 拟办
    instruct = "instruct"  # 批办
    draft = "draft"  # 拟稿 (and a revision of the draft)
    reply = "reply"  # 承办：拟答复 (a reply to the sender of a received document, drafted automatically)
    review = "review"  # 核稿
    recheck = "recheck"  # 复核
    countersign = "countersign"  # 会签
    sign_off = "sign_off"  # 签发
    number = "number"  # 编号
    render = "render"  # 印制
    seal = "seal"  # 用印
    distribute = "distribute"  # 核发
    submit = "submit"  # 报送
    circulate = "circulate"  # 传阅
    conclude = "conclude"  # 办结
    archive = "archive"  # 归档


# The kinds a person does (``by:``); the others are automatic, of the kind their action declares.
HUMAN_KINDS = frozenset(
    {
        StepKind.screen,
        StepKind.decide,
        StepKind.instruct,
        StepKind.draft,
        StepKind.review,
        StepKind.recheck,
        StepKind.countersign,
        StepKind.sign_off,
        StepKind.circulate,
    }
)


@dataclass(frozen=True)
class Order:
    """Every path from the start to a ``later`` step passes an ``earlier`` one (``if_present``:
    only in flows that have an ``earlier`` step at all)."""

    earlier: StepKind
    later: StepKind
    why: str
    if_present: bool = False


ORDERS = (
    Order(StepKind.number, StepKind.render, "the document is printed with its number (编号 before 印制)"),
    Order(StepKind.render, StepKind.seal, "the seal goes on the printed copy (印制 before 用印)"),
    Order(StepKind.render, StepKind.distribute, "the printed copy is what goes out (印制 before 核发)"),
    Order(StepKind.seal, StepKind.distribute, "a sealed document goes out (用印 before 核发)", if_present=True),
    Order(StepKind.seal, StepKind.submit, "a sealed report goes up (用印 before 报送)", if_present=True),
)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: StepKind = Field(description="what the step means (code asks this, never the step's name)")
    title: str = Field(description="the step's Chinese name as offices know it, e.g. 签发")
    do: str | None = Field(default=None, description="automatic action name (see flows/actions/)")
    by: str | None = Field(default=None, description="human step: the role that may act (a code of config/roles.yaml)")
    next: str | dict[str, str] = Field(description="next step, or {outcome: next step}")
    template: str | None = Field(default=None, description="doc_templates/ template the action uses")
    start_flow: str | None = Field(default=None, description="flow each recipient runs (核发 and 报送 steps)")
    copy_flow: str | None = Field(default=None, description="flow each 抄送 recipient runs: a copy for information (distribution steps)")
    retries: int = Field(default=2, ge=0, le=10, description="retries of an automatic step on error")
    priority: int = Field(
        default=0,
        ge=-9,
        le=9,
        description="automatic steps: which ready circulations a worker takes first (Camunda's job priority): higher first, then oldest",
    )
    mode: Literal["one", "all", "sequence"] = Field(
        default="one",
        description=(
            "human steps: one item for the role (one), one item per user with the role in parallel, all must agree (all: 会签, parallel 传阅),"
            " or one user after another (sequence: sequential 传阅)"
        ),
    )
    due_days: int | None = Field(default=None, ge=0, description="time limit (办理时限) in calendar days from when the item opens")
    due_working_days: int | None = Field(
        default=None,
        ge=0,
        description=(
            "time limit (办理时限) in working days (工作日, 调休 included; models/rules/workdays.py):"
            " due at the end of the N-th working day after the item opens"
        ),
    )
    record: bool = Field(default=False, description="re-issue the circulation's record (.docx) after this automatic step; human steps always do")
    sets_signer: bool = Field(default=False, description="the approving person becomes the document's signer (签发人) and the day they sign its 成文日期")

    @model_validator(mode="after")
    def _one_time_limit(self) -> Step:
        if self.due_days is not None and self.due_working_days is not None:
            raise ValueError("give the time limit once: due_days (calendar days) or due_working_days (working days), not both")
        return self

    @property
    def human(self) -> bool:
        return self.by is not None

    @property
    def role(self) -> str:
        """The role that acts on a human step (an automatic step has none: asking is a bug)."""
        if self.by is None:
            raise RuntimeError(f"step '{self.title}' is automatic: no role acts on it")
        return self.by

    @property
    def action(self) -> str:
        """The action an automatic step runs (a human step has none: asking is a bug)."""
        if self.do is None:
            raise RuntimeError(f"step '{self.title}' is done by a person: it runs no action")
        return self.do

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
    outcomes: dict[str, str] = Field(default_factory=dict, description="outcome -> the words a person reads, e.g. approve: 同意")
    parts: tuple[tuple[str, str], ...] = Field(
        default=(), exclude=True, description="[file name, text] of the flow file, then of each included file (names relative to the flow file)"
    )

    @cached_property
    def version(self) -> str:
        """Identifies the flow text a circulation runs, included files too (circulations in flight keep theirs: ``versions.py``)."""
        source = "\n".join(text for _, text in self.parts)
        return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]

    def steps_of(self, kind: StepKind) -> dict[str, Step]:
        """The steps of ``kind``, by name, in the flow's order."""
        return {name: step for name, step in self.steps.items() if step.kind == kind}

    def name_of(self, kind: StepKind) -> str:
        """The name of the flow's one step of ``kind``."""
        names = list(self.steps_of(kind))
        if len(names) != 1:
            raise KeyError(f"flow '{self.flow}' has {len(names)} steps of kind '{kind}' ({', '.join(names) or 'none'}), not one")
        return names[0]

    @property
    def receives(self) -> bool:
        """The flow starts from a received document (its first step signs for it: 签收)."""
        return self.step(self.start).kind == StepKind.sign_for

    def outcome_label(self, outcome: str | None) -> str:
        """How ``outcome`` reads to a person (approve → 同意)."""
        return self.outcomes.get(outcome or "", outcome or "")

    def step(self, name: str) -> Step:
        try:
            return self.steps[name]
        except KeyError:
            raise KeyError(f"flow '{self.flow}' has no step '{name}'") from None


def flow_named(flows: Mapping[str, FlowDefinition], name: str) -> FlowDefinition:
    """The flow called ``name``; an unknown name is refused with the names there are."""
    try:
        return flows[name]
    except KeyError:
        raise Refusal(f"未知流程“{name}”；可选：{'、'.join(sorted(flows))}") from None


class _Fragment(BaseModel):
    """An included file: shared steps (each may be partial: the including flow completes it) and outcome words."""

    model_config = ConfigDict(extra="forbid")

    steps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    outcomes: dict[str, str] = Field(default_factory=dict)


class _FlowSource(YamlDoc):
    """A flow file with its included files: the merged data, and for any location the file and
    line it came from (so :meth:`YamlDoc.validate` names the included file for an included part)."""

    def __init__(self, flow: YamlDoc, text: str) -> None:
        data = {k: v for k, v in flow.data.items() if k != "include"} if isinstance(flow.data, dict) else flow.data
        super().__init__(flow.path, None, data, text)
        self.flow = flow
        self.step_docs: dict[str, YamlDoc] = {}  # included step -> the file that defines it
        self.outcome_docs: dict[str, YamlDoc] = {}
        self.parts: list[tuple[str, str]] = [(flow.path.name, text)]

    def doc_for(self, loc: tuple[str | int, ...]) -> YamlDoc:
        own = self.flow.data if isinstance(self.flow.data, dict) else {}
        own_outcomes = own.get("outcomes")
        if loc[:1] == ("outcomes",) and len(loc) > 1 and not (isinstance(own_outcomes, dict) and loc[1] in own_outcomes):
            return self.outcome_docs.get(str(loc[1]), self.flow)
        if loc[:1] != ("steps",) or len(loc) < 2 or loc[1] not in self.step_docs:
            return self.flow
        own_steps = own.get("steps")
        own_step = own_steps.get(loc[1]) if isinstance(own_steps, dict) else None
        if isinstance(own_steps, dict) and loc[1] in own_steps and (not isinstance(own_step, dict) or len(loc) == 2 or loc[2] in own_step):
            return self.flow
        return self.step_docs[str(loc[1])]

    def line_of(self, loc: Any) -> int | None:
        loc = tuple(loc)
        return self.doc_for(loc).line_of(loc)

    def error(self, loc: Any, message: str, fix: str = "") -> SourceError:
        loc = tuple(loc)
        return self.doc_for(loc).error(loc, message, fix)


def _read_flow(path: Path) -> _FlowSource:
    """The flow file at ``path`` with its ``include:`` files merged in (see the module docstring)."""
    flow = load_yaml(path)
    source = _FlowSource(flow, path.read_text(encoding="utf-8"))
    raw = flow.data.get("include", []) if isinstance(flow.data, dict) else []
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise flow.error(("include",), "include: must be a file name or a list of file names", "e.g. include: [_shared/outcomes.yaml, _shared/issue_tail.yaml]")
    steps: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, str] = {}
    errors: list[SourceError] = []
    for index, name in enumerate(names):
        target = path.parent / name
        if not target.is_file():
            errors.append(
                flow.error(
                    ("include", index) if isinstance(raw, list) else ("include",), f"included file '{name}' not found", f"give a path relative to {path.parent}"
                )
            )
            continue
        doc = load_yaml(target)
        fragment = doc.validate(_Fragment)
        source.parts.append((name, target.read_text(encoding="utf-8")))
        for step_name, step in fragment.steps.items():
            if step_name in steps:
                errors.append(
                    doc.error(
                        ("steps", step_name),
                        f"step '{step_name}' is already included from {source.step_docs[step_name].path}",
                        "define each shared step in one included file",
                    )
                )
            steps[step_name] = step
            source.step_docs[step_name] = doc
        for outcome, label in fragment.outcomes.items():
            outcomes.setdefault(outcome, label)
            source.outcome_docs.setdefault(outcome, doc)
    if errors:
        raise SourceErrors(errors)
    data = source.data
    own_steps, own_outcomes = (data.get("steps", {}), data.get("outcomes", {})) if isinstance(data, dict) else (None, None)
    if isinstance(own_steps, dict) and isinstance(own_outcomes, dict):  # else validation names what is wrong in the flow file
        merged = {name: step for name, step in own_steps.items() if name not in steps}
        for name, step in steps.items():
            own = own_steps.get(name, {})
            merged[name] = {**step, **own} if isinstance(own, dict) else own
        source.data = {**data, "steps": merged, "outcomes": {**outcomes, **own_outcomes}}
    return source


def load_flow(path: Path, action_kinds: Mapping[str, StepKind], known_flows: set[str] | None = None, roles: Collection[str] | None = None) -> FlowDefinition:
    """Read and check one flow file (``action_kinds``: each known action and the kind of step it
    performs; ``roles``: the installation's role codes, config/roles.yaml, None: not checked);
    raise SourceErrors naming file:line for every problem."""
    source = _read_flow(path)
    definition = source.validate(FlowDefinition)
    definition = definition.model_copy(update={"parts": tuple(source.parts)})
    errors: list[SourceError] = []
    if definition.start not in definition.steps:
        errors.append(source.error(("start",), f"start step '{definition.start}' is not defined", f"use one of: {', '.join(definition.steps)}"))
    for name, step in definition.steps.items():
        errors.extend(_step_errors(source, definition, name, step, action_kinds, known_flows))
        if step.by is not None and roles is not None and step.by not in roles:
            errors.append(
                source.error(
                    ("steps", name, "by"),
                    f"step '{name}' is done by unknown role '{step.by}'",
                    f"use one of {', '.join(roles)}, or add the role to config/roles.yaml",
                )
            )
    if not errors:
        errors.extend(_wiring_errors(source, definition))
    if errors:
        raise SourceErrors(errors)
    return definition


def _step_errors(
    source: _FlowSource, definition: FlowDefinition, name: str, step: Step, action_kinds: Mapping[str, StepKind], known_flows: set[str] | None
) -> list[SourceError]:
    loc = ("steps", name)
    errors: list[SourceError] = []
    if (step.do is None) == (step.by is None):
        errors.append(
            source.error(loc, f"step '{name}' must have exactly one of 'do' (automatic action) or 'by' (human role)", "add do: <action> or by: <role>")
        )
    if step.do is not None and step.do not in action_kinds:
        errors.append(source.error((*loc, "do"), f"unknown action '{step.do}' in step '{name}'", f"use one of: {', '.join(sorted(action_kinds))}"))
    elif step.do is not None and action_kinds[step.do] != step.kind:
        errors.append(
            source.error(
                (*loc, "kind"),
                f"step '{name}' is of kind '{step.kind}' but its action '{step.do}' performs '{action_kinds[step.do]}'",
                f"use kind: {action_kinds[step.do]}, or an action of kind '{step.kind}'",
            )
        )
    if step.by is not None and step.kind not in HUMAN_KINDS:
        errors.append(
            source.error(
                (*loc, "kind"),
                f"step '{name}' is of kind '{step.kind}', which the system does, but a person acts on it (by: {step.by})",
                f"a person does: {', '.join(sorted(HUMAN_KINDS))}",
            )
        )
    for outcome, target in step.targets.items():
        where = (*loc, "next") if isinstance(step.next, str) else (*loc, "next", outcome)
        if target != END and target not in definition.steps:
            errors.append(
                source.error(
                    where, f"step '{name}' goes to unknown step '{target}'", f"define step '{target}' or use one of: {', '.join([*definition.steps, END])}"
                )
            )
        if outcome not in definition.outcomes:
            errors.append(
                source.error(
                    where,
                    f"outcome '{outcome}' of step '{name}' has no words for a person",
                    f"add it to outcomes: (e.g. {outcome}: 同意), here or in an included file",
                )
            )
    if step.mode != "one" and not step.human:
        errors.append(source.error((*loc, "mode"), f"step '{name}' has mode '{step.mode}' but is automatic", "mode applies to human steps (by: <role>) only"))
    if step.human and isinstance(step.next, dict) and not step.next:
        errors.append(source.error((*loc, "next"), f"human step '{name}' has no outcomes", "list at least one outcome, e.g. approve: <step>"))
    for key in ("start_flow", "copy_flow"):
        named = getattr(step, key)
        if named and known_flows is not None and named not in known_flows:
            errors.append(source.error((*loc, key), f"unknown flow '{named}'", f"use one of: {', '.join(sorted(known_flows))}"))
    return errors


def _wiring_errors(source: _FlowSource, definition: FlowDefinition) -> list[SourceError]:
    """Reachability from the start, ``end`` from every step, no loop of automatic steps alone,
    and the order of the ORDERS."""
    reachable = _reachable(definition, definition.start)
    errors = [
        source.error(("steps", name), f"step '{name}' can never be reached from '{definition.start}'", "link it from another step's next, or remove it")
        for name in definition.steps
        if name not in reachable
    ]
    endless = {name for name in reachable - {END} if END not in _reachable(definition, name)}
    for name in sorted(endless):
        errors.append(
            source.error(
                ("steps", name),
                f"step '{name}' never leads to '{END}': a circulation there would run forever",
                f"let one of its next steps lead on to {END}",
            )
        )
    for cycle in _automatic_cycles(definition):
        if set(cycle) & endless or not set(cycle) <= reachable:
            continue  # already said: never leads to end, or never reached
        errors.append(
            source.error(
                ("steps", cycle[0], "next"),
                f"steps {' → '.join([*cycle, cycle[0]])} go round without a person deciding: a circulation could run them for ever",
                "let the way back pass a human step (by: a role, e.g. a 签发 that may return), or lead on to end",
            )
        )
    for order in ORDERS:
        if order.if_present and not definition.steps_of(order.earlier):
            continue
        passed = set(definition.steps_of(order.earlier))
        for name in sorted(set(definition.steps_of(order.later)) & _reachable(definition, definition.start, passed)):
            errors.append(
                source.error(
                    ("steps", name, "kind"),
                    f"step '{name}' ({order.later}) can be reached without a step of kind '{order.earlier}' before it: {order.why}",
                    f"put a step of kind '{order.earlier}' on every way to '{name}'",
                )
            )
    return errors


def _automatic_cycles(definition: FlowDefinition) -> list[list[str]]:
    """The loops made of automatic steps only (each as its steps in order, from the first in the
    file): a cycle is allowed only through a human decision, e.g. a 签发 that returns the draft."""
    automatic = [name for name, step in definition.steps.items() if not step.human]
    following = {name: [t for t in definition.steps[name].targets.values() if t in automatic] for name in automatic}
    order = {name: i for i, name in enumerate(definition.steps)}
    cycles: list[list[str]] = []
    for component in _strongly_connected(automatic, following):
        if len(component) == 1 and component[0] not in following[component[0]]:
            continue
        first = min(component, key=order.__getitem__)
        path, name = [first], first  # walk the loop inside the component from its first step
        while True:
            name = next(t for t in following[name] if t in component)
            if name == first or name in path:
                break
            path.append(name)
        cycles.append(path)
    return sorted(cycles, key=lambda c: order[c[0]])


def _strongly_connected(nodes: Sequence[str], following: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of a small graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in following[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            components.append(component)

    for node in nodes:
        if node not in index:
            visit(node)
    return components


def policy_errors(policies_file: Path, flows: Mapping[str, FlowDefinition]) -> list[SourceError]:
    """A policy's ``auto_approve`` names a step kind a person does in some flow, and an outcome
    that kind's steps have (a name that matches nothing would silently never approve)."""
    doc = load_yaml(policies_file)
    policies = doc.data.get("policies") if isinstance(doc.data, dict) else None
    errors: list[SourceError] = []
    human_steps = [step for flow in flows.values() for step in flow.steps.values() if step.human]
    for name, policy in (policies or {}).items():
        for kind, outcome in ((policy or {}).get("auto_approve") or {}).items():
            steps = [step for step in human_steps if step.kind == kind]
            loc = ("policies", name, "auto_approve", kind)
            if not steps:
                kinds = sorted({step.kind.value for step in human_steps})
                errors.append(
                    doc.error(loc, f"policy '{name}' approves '{kind}', which is no step a person does in any flow", f"use one of: {', '.join(kinds)}")
                )
            elif not any(outcome in step.targets for step in steps):
                outcomes = sorted({o for step in steps for o in step.targets})
                errors.append(
                    doc.error(
                        loc, f"policy '{name}' takes outcome '{outcome}' at '{kind}', which those steps do not have", f"use one of: {', '.join(outcomes)}"
                    )
                )
    return errors


def _reachable(definition: FlowDefinition, first: str, blocked: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The steps (and ``end``) reachable from ``first`` without passing a ``blocked`` step."""
    seen: set[str] = set()
    todo = [first]
    while todo:
        name = todo.pop()
        if name in seen or name in blocked:
            continue
        seen.add(name)
        if name != END:
            todo.extend(definition.steps[name].targets.values())
    return seen


def load_flow_parts(parts: Sequence[tuple[str, str]], action_kinds: Mapping[str, StepKind]) -> FlowDefinition:
    """A flow from its files' names and texts (as ``FlowDefinition.parts`` keeps them), read and
    checked like the file it was: written to a scratch folder and loaded from there."""
    with TemporaryDirectory(prefix="gongwen-flow-") as scratch:
        for name, text in parts:
            path = (Path(scratch) / name).resolve()
            if not path.is_relative_to(Path(scratch).resolve()):
                raise SourceError(Path(name), None, "a kept flow version names a file outside its folder", "include files below the flow's folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return load_flow(Path(scratch) / parts[0][0], action_kinds)


def load_flows(directory: Path, action_kinds: Mapping[str, StepKind], roles: Collection[str] | None = None) -> dict[str, FlowDefinition]:
    """Every ``*.yaml`` directly in ``directory`` (included fragments live in subfolders), keyed by
    flow name; ``roles``: the role codes a human step may name (None: not checked)."""
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise SourceError(directory, None, "no flow files (*.yaml) found", "point GONGWEN_FLOWS_DIR at a folder with flow definitions")
    names = {p.stem for p in paths}
    flows: dict[str, FlowDefinition] = {}
    errors: list[SourceError] = []
    for path in paths:
        try:
            definition = load_flow(path, action_kinds, names, roles)
        except SourceErrors as exc:
            errors.extend(exc.errors)
            continue
        except SourceError as exc:
            errors.append(exc)
            continue
        if definition.flow != path.stem:
            errors.append(
                SourceError(
                    path,
                    load_yaml(path).line_of(("flow",)),
                    f"flow name '{definition.flow}' differs from the file name '{path.stem}'",
                    f"rename the file to {definition.flow}.yaml or the flow to {path.stem}",
                )
            )
        flows[definition.flow] = definition
    if errors:
        raise SourceErrors(errors)
    return flows
