"""What `serve`'s start costs on a large SQLite store: the store work before it listens.

    .venv/bin/python -m benchmarks.serve_start [--n 400000] [--path FILE] [--repeat 3]

Builds (once, kept at ``--path``) a store of ``--n`` articles of 2,000 bytes with their
documents and sent Discord parts (webhook URLs sealed with a key; the sealing pass run once,
as a first start or command with the key does), then times, cold (the file's pages dropped
from the page cache with ``posix_fadvise(DONTNEED)``) and warm, what ``serve`` did before
(``Store.open``, ``PRAGMA quick_check`` of the whole file, the full sealing pass
``seal_secrets``) and what it does now (``Store.open`` and ``bot.serve.ready_store``: the
whole-file check only up to ``START_CHECK_BYTES``, ``seal_pending``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.seal_pass import KEY, _fill
from bot.serve import ready_store
from digests.sealing import Sealer
from digests.store import Store


def _drop_cache(path: Path) -> None:
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            fd = os.open(name, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _before(url: str) -> None:
    store = Store.open(url, sealer=Sealer(KEY))
    store.check_integrity()
    store.seal_secrets()
    store.close()


def _after(url: str) -> None:
    store = Store.open(url, sealer=Sealer(KEY))
    ready_store(store)
    store.close()


def _time(call: Callable[[str], None], url: str, path: Path, *, cold: bool) -> float:
    if cold:
        _drop_cache(path)
    started = time.perf_counter()
    call(url)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400_000)
    parser.add_argument("--path", type=Path, default=Path("/tmp/digestbot-serve-start.db"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = f"sqlite:///{args.path}"
    if not args.path.exists():
        store = Store.open(url, sealer=Sealer(KEY))
        _fill(store, args.n)
        store.seal_pending()
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
    size = args.path.stat().st_size
    print(f"n={args.n} file={size / 1e6:.0f} MB")
    for label, call in (
        ("before (quick_check + seal_secrets)", _before),
        ("now (ready_store)", _after),
    ):
        for cold in (True, False):
            best = min(_time(call, url, args.path, cold=cold) for _ in range(args.repeat))
            print(
                f"  {label:38} {'cold' if cold else 'warm'} {best:8.3f} s (best of {args.repeat})"
            )


if __name__ == "__main__":
    main()
