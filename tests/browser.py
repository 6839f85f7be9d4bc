"""The browser harness of the web tests: `gongwen serve` in its own process on a free port, Debian's
chromium driven by Playwright (``executable_path``; no browser download), screenshots, sign-in. The
fixtures over it (``server``, ``quiet_server``, ``browser``) are in conftest.py."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from processes import alive, descendants

from gongwen_engine.flows.cli.web import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_SECONDS = 180  # how long the flow may take to reach a state on a loaded machine (not a timing assertion)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp_path: Path, *options: str) -> Iterator[tuple[str, Path]]:
    """`gongwen serve` on a free port with its own home (database, storage) and Prefect home."""
    home, prefect = tmp_path / "home", tmp_path / "prefect"
    prefect.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "GONGWEN_HOME": str(home), "PREFECT_HOME": str(prefect), "GONGWEN_WEB_SECRET": "test-secret-not-for-production"}
    env.pop("GONGWEN_DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gongwen_engine.flows", "serve", "--port", str(port), *options], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gongwen serve did not start:\n{(tmp_path / 'serve.log').read_text()}") from None
                time.sleep(0.3)
        yield base, home
    finally:
        children = descendants(proc.pid)  # the embedded Prefect server, LibreOffice
        proc.terminate()  # SIGTERM, as `systemctl stop` sends
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(c) for c in children):
            time.sleep(0.3)
        left = [c for c in children if alive(c)]
        for c in left:
            os.kill(c, 9)
        # before the fix, uvicorn re-raised SIGTERM with the default action and the embedded Prefect server stayed running
        assert not left, f"gongwen serve stopped with SIGTERM left processes behind: {left}"


class Shots:
    """Full-page screenshots, numbered in the order taken."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.n = folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        self.n += 1
        page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}.png"), full_page=True)


def sign_in(browser, base: str, account: str, password: str = DEMO_PASSWORD):
    context = browser.new_context(base_url=base, accept_downloads=True, viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=account]", account)
    page.fill("input[name=password]", password)
    follow(page, "button[type=submit]")
    return page


def follow(page, target) -> None:
    """Click ``target`` (a selector or a locator) and wait until the page it leads to has loaded: a
    click returns once the navigation is committed, and reading the page before its load event can
    see an empty document (CI saw ``content() == ''`` right after following a link)."""
    with page.expect_navigation(timeout=WAIT_SECONDS * 1000):
        (page.locator(target) if isinstance(target, str) else target).click()


def wait_for_text(page, url: str, pattern: str) -> None:
    """Reload ``url`` until ``pattern`` (a regex) appears: the automatic steps run in the server's background."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        page.goto(url)
        if re.search(pattern, page.content()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never showed {pattern!r}; page:\n{page.inner_text('main')[:1500]}")
        time.sleep(1)


def csrf_of(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")
