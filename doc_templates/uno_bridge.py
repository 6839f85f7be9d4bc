"""A warm LibreOffice for one gongwen process: the other end of ``pdf.WarmConverter``.

Run by a Python that can ``import uno`` (Debian's ``/usr/bin/python3`` with ``python3-uno``),
never imported by gongwen itself: it uses the standard library and ``uno`` only.

    /usr/bin/python3 uno_bridge.py --soffice /usr/lib/libreoffice/program/soffice.bin --profile DIR

It starts ``soffice.bin`` headless with a private profile, listening on a named pipe (``urp``),
connects to it, says ``{"ready": true}`` and then answers one JSON request per line on stdin::

    {"src": "/tmp/a.docx", "dst": "/tmp/a.pdf", "filter": "writer_pdf_Export",
     "data": {"SelectPdfVersion": {"type": "long", "value": "2"}}}
    → {"ok": true}  or  {"ok": false, "error": "...", "fatal": false}

``fatal`` means LibreOffice itself is gone: the bridge exits and the caller starts another.
The bridge and its LibreOffice never outlive the caller: on stdin's end (the caller exited or
was killed), or when its parent process changes, it tells LibreOffice to quit (killing it after
``TERMINATE_WAIT_S``: a killed LibreOffice leaves its sockets in /tmp) and exits; LibreOffice
gets SIGKILL from the kernel if the bridge itself is killed (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1
CONNECT_TIMEOUT_S = 60.0
TERMINATE_WAIT_S = 3.0  # a LibreOffice told to quit that has not within this is killed
FIRST_START_RESTART = 81  # soffice.bin's E_RESTART after it created a new profile (oosplash restarts it)


_prctl: Callable[..., int] | None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork (Linux)
except (OSError, AttributeError):
    _prctl = None


def die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGKILL when the bridge (its parent) dies."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_office(soffice: str, profile: str, pipe: str) -> subprocess.Popen[bytes]:
    """soffice.bin itself (not the ``soffice`` script, whose oosplash would fork it out of reach)."""
    cmd = [
        soffice,
        f"-env:UserInstallation=file://{profile}",
        "--headless",
        "--invisible",
        "--nologo",
        "--norestore",
        "--nodefault",
        "--nolockcheck",
        f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
    ]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)


def connect(office: subprocess.Popen[bytes], pipe: str) -> Any:
    """The desktop of the started LibreOffice, once it answers on the pipe."""
    import uno
    from com.sun.star.connection import NoConnectException

    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except NoConnectException:
            if office.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def properties(**values: object) -> tuple[Any, ...]:
    """A tuple of UNO PropertyValues."""
    from com.sun.star.beans import PropertyValue

    return tuple(PropertyValue(Name=name, Value=value) for name, value in values.items())


def typed(spec: dict[str, Any]) -> object:
    """A filter-option value as LibreOffice's --convert-to JSON spells it: {"type", "value"}."""
    kind, value = spec["type"], spec["value"]
    if kind == "boolean":
        return str(value).lower() == "true"
    if kind == "long":
        return int(value)
    return str(value)


def convert(desktop: Any, src: str, dst: str, export_filter: str, data: dict[str, dict[str, Any]]) -> None:
    import uno

    document = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, properties(Hidden=True, ReadOnly=True, UpdateDocMode=0))
    if document is None:
        raise RuntimeError(f"LibreOffice could not open {os.path.basename(src)}")
    try:
        filter_data = uno.Any("[]com.sun.star.beans.PropertyValue", properties(**{k: typed(v) for k, v in data.items()}))
        uno.invoke(document, "storeToURL", (uno.systemPathToFileUrl(dst), properties(FilterName=export_filter, FilterData=filter_data)))
    finally:
        document.close(True)


def answers(office: subprocess.Popen[bytes], desktop: Any) -> bool:
    """LibreOffice is still running and answering on the pipe."""
    if office.poll() is not None:
        return False
    try:
        desktop.getComponents()
        return True
    except Exception:  # DisposedException and the like: the connection is gone
        return False


class Office:
    """The running LibreOffice: its process, its pipe's name and, once connected, its desktop."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.pipe = f"gongwen-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.desktop: Any = None  # a UNO object

    def stop(self) -> None:
        """Ask LibreOffice to quit (it then removes its sockets in /tmp), kill it if it does not
        within TERMINATE_WAIT_S, and remove the pipe's socket a killed one leaves behind."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        if self.desktop is not None:
            threading.Thread(target=self._terminate, daemon=True).start()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(TERMINATE_WAIT_S)
        if process.poll() is None:
            process.kill()
            process.wait()
            for folder in {"/tmp", os.environ.get("TMPDIR", "/tmp")}:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, f"OSL_PIPE_{os.getuid()}_{self.pipe}"))

    def _terminate(self) -> None:
        with contextlib.suppress(Exception):  # the connection drops as LibreOffice quits
            self.desktop.terminate()


def watch_parent(office: Office, parent: int) -> None:
    """Exit when the caller is gone even if stdin stays open (a forked child holds it)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    office.stop()
    os._exit(0)


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--soffice", required=True)
    args.add_argument("--profile", required=True)
    opts = args.parse_args()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)  # the protocol; fd 1 itself goes to stderr
    os.dup2(2, 1)

    def say(message: dict[str, object]) -> None:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")

    try:
        importlib.import_module("uno")
    except ImportError as exc:
        say({"ready": False, "uno": False, "error": f"{exc} ({sys.executable})"})
        return 3
    office = Office()
    threading.Thread(target=watch_parent, args=(office, os.getppid()), daemon=True).start()

    def on_sigterm(*_: object) -> None:
        office.stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        for _ in range(2):  # a new profile may make soffice.bin exit once with E_RESTART
            office.process = start_office(opts.soffice, opts.profile, office.pipe)
            try:
                office.desktop = connect(office.process, office.pipe)
                break
            except Exception:
                if office.process.poll() != FIRST_START_RESTART:
                    raise
        else:
            raise RuntimeError(f"soffice.bin exited twice with {FIRST_START_RESTART} (restart)")
    except Exception as exc:  # reported to the caller, which decides
        office.stop()
        say({"ready": False, "uno": True, "error": f"LibreOffice did not start: {type(exc).__name__}: {exc}"})
        return 4
    say({"ready": True, "pid": office.process.pid})
    for line in sys.stdin.buffer:  # bytes: the locale's encoding plays no part
        request = json.loads(line)
        try:
            convert(office.desktop, request["src"], request["dst"], request["filter"], request.get("data", {}))
            say({"ok": True})
        except Exception as exc:  # every failure is an answer
            gone = not answers(office.process, office.desktop)
            say({"ok": False, "fatal": gone, "error": f"{type(exc).__name__}: {exc}"})
            if gone:
                break
    office.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
