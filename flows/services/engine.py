"""How interfaces get an engine (``open_engine``: over the settings, with the action registry of
``flows/actions`` and the record renderer of ``doc_templates``) and the checked flows (``flow_definitions``)."""

from __future__ import annotations

from pathlib import Path

from gongwen_engine.config.loader import load_roles
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.records import render_record
from gongwen_engine.flows.actions import ACTIONS
from gongwen_engine.flows.engine.context import action_kinds
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR, FlowDefinition, load_flows
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.leftovers import clean_leftovers


def open_engine(settings: Settings | None = None, clean: bool = True) -> Engine:
    """The engine over ``settings`` (default: the environment's), running the registered actions.

    ``clean``: first remove what killed processes left behind (``leftovers.py``); the commands
    that inspect (check-invariants, archive verify) pass False and report them instead."""
    settings = settings or Settings()
    if clean:
        clean_leftovers(settings)
    return Engine(settings, actions=ACTIONS, record_renderer=render_record)


def flow_definitions(settings: Settings) -> dict[str, FlowDefinition]:
    """The flows of ``settings`` loaded and checked without a database (``gongwen check``)."""
    return load_flows(Path(settings.flows_dir or PACKAGED_FLOWS_DIR), action_kinds(ACTIONS), load_roles(settings.config_dir))
