"""A machine under load, on purpose: ``--load N`` starts N processes that only burn CPU,
each in a session of its own (``setsid``), for the length of a run.

With Linux's autogroup scheduling (on by default) CPU is shared between sessions, not
processes: N burners in N sessions take N shares of the CPUs against the benchmark's
one, whatever else runs. On the 2-CPU machine of bench/RESULTS.md ``--load 4`` keeps the
load average above 4 (the issue's "under load"); the load is reported beside each
figure (``uptime``'s three averages)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

BURN = "while True: pass"


@contextlib.contextmanager
def burning(count: int) -> Iterator[list[int]]:
    """``count`` CPU burners for the block; their process ids. Each is killed (by its
    own id) when the block ends, however it ends."""
    processes = [subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
                 for _ in range(max(0, count))]
    try:
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait()


def uptime() -> list[float]:
    """The load averages over 1, 5 and 15 minutes, as ``uptime`` shows them."""
    return [round(x, 2) for x in os.getloadavg()]
