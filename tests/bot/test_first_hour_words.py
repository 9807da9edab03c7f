"""Counts read right: "1 story", "1 failure", "1 article" (issue 25)."""

from __future__ import annotations

from bot.chat import source_health
from bot.render import counted
from digests.store import Store
from tests.conftest import NOW


def test_counted() -> None:
    assert counted(1, "story", "stories") == "1 story"
    assert counted(0, "story", "stories") == "0 stories"
    assert counted(2, "failure") == "2 failures" and counted(1, "failure") == "1 failure"


def test_one_failing_source_is_one_failure(store: Store) -> None:
    store.sources.ensure("wire", kind="feed", location="https://w.example/rss")
    store.sources.failed("wire", now=NOW, error="HTTP 503")
    text = _lines(store)
    assert "wire — 1 failure in a row: HTTP 503" in text and "failures" not in text
    store.sources.failed("wire", now=NOW, error="HTTP 503")
    assert "2 failures in a row" in _lines(store)


def _lines(store: Store) -> str:
    """The source-health lines every platform shows (plain markup)."""
    health = source_health(store)
    return "\n".join(health.lines(bold=str, quote=str, warn="!"))
