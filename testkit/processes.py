"""Run code under test in a child process and measure it: exit code, output, peak RSS, time.

Hostile inputs are judged by what a real process does with them, so every helper here starts a
real subprocess and bounds it with a timeout: a hang fails the test (``Outcome.timed_out``),
it never hangs CI.

* :func:`run_python` runs a Python snippet (``python -c``) in this interpreter.
* :func:`run_digestbot` runs the installed ``digestbot`` console script.
* :func:`start_server` starts a long-lived process (e.g. ``digestbot serve``) and waits until it
  answers on 127.0.0.1; :class:`ServerProcess` reads its current and peak RSS from ``/proc``.

Peak RSS of a finished child is its own ``ru_maxrss`` from ``os.wait4``, taken by a tiny
launcher process: Linux carries the forking process's RSS high-water mark into the child across
``exec``, so a child forked straight from a 300 MB pytest would report at least 300 MB (and
``RUSAGE_CHILDREN`` keeps the maximum over every child ever reaped). The launcher is small, so
the floor it leaves is ~10 MB.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
DEFAULT_TIMEOUT = 60.0  # seconds; a bound so a hang fails, not a latency check
_POLL = 0.02
# Runs the target, waits for it, writes "status maxrss_kib" to the file named by argv[1].
_LAUNCHER = (
    "import os,sys\n"
    "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')\n"
)


@dataclass(frozen=True)
class Outcome:
    """What a finished (or killed) child process did."""

    returncode: int  # negative: killed by that signal (e.g. -9 after a timeout)
    stdout: str
    stderr: str
    peak_rss: int  # bytes: the child's maximum resident set size
    elapsed: float  # seconds, wall clock
    timed_out: bool

    @property
    def peak_rss_mb(self) -> float:
        """Peak RSS in MiB."""
        return self.peak_rss / MiB

    def describe(self) -> str:
        """A short summary for assertion messages."""
        return (
            f"exit {self.returncode}{' (TIMED OUT)' if self.timed_out else ''}, "
            f"peak {self.peak_rss_mb:.0f} MiB, {self.elapsed:.1f} s\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus anything that could reach a real platform, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "DIGESTBOT_")) and k not in {"HOST", "PORT"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("NO_COLOR", "1")
    env["COLUMNS"] = "200"  # rich wraps at the terminal width: keep one-line errors on one line
    env.update(extra or {})
    return env


def digestbot_script() -> str:
    """The ``digestbot`` console script of the running virtualenv."""
    script = Path(sys.executable).parent / "digestbot"
    if not script.exists():
        raise RuntimeError(f"no digestbot console script next to {sys.executable}")
    return str(script)


def run(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    stdin: bytes | None = None,
) -> Outcome:
    """Run ``argv`` to completion (or kill it after ``timeout`` s) and measure it.

    ``env`` is passed through :func:`child_env` (platform secrets of the test run are dropped).
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as inp,
        tempfile.TemporaryDirectory() as tmp,
    ):
        inp.write(stdin or b"")
        inp.seek(0)
        report = Path(tmp) / "status"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report), *argv],
            stdin=inp,
            stdout=out,
            stderr=err,
            env=child_env(env),
            cwd=cwd or ROOT,
            start_new_session=True,  # so a timeout kills the whole group
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        elapsed = time.monotonic() - started
        if timed_out or not report.exists():
            returncode, peak_kib = (proc.returncode if not timed_out else -signal.SIGKILL), 0
        else:
            code, kib = report.read_text().split()
            returncode, peak_kib = int(code), int(kib)
        out.seek(0)
        err.seek(0)
        return Outcome(
            returncode=returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_rss=peak_kib * 1024,  # Linux reports KiB
            elapsed=elapsed,
            timed_out=timed_out,
        )


def run_python(code: str, *args: str, **kwargs) -> Outcome:  # type: ignore[no-untyped-def]
    """Run a Python snippet in a fresh interpreter of this virtualenv; see :func:`run`."""
    return run([sys.executable, "-c", code, *args], **kwargs)


def run_digestbot(*args: str, **kwargs) -> Outcome:  # type: ignore[no-untyped-def]
    """Run ``digestbot ARGS...`` (the installed console script); see :func:`run`."""
    return run([digestbot_script(), *args], **kwargs)


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a running process, in bytes (Linux /proc)."""
    text = Path(f"/proc/{pid}/status").read_text()
    found = {k: int(v) * 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}
    return found


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A running server child process (see :func:`start_server`)."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """Current resident set size, bytes."""
        return proc_status(self.proc.pid)["VmRSS"]

    def peak_rss(self) -> int:
        """Peak resident set size so far (since start or :meth:`reset_peak`), bytes."""
        return proc_status(self.proc.pid)["VmHWM"]

    def reset_peak(self) -> None:
        """Start the peak (``VmHWM``) afresh from the current RSS (Linux ``clear_refs`` 5)."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def output(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log.read_text("utf-8", "replace")

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None


def _answers(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            return s.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


@contextlib.contextmanager
def start_server(
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    ready_path: str = "/healthz",
    timeout: float = 30.0,
) -> Iterator[ServerProcess]:
    """Start ``argv`` (listening on 127.0.0.1:``port``), wait until it answers, stop it after.

    Raises ``RuntimeError`` with the server's output if it exits or does not answer in time.
    """
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=child_env(env),
                cwd=cwd or ROOT,
                start_new_session=True,
            )
        server = ServerProcess(proc, port, log)
        try:
            deadline = time.monotonic() + timeout
            while not _answers(port, ready_path):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server {list(argv)} did not come up on port {port} "
                        f"(exit {proc.poll()}):\n{server.output()[-3000:]}"
                    )
                time.sleep(0.05)
            yield server
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def serve_digestbot(
    config_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
    timeout: float = 30.0,
) -> contextlib.AbstractContextManager[ServerProcess]:
    """``digestbot [OPTIONS] --config CONFIG_DIR serve`` on 127.0.0.1 (a free port); use with
    ``with``. ``options`` are global ones, e.g. ``["-v"]``."""
    port = free_port()
    full = {"HOST": "127.0.0.1", "PORT": str(port), **(env or {})}
    return start_server(
        [digestbot_script(), *options, "--config", str(config_dir), "serve"],
        port=port,
        env=full,
        cwd=config_dir.parent,
        timeout=timeout,
    )


__all__ = [
    "MiB",
    "Outcome",
    "ServerProcess",
    "child_env",
    "digestbot_script",
    "free_port",
    "proc_status",
    "run",
    "run_digestbot",
    "run_python",
    "serve_digestbot",
    "start_server",
]


def post_stream(
    port: int, path: str, *, total: int, chunked: bool, chunk: int = 256 * 1024
) -> tuple[bytes, int]:
    """POST up to ``total`` bytes of junk (unsigned), stopping when the server hangs up.

    Returns the server's answer (status line and headers) and how many body bytes were sent.
    The body is produced as it goes: the test never holds 200 MB itself.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n"
    answer = bytearray()
    sent = 0

    def read() -> None:
        try:
            while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    piece = b"A" * chunk
    framed = f"{chunk:x}\r\n".encode() + piece + b"\r\n" if chunked else piece
    try:
        sock.sendall((head + "\r\n").encode())
        while sent < total and reader.is_alive():
            sock.sendall(framed)
            sent += chunk
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server answered and closed: exactly what should happen
        pass
    reader.join(30)
    sock.close()
    return bytes(answer), sent
