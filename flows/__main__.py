"""``python -m gongwen_engine.flows`` is the ``gongwen`` command."""

from .cli import app

app(prog_name="gongwen")
