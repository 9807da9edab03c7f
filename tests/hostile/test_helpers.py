"""The measuring helpers measure: peak RSS of a child, a hang cut off, the console script runs."""

from __future__ import annotations

from tests.hostile.conftest import Install
from tests.hostile.helpers import MiB, run_digestbot, run_python


def test_peak_rss_is_the_childs_own() -> None:
    ballast = bytearray(200 * MiB)  # the test process itself is big (as pytest gets in a long run)
    ballast[::4096] = b"x" * len(ballast[::4096])
    big = run_python("b = bytearray(150 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])")
    small = run_python("print('hi')")
    del ballast
    assert big.returncode == 0, big.describe()
    assert big.peak_rss >= 150 * MiB, big.describe()
    # Measured per child, so neither the big child before it nor this process leaks into it.
    assert small.peak_rss < 100 * MiB and small.stdout == "hi\n", small.describe()


def test_a_hang_is_killed_and_reported() -> None:
    hung = run_python("import time; time.sleep(60)", timeout=1)
    assert hung.timed_out and hung.returncode == -9 and hung.elapsed < 10


def test_stdin_and_exit_code_reach_the_test() -> None:
    echoed = run_python(
        "import sys; d = sys.stdin.read(); print(d.upper()); sys.exit(3)", stdin=b"ok"
    )
    assert (echoed.returncode, echoed.stdout) == (3, "OK\n")


def test_the_console_script_runs_against_an_isolated_install(install: Install) -> None:
    (install.inbox / "note.txt").write_text(
        "Ports brace for a slower season\n\nContainer ports are preparing for a slower season. "
        "Shipping lines have cancelled sailings. Freight rates have dropped.\n"
    )
    result = run_digestbot("ingest", env=install.env)
    assert result.returncode == 0 and not result.timed_out, result.describe()
    assert "1 added" in result.stderr + result.stdout, result.describe()
    assert (install.data / "digestbot.db").is_file()  # the install's data folder, not the repo's
