"""The CLI starts fast: --help and the terminal commands never load the chat or web stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"slack_sdk", "slack_bolt", "starlette", "uvicorn", "apscheduler", "nacl", "aiohttp"}
PROBE = """
import contextlib, io, json, sys
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _loaded(args: list[str], env: dict[str, str]) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


@pytest.mark.parametrize(
    "args",
    [["--help"], ["topics"], ["digest", "--dry-run"], ["brief", "taiwan"]],
)
def test_terminal_commands_do_not_import_the_chat_or_web_stack(
    args: list[str], config_dir: Path, tmp_path: Path
) -> None:
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATA_DIR": str(tmp_path / "d")}
    code, modules = _loaded(args, env)
    assert code == 0
    assert not modules & HEAVY, modules & HEAVY
    if args == ["--help"]:  # nor the core: no database, no summarizer, no config parsing
        assert not modules & {"sqlalchemy", "sumy", "nltk", "httpx", "pydantic", "numpy"}
    # Nor NLTK (~1.2 s and 120 MB: its __init__ imports SciPy's statistics and scikit-learn),
    # though the seeds are ingested first: the default summarizer and the stemmer need none.
    assert "nltk" not in modules


@pytest.mark.parametrize("args", [["digest", "--dry-run"], ["brief", "taiwan"]])
def test_on_a_current_store_with_nothing_new_a_command_imports_no_migrations_or_page_parsers(
    args: list[str], config_dir: Path, tmp_path: Path
) -> None:
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATA_DIR": str(tmp_path / "d")}
    first, modules = _loaded(args, env)  # a new store: migrated, the seeds ingested
    assert first == 0 and "alembic" in modules
    again, modules = _loaded(args, env)
    assert again == 0
    # Alembic (the schema is current), trafilatura (no HTML page), what sumy.utils would
    # bring in with its stop words (requests, pycountry), and the feed and HTTP libraries (no
    # feed or page configured): 0.55 s of start-up in all.
    unused = {"alembic", "trafilatura", "requests", "pycountry", "feedparser", "httpx"}
    assert not modules & unused, modules & unused


def test_algorithm_help_names_every_algorithm() -> None:
    from bot.cli.files import ALGORITHM_HELP
    from digests.summarize import ALGORITHMS

    assert ALGORITHM_HELP.split(", ") == list(ALGORITHMS)
