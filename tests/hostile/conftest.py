"""Fixtures for the hostile suite: an isolated install (config, inbox, data) to aim a child at.

Measuring helpers (subprocess with timeout and peak RSS, a served ``digestbot``) live in
:mod:`testkit.processes`; import them in a test module::

    from testkit.processes import run_digestbot, run_python, serve_digestbot
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT


@dataclass(frozen=True)
class Install:
    """A fresh install in tmp_path: ``config/`` (copy of the shipped one), an empty inbox, data.

    ``env`` points a child process at it (``DIGESTBOT_CONFIG_DIR``, data and inbox folders), so
    ``run_digestbot("ingest", env=install.env)`` never touches the repository's own data.
    """

    root: Path
    config: Path
    inbox: Path
    data: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment for a child process using this install."""
        return {
            "DIGESTBOT_CONFIG_DIR": str(self.config),
            "DIGESTBOT_DATA_DIR": str(self.data),
            "DIGESTBOT_INBOX": str(self.inbox),
        }


@pytest.fixture
def install(tmp_path: Path) -> Install:
    """A fresh install with an empty inbox (put hostile files in ``install.inbox``)."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    inbox = tmp_path / "seeds"
    inbox.mkdir()
    return Install(root=tmp_path, config=config, inbox=inbox, data=tmp_path / "data")
