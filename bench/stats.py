"""Percentiles and the machine's load, for the reports."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The ``q`` (0..100) percentile by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    try:
        postgres = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
            capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        postgres = "unknown"
    return {"cpu": f"{cpu}, {os.cpu_count()} CPUs", "memory": memory,
            "python": platform.python_version(), "postgresql": postgres or "unknown",
            "os": platform.platform()}
