"""Runtime settings, from environment variables (prefix ``GONGWEN_``) or defaults.

Nothing configured means: SQLite file ``./.gongwen/gongwen.db``, documents under
``./.gongwen/storage``, the packaged ``config/`` and ``flows/``, and Prefect's embedded mode
(set ``PREFECT_API_URL`` to use a Prefect server).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGWEN_")

    home: Path = Path(".gongwen")
    database_url: str | None = None  # e.g. postgresql+psycopg://user@127.0.0.1:5432/gongwen
    storage: Path | None = None  # where rendered documents are written
    config_dir: Path | None = None  # None: the packaged config/
    flows_dir: Path | None = None  # None: the packaged flows/

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'gongwen.db').resolve()}"

    @property
    def resolved_storage(self) -> Path:
        return (self.storage or self.home / "storage").resolve()
