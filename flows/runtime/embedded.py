"""The embedded Prefect server (no ``PREFECT_API_URL``): started by us, its output in a log file.

Prefect starts its ephemeral server (``SubprocessASGIServer``, a uvicorn subprocess) on the
first client call, with our terminal as its stderr. When the process exits, Prefect terminates
it, and its shutdown can log a cancelled database rollback as a traceback (aiosqlite
``CancelledError``) on the user's terminal after the command has finished its work. We start
the same singleton first, with the child's stderr sent to ``GONGWEN_HOME/prefect-server.log``;
Prefect's later calls find it running and use it. A real server (``PREFECT_API_URL`` set) is
left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

LOG_NAME = "prefect-server.log"


def start_embedded_server(home: Path) -> Path | None:
    """Start the embedded server with its output in ``home/prefect-server.log`` (returned); None
    when a real server is configured or the embedded one already runs."""
    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    server = SubprocessASGIServer()
    if server.running:
        return None
    log_path = Path(home) / LOG_NAME
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log_path, "ab") as log:
            os.dup2(log.fileno(), 2)  # the child inherits fd 2 at Popen
            try:
                server.start()
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    return log_path


def kill_embedded_server() -> None:
    """A forced stop (``os._exit`` at the SIGTERM deadline) skips the exit handler with which Prefect
    stops its server: SIGKILL it here so it does not outlive this process (the SIGTERM campaign
    found one uvicorn left behind after a forced stop). No-op when none runs."""
    process = SubprocessASGIServer().server_process  # the singleton Prefect and start_embedded_server share
    if process is not None and process.poll() is None:
        process.kill()
