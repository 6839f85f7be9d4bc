"""The embedded Prefect server's output goes to GONGWEN_HOME/prefect-server.log, not the terminal
(issue 26: a cancelled rollback's traceback printed by its shutdown after a command had finished)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
from pathlib import Path
from gongwen_engine.flows.runtime.embedded import start_embedded_server
from prefect.server.api.server import SubprocessASGIServer
log = start_embedded_server(Path(sys.argv[1]))
server = SubprocessASGIServer()
print(log)
print(os.readlink(f"/proc/{server.server_process.pid}/fd/2"))
print(start_embedded_server(Path(sys.argv[1])))  # already running: left as it is
"""


def test_the_embedded_server_writes_to_its_log_file_and_starts_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", "PREFECT_HOME": str(tmp_path / "prefect")}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "home")], capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    log, child_stderr, again = done.stdout.split("\n")[:3]
    assert log == child_stderr == str(tmp_path / "home" / "prefect-server.log")
    assert again == "None"
    assert "Traceback" not in done.stderr
