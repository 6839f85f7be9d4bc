"""The one error a received file can cause: what is wrong, with which file, and what to do."""

from __future__ import annotations

from gongwen_engine.config.errors import Refusal


class IntakeError(Refusal):
    """A received file that cannot be read. ``str()`` is the user-facing Chinese message."""

    def __init__(self, name: str, what: str, todo: str) -> None:
        self.name, self.what, self.todo = name, what, todo
        super().__init__(f"收文失败：文件“{name}”{what}。{todo}。")
