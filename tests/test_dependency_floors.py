"""Dependency floors stay past known advisories (pip-audit cannot reach its database here).

Each entry is a package, the first fixed version, and why. A requirement in pyproject.toml
that still allows an older version — or a missing requirement for a package our code relies
on directly — fails here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

FIXED = {
    "starlette": ("0.47.2", "multipart form parsing DoS (CVE-2025-54121)"),
    "h11": ("0.16", "request smuggling via chunked trailers (CVE-2025-43859)"),
    "aiohttp": ("3.12.14", "request smuggling in the pure-Python parser (CVE-2025-53643)"),
}


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    found = (Requirement(line) for line in project["dependencies"])
    return {req.name.lower(): req for req in found}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_floor_is_past_the_fix(name: str) -> None:
    fixed, why = FIXED[name]
    req = _requirements().get(name)
    assert req is not None, f"{name} must be a declared dependency with a floor ({why})"
    # Probe versions just below the fix and the fix itself: the floor must refuse the first.
    below = [Version(v) for v in ("0.0.1", "0.15", "0.40", "0.47.1", "3.10", "3.12.13")]
    below = [v for v in below if v < Version(fixed)]
    bad = [str(v) for v in below if req.specifier.contains(v, prereleases=True)]
    assert not bad, f"{req} allows {', '.join(bad)}: {name} {fixed} fixed {why}"
    assert req.specifier.contains(Version(fixed), prereleases=True), f"{req} refuses the fix"


def test_a_known_bad_floor_is_caught() -> None:
    # The check above on the floors the project had before this round: each must fail it.
    for line in ("starlette>=0.40", "h11", "aiohttp>=3.10,<4"):
        req = Requirement(line)
        fixed = Version(FIXED[req.name][0])
        probes = [Version("0.40"), Version("0.15"), Version("3.10")]
        assert any(v < fixed and req.specifier.contains(v) for v in probes), line
