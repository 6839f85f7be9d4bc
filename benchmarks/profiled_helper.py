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

from gongwen_engine.flows.runtime import processes, runner


def main() -> int:
    profiler = Profiler()
    profiler.install(None)
    real_use = runner.use_engine

    def use_engine(engine) -> None:
        real_use(engine)
        profiler.watch(engine.db)

    runner.use_engine = use_engine  # runner.current_engine, which processes.main calls, sets the helper's engine with it
    try:
        return processes.main(sys.argv[1:])
    finally:
        profiler.dump(Path(os.environ[DUMP_DIR_VARIABLE]) / f"helper-{os.getpid()}.json")


if __name__ == "__main__":
    sys.exit(main())
