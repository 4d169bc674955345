"""``workforce payouts process RUN_ID`` in a process that kills itself (SIGKILL: no
cleanup, as a crash or an OOM kill) when the processor reaches STEP, one of the steps
``processing.step_reached`` names. The crash tests (tests/test_payout_races.py) run it:

    python -m tests.killed_processor STEP RUN_ID
"""

from __future__ import annotations

import os
import signal
import sys

from workforce.billing import processing
from workforce.cli import main


def _die_at(step: str):
    def reached(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    return reached


if __name__ == "__main__":
    step, run_id = sys.argv[1:]
    processing.step_reached = _die_at(step)
    main(["payouts", "process", run_id])
