"""Another process holding a SQLite database's write lock, for fault tests.

``SqliteLock(path)`` starts a Python process that opens the file and takes the write lock
(``BEGIN EXCLUSIVE``: in WAL mode readers go on, every writer waits for it, then gets
"database is locked"); :meth:`release` rolls back and ends it. A real second process, as an
operator's ``sqlite3`` shell or a backup tool would be, not a lock faked inside ours.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
print("free", flush=True)
"""


class SqliteLock:
    """A second process holding the write lock of the SQLite file at ``path`` until released."""

    def __init__(self, path: Path | str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if line != "locked":
            self._proc.kill()
            raise RuntimeError(f"could not lock {path}: {line!r}")
        self._mutex = threading.Lock()
        self.released = threading.Event()

    def release(self) -> None:
        """Let go of the lock (once; later calls return at once) and end the process."""
        with self._mutex:
            if self.released.is_set():
                return
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write("\n")
            self._proc.stdin.flush()
            self._proc.stdout.readline()
            self._proc.wait(10)
            self.released.set()

    def __enter__(self) -> SqliteLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.release()
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(10)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
