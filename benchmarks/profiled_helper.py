"""A batch helper process (``flows/runtime/processes.py``) with the cascade's profile installed.

``cascade_profile.Profiler.install`` makes the batch runner start this script instead of the
helper module; it profiles the helper as the starting process profiles itself and, when the
helper ends, writes the figures to ``$GONGWEN_BENCH_PROFILE_DIR/helper-PID.json`` for the
starting process to add to its own (``Profiler.merge_helpers``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from cascade_profile import DUMP_DIR_VARIABLE, Profiler

from gongwen_engine.flows.runtime import processes
from gongwen_engine.flows.services import engine as engine_services


def main() -> int:
    profiler = Profiler()
    profiler.install(None)
    real_open = engine_services.open_engine

    def open_engine(*args, **kwargs):
        engine = real_open(*args, **kwargs)
        profiler.watch(engine.db)
        return engine

    engine_services.open_engine = open_engine  # processes.main imports it when it runs
    try:
        return processes.main(sys.argv[1:])
    finally:
        profiler.dump(Path(os.environ[DUMP_DIR_VARIABLE]) / f"helper-{os.getpid()}.json")


if __name__ == "__main__":
    sys.exit(main())
