"""``python -m gongwen_engine.flows`` is the ``gongwen`` command."""

from gongwen_engine.flows.cli.main import app

app(prog_name="gongwen")
