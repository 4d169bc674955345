"""A PgBouncer in transaction pooling mode in front of a PostgreSQL server, for the
claims benchmark's ``--pgbouncer`` and for CI's run of the race tests through it.

    python -m bench.pgbouncer WORKFORCE_TEST_DATABASE_URL -- pytest -m races ...

starts one in front of the server that variable's URL names, runs the command with the
variable pointing at PgBouncer instead (and ``?pooler=pgbouncer``, which turns off
psycopg's prepared statements: ``workforce.db.make_engine``), and stops it. The
configuration is generated into ``var/pgbouncer-<port>/`` (listening on a free loopback
port, trust authentication, ``pool_mode = transaction``). PgBouncer refuses to run as
root: under root it is started with ``-u postgres``, and its folder given to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bench.servers import ROOT, free_port, stop_group

# Server connections per database and user: the race tests' threads (at most 40) each
# hold one through their transaction; PostgreSQL allows 100 in all on this machine.
POOL_SIZE = 40
RUN_AS_WHEN_ROOT = "postgres"

CONFIG = """\
[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


def binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if found is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    return found


@contextlib.contextmanager
def running(server: URL, pool_size: int = POOL_SIZE) -> Iterator[int]:
    """A PgBouncer in front of ``server``'s host and port; yields its port."""
    port = free_port()
    folder = ROOT / "var" / f"pgbouncer-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    user = server.username or "postgres"
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(CONFIG.format(
        host=server.host or "127.0.0.1", server_port=server.port or 5432, port=port,
        folder=folder, pool_size=pool_size))
    command = [binary(), "-q", str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        owner = pwd.getpwnam(RUN_AS_WHEN_ROOT)
        for path in (folder, *folder.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command[1:1] = ["-u", RUN_AS_WHEN_ROOT]
    process = subprocess.Popen(command, start_new_session=True)
    try:
        _wait_for(port, process, folder)
        yield port
    finally:
        stop_group(process)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(port: int, process: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = folder / "pgbouncer.log"
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: "
                               f"{log.read_text() if log.exists() else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError("pgbouncer did not listen within 30 s")


def pooled(url: URL, port: int) -> URL:
    """``url`` through the PgBouncer on ``port``, with prepared statements off."""
    return url.set(host="127.0.0.1", port=port).update_query_dict({"pooler": "pgbouncer"})


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    variable, command = argv[0], argv[2:]
    url = make_url(os.environ[variable])
    with running(url) as port:
        through = pooled(url, port).render_as_string(hide_password=False)
        print(f"pgbouncer (transaction pooling) on 127.0.0.1:{port}: {variable}={through}",
              flush=True)
        return subprocess.run(command, env={**os.environ, variable: through},
                              check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
