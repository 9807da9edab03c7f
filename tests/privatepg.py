"""A private PostgreSQL server of a test's own, which the test may stop and start.

The shared server (127.0.0.1:5432) cannot be restarted under other engineers' tests, so a
restart test runs ``initdb`` + ``pg_ctl`` on a free port in a temporary folder (as the
``postgres`` user when run as root: PostgreSQL refuses root). Skipped where the PostgreSQL
server binaries are not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PrivatePostgres:
    """``url`` while running; :meth:`stop` (fast shutdown) and :meth:`start` at will."""

    def __init__(self, folder: Path, port: int, as_user: list[str]) -> None:
        self.folder, self.port, self._as = folder, port, as_user
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._as, "pg_ctl", "-D", str(self.folder / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh cluster, started; stopped and removed afterwards."""
    import pytest

    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="digestbot-pg-"))
    if as_user:
        shutil.chown(folder, "postgres")
    server = PrivatePostgres(folder, _free_port(), as_user)
    try:
        subprocess.run(
            [*as_user, "initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop()  # (it may be stopped already)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
