"""Runtime settings, from environment variables (prefix ``GONGWEN_``) or defaults.

Nothing configured means: SQLite file ``./.gongwen/gongwen.db``, documents under
``./.gongwen/storage``, the packaged ``config/`` and ``flows/``, and Prefect's embedded mode
(set ``PREFECT_API_URL`` to use a Prefect server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gongwen_engine.config.errors import Refusal


def _said(error: Any) -> str:
    """One setting's validation error in plain words (the value of a secret is never repeated)."""
    name = "GONGWEN_" + "_".join(str(part) for part in error["loc"]).upper()
    ctx = error.get("ctx") or {}
    must = {
        "int_parsing": "应为整数",
        "greater_than_equal": f"应不小于 {ctx.get('ge')}",
        "less_than_equal": f"应不大于 {ctx.get('le')}",
    }.get(error["type"], "格式不对")
    shown = "" if name == "GONGWEN_DATABASE_URL" else f"={error.get('input')}"
    return f"环境变量 {name}{shown} 无效：{must}。请改正或删除该变量（README 的配置一节列出了每个变量）"


URL_FORM = "postgresql+psycopg://用户:密码@主机:端口/库名 或 sqlite:////绝对路径/gongwen.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGWEN_")

    def __init__(self, **values: Any) -> None:
        """A wrong value (an environment variable such as GONGWEN_MAX_STEPS=1) is refused with its
        name, what it must be and how to fix it, not passed on as an internal error."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise Refusal("；".join(_said(error) for error in exc.errors())) from None

    home: Path = Path(".gongwen")
    # e.g. postgresql+psycopg://user@127.0.0.1:5432/gongwen. Secret: it may hold a password, so it
    # never shows in a repr, a dump or an error message (errors name it with the password hidden).
    database_url: SecretStr | None = None
    storage: Path | None = None  # where rendered documents are written
    config_dir: Path | None = None  # None: the packaged config/
    flows_dir: Path | None = None  # None: the packaged flows/
    # The most steps one circulation may run (GONGWEN_MAX_STEPS): past it, the engine fails the
    # step it is at instead of running it (a loop the load-time checks could not see; a forwarding
    # runs about 10, a draft returned many times a few dozen).
    max_steps: int = Field(default=500, ge=2)
    # Warm LibreOffices a process may run at once (GONGWEN_CONVERTERS): the batch runner's two slots
    # convert at the same time, and one conversion uses one CPU.
    converters: int = Field(default=2, ge=1, le=16)
    # Processes that advance the batch runner's work (GONGWEN_PROCESSES; `gongwen cascade`): the
    # slots are spread over this many processes of this machine, each with its own interpreter, so
    # Python's work (steps, renderings, signatures) uses more than one CPU; 1: all in this process.
    processes: int = Field(default=2, ge=1, le=16)
    # The web workplace behind reverse proxies: their addresses (comma-separated, e.g. 10.0.0.5,10.0.0.6).
    # Only from these is X-Forwarded-For believed (the client is its last address not of a proxy);
    # sign-in throttling counts per client address.
    trusted_proxies: str = ""

    def environment(self) -> dict[str, str]:
        """The ``GONGWEN_*`` variables that give another process these settings (a helper process;
        the database URL's password is passed in its environment, never on a command line)."""
        env = {}
        for name, value in self:
            if value is None:
                continue
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(Path(value).resolve()) if isinstance(value, Path) else str(value)
            env[f"GONGWEN_{name.upper()}"] = text
        return env

    @property
    def resolved_database_url(self) -> str:
        """The database URL (with its password: hand it to SQLAlchemy only, never print it)."""
        if not self.database_url:
            return f"sqlite:///{(self.home / 'gongwen.db').resolve()}"
        url = self.database_url.get_secret_value()
        try:
            make_url(url).get_dialect()  # unknown database or driver: refused here, before any connection
        except (ArgumentError, ValueError):  # also NoSuchModuleError, a bad port; no message shown: the URL may carry a password
            raise Refusal(f"GONGWEN_DATABASE_URL 无法识别（不是有效的数据库地址，或数据库类型/驱动未安装）。格式：{URL_FORM}。") from None
        return url

    @property
    def resolved_storage(self) -> Path:
        return (self.storage or self.home / "storage").resolve()
