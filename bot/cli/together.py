"""`digestbot summarize --together`: one cited summary of several inputs (the multidoc engine).

Also the reading of ``--plain`` inputs: clean text as is, or a ``.json`` object's title and
text (the keys ingest reads: ``title`` or ``headline``; ``text``, ``body``, ``article`` or
``content``) and ``published`` (``date``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.markup import escape
from rich.text import Text

from digests.errors import InputError
from digests.extract import extract, json_text, json_title, parse_json
from digests.models import RawDocument
from digests.multidoc import Source, summarize_sources


@dataclass(frozen=True, slots=True)
class Input:
    """One input's text as the summarizers read it."""

    path: str
    title: str | None
    body: str
    published: datetime | None = None


def read_input(doc: RawDocument, *, plain: bool) -> Input:
    """Extract an article from ``doc``, or with ``plain`` take its text (JSON: its fields)."""
    if not plain:
        article = extract(doc)
        return Input(doc.locator, article.title, article.body, article.published)
    text = doc.content.decode("utf-8", errors="replace")
    if doc.kind != "json":
        return Input(doc.locator, None, text)
    data = parse_json(text)
    if not isinstance(data, dict) or (body := json_text(data)) is None:
        raise InputError(
            'a --plain JSON input needs a "text" (or "body", "article", "content") string field'
        )
    title = json_title(data)
    return Input(doc.locator, title, body, _date(data.get("published", data.get("date"))))


def _date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def together(inputs: Sequence[Input], *, query: str | None, words: int) -> dict[str, object]:
    """One summary of all ``inputs``: ``{"query", "words", "summary", "sources"}``."""
    query = " ".join(query.split()) if query else None
    sources = [
        Source(key=i.path, text=i.body, title=i.title, published=i.published) for i in inputs
    ]
    cited = summarize_sources(sources, query=query, words=words)
    return {
        "query": query,
        "words": words,
        "summary": [
            {"text": c.text, "path": inputs[c.source].path, "title": inputs[c.source].title}
            for c in cited
        ],
        "sources": [{"path": i.path, "title": i.title} for i in inputs],
    }


def together_text(result: dict[str, object]) -> Text:
    """The terminal form: each sentence with its source's number, then the numbered sources."""
    sources = result["sources"]
    summary = result["summary"]
    assert isinstance(sources, list) and isinstance(summary, list)
    number = {s["path"]: n for n, s in enumerate(sources, 1)}
    lines = [f"{escape(s['text'])} [dim]\\[{number[s['path']]}][/]" for s in summary]
    if not lines:
        lines.append("No sentence to quote: the inputs have no complete sentences.")
    lines.append("\n[bold]Sources[/]")
    lines += [
        f"\\[{n}] {escape(s['title'] or '(untitled)')} — {escape(s['path'])}"
        for n, s in enumerate(sources, 1)
    ]
    return Text.from_markup("\n".join(lines))
