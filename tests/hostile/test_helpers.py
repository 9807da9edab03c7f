"""The measuring helpers measure: peak RSS of a child, a hang cut off, the console script runs."""

from __future__ import annotations

from testkit.processes import MiB, run_python


def test_peak_rss_is_the_childs_own() -> None:
    # A big parent (as pytest gets in a long run) must not leak into a small child's figure.
    # The parent is itself a child here, so this test leaves pytest's own RSS alone.
    parent = run_python(
        "ballast = bytearray(200 * 1024 * 1024); ballast[::4096] = b'x' * len(ballast[::4096])\n"
        "from testkit.processes import run_python\n"
        "big = run_python(\"b = bytearray(150 << 20); b[::4096] = b'x' * len(b[::4096])\")\n"
        "small = run_python('print(1)')\n"
        "print(big.returncode, big.peak_rss, small.returncode, small.peak_rss, small.stdout)\n"
    )
    assert parent.returncode == 0 and parent.peak_rss >= 200 * MiB, parent.describe()
    big_exit, big_peak, small_exit, small_peak, small_out = parent.stdout.split()
    assert (big_exit, small_exit, small_out) == ("0", "0", "1")
    assert int(big_peak) >= 150 * MiB
    assert int(small_peak) < 50 * MiB, parent.describe()


def test_a_hang_is_killed_and_reported() -> None:
    hung = run_python("import time; time.sleep(60)", timeout=1)
    assert hung.timed_out and hung.returncode == -9 and hung.elapsed < 10


def test_stdin_and_exit_code_reach_the_test() -> None:
    echoed = run_python(
        "import sys; d = sys.stdin.read(); print(d.upper()); sys.exit(3)", stdin=b"ok"
    )
    assert (echoed.returncode, echoed.stdout) == (3, "OK\n")
