"""Counting how often the files of a folder are read, seen from outside the process that
reads them (Linux inotify): what a real `digestbot serve` read."""

from __future__ import annotations

import ctypes
import os
import struct
from collections import Counter
from pathlib import Path

IN_OPEN = 0x00000020
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


class FileReads:
    """Reads of the files directly in ``folder`` since this was made, by name: each time one
    was opened without writing, and closed (by any process). Use with ``with``.

    Opens are watched too: inotify merges an event into an identical one still queued, and
    with each open between them two reads in a row are never merged into one.
    """

    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
        if libc.inotify_add_watch(self._fd, os.fsencode(folder), mask) < 0:
            os.close(self._fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self._reads: Counter[str] = Counter()

    def count(self, name: str) -> int:
        """How often the file ``name`` has been read so far."""
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            at = 0
            while at < len(data):
                _, mask, _, size = _EVENT.unpack_from(data, at)
                raw = data[at + _EVENT.size : at + _EVENT.size + size].rstrip(b"\0")
                if mask & IN_CLOSE_NOWRITE and raw:  # no name: the folder itself (a listing)
                    self._reads[os.fsdecode(raw)] += 1
                at += _EVENT.size + size
        return self._reads[name]

    def __enter__(self) -> FileReads:
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self._fd)
