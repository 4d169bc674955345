"""The data sizes the benchmarks run at: ``small`` for ``make bench`` (a few minutes),
``medium`` when the full size does not fit the time or disk at hand, and ``full``, the
marketplace scale the issue asks for (100,000 trainers, 1,000 projects, 10 million tasks,
10 million postings)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Size:
    name: str
    organisations: int
    trainers: int
    projects: int
    tasks: int  # in the whole database, the claim projects' included
    postings: int  # ledger postings in the whole database (two per journal entry)
    # The two trainers whose earnings are read: their payable accounts' postings.
    small_trainer_postings: int = 1_000
    large_trainer_postings: int = 100_000
    # Open tasks in each of the two claim projects (workforce's and the floor's).
    claim_tasks: int = 20_000
    claim_seconds: float = 10.0
    claim_clients: tuple[int, ...] = (32, 128)
    earnings_requests: int = 100
    # Trainers paid through Stripe in the sending benchmark.
    send_items: int = 500
    import_rows: int = 50_000
    # Gunicorn workers serving workforce and the floor (the same number for both).
    workers: int = 4


SIZES = {
    "small": Size("small", organisations=4, trainers=2_000, projects=10, tasks=100_000,
                  postings=400_000),
    "medium": Size("medium", organisations=20, trainers=100_000, projects=1_000,
                   tasks=2_000_000, postings=2_000_000, claim_tasks=40_000,
                   claim_seconds=20.0, earnings_requests=400, send_items=2_000,
                   import_rows=1_000_000),
    "full": Size("full", organisations=50, trainers=100_000, projects=1_000,
                 tasks=10_000_000, postings=10_000_000, claim_tasks=50_000,
                 claim_seconds=30.0, earnings_requests=500, send_items=3_000,
                 import_rows=1_000_000),
}


def size_named(name: str, **overrides: int) -> Size:
    """A named size, with any field replaced (``--set tasks=500000``)."""
    return replace(SIZES[name], **overrides) if overrides else SIZES[name]
