"""Measuring a piece of work in a fresh interpreter: its time and its peak memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(module: str, *args: str) -> dict:
    """Run ``python -m module args...``; it prints one JSON object on its last line."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "WORKFORCE_LOG_LEVEL": "WARNING"},
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {args} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
