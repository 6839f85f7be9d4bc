"""Several `gongwen worker` processes on one PostgreSQL database share a cascade; every effect
happens exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, Delivery, IssuedNumber, Registration

NOTICE = Path(__file__).parents[1] / "config" / "demo" / "national_notice.yaml"


@pytest.mark.postgres
def test_two_workers_share_a_cascade_on_postgres(pg_url: str, tmp_path: Path, make_engine) -> None:
    env = {**os.environ, "GONGWEN_DATABASE_URL": pg_url, "GONGWEN_STORAGE": str(tmp_path / "storage"), "COLUMNS": "200"}

    def gongwen(*args: str, prefect_home: str = "p0") -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "gongwen_engine.flows", *args], env={**env, "PREFECT_HOME": str(tmp_path / prefect_home)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    launch = gongwen("launch", "issuing", str(NOTICE), "--user", "acwf_secretary", "--policy", "demo", "--no-run")
    assert launch.wait(timeout=120) == 0, launch.stderr.read()
    workers = [gongwen("worker", "--once", "--concurrency", "3", prefect_home=f"p{i}") for i in (1, 2)]
    for w in workers:
        assert w.wait(timeout=600) == 0, w.stderr.read()

    engine = make_engine(database_url=pg_url)
    with Session(engine.db) as session:
        def count(stmt) -> int:  # noqa: ANN001
            return session.exec(stmt).one()

        assert engine.status_counts() == {"done": 31}
        assert count(select(func.count()).select_from(IssuedNumber)) == count(select(func.count(func.distinct(IssuedNumber.doc_number)))) == 3
        assert count(select(func.count()).select_from(Delivery)) == 30
        assert count(select(func.count()).select_from(Registration)) == 30
        assert count(select(func.count()).select_from(ArchiveItem)) == count(select(func.count()).select_from(Circulation)) == 31
        workers_seen = {e.detail.get("worker") for e in session.exec(select(AuditEvent).where(AuditEvent.action.like("step:%")))}
        assert workers_seen and None not in workers_seen
