"""What gunicorn serves in the benchmarks: ``bench.wsgi:workforce`` is the real
application (built in each worker, so no connection crosses a fork)."""

from __future__ import annotations

from workforce.app import create_app

workforce = create_app()
