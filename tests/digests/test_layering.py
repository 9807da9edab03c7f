"""The core never imports Slack, Discord or a web framework (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "digests"
FORBIDDEN = (
    "slack_bolt",
    "slack_sdk",
    "slack",
    "discord",
    "nacl",
    "starlette",
    "uvicorn",
    "aiohttp",
    "fastapi",
    "flask",
    "apscheduler",
    "bot",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_no_delivery_code(path: Path) -> None:
    assert not (_imports(path) & set(FORBIDDEN)), (
        f"{path} imports {_imports(path) & set(FORBIDDEN)}"
    )


def test_only_summarize_imports_sumy() -> None:
    users = {p.name for p in CORE.rglob("*.py") if "sumy" in _imports(p)}
    assert users <= {"summarize.py", "_rank.py"}, users


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import slack_sdk\nfrom starlette.routing import Route\n")
    assert {"slack_sdk", "starlette"} <= _imports(bad)
