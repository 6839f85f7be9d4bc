"""Figures for the web workplace: how long its pages take over the demo chain.

Builds the demo chain (全国妇联 → 山东省妇联 → 16 cities → 济南's 12 counties, 31 circulations,
policy ``demo``) in a temporary database with the engine's own steps (no Prefect: the figures
are the pages', not the runner's), then times requests through FastAPI's test client (no
network): sign-in (one argon2id verification), the inbox, the national circulation's page
(cascade picture of 31 organisations + the print view), a circulation list, an archive search
and a record page, and the HTML print view alone.

    python benchmarks/web_bench.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.html import render_html
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.models.queries.documents import issued_parts
from gongwen_engine.models.tables import ArchiveItem, Circulation, Document


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and worst wall time in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def sign_in(client: TestClient, account: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"csrf": token, "account": account, "password": DEMO_PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gongwen-web-bench-") as tmp:
        app = create_app(Settings(home=Path(tmp) / "home"), run_steps=False)
        engine = app.state.web.engine
        started = time.perf_counter()
        org, content = load_notice()
        root = engine.launch(org, "issuing", content, policy="demo", actor=f"{org}_secretary")
        while True:
            with Session(engine.db) as session:
                ready = [c.id for c in session.exec(select(Circulation).where(Circulation.status == "ready"))]
            if not ready:
                break
            for circ_id in ready:
                engine.run_step(circ_id)
        with Session(engine.db) as session:
            circs = len(session.exec(select(Circulation)).all())
            code = session.exec(select(ArchiveItem.archive_code).where(ArchiveItem.org == "shandong")).first()
            doc = session.exec(select(Document).where(Document.org == "shandong", Document.doc_number.is_not(None))).first()
            parts = issued_parts(session, doc)
        print(f"demo chain built without Prefect: {circs} circulations in {time.perf_counter() - started:.1f} s")
        with TestClient(app) as client:
            rows = []
            rows.append(("sign-in (argon2id verify + audit)", timed(lambda: sign_in(client, "acwf_secretary"), max(3, args.repeat // 4))))
            rows.append(("national circulation page (cascade of 31 + print view)", timed(lambda: client.get(f"/circulations/{root}"), args.repeat)))
            rows.append(("circulation list", timed(lambda: client.get("/circulations"), args.repeat)))
            sign_in(client, "jinan_leader")
            rows.append(("inbox", timed(lambda: client.get("/inbox"), args.repeat)))
            sign_in(client, "shandong_archivist")
            rows.append(("archive search 下基层 (+ retrieval log, audit)", timed(lambda: client.get("/archive?words=下基层"), args.repeat)))
            rows.append(("archive record page", timed(lambda: client.get(f"/archive/items/{code}"), args.repeat)))
        rows.append(("print view HTML of a forward (2 parts), no request", timed(lambda: render_html(parts), args.repeat)))
        width = max(len(name) for name, _ in rows)
        for name, (median, worst) in rows:
            print(f"{name:<{width}}  median {median:7.1f} ms   worst {worst:7.1f} ms")


if __name__ == "__main__":
    main()
