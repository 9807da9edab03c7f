"""Hostile inbox files not covered elsewhere: each costs only itself, with one clear line.

JSON an ingest cannot hold (nesting deeper than the parser's recursion, a number with too
many digits) and Markdown built to make its inline patterns backtrack.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from sqlalchemy import select

from digests.config import Settings
from digests.errors import InputError
from digests.extract import NO_TEXT, extract
from digests.ingest.document import BAD_LINES_SHOWN
from digests.ingest.sources import ingest_sources
from digests.models import RawDocument
from digests.store import Store
from digests.store.schema import documents
from testkit.processes import run_digestbot, run_python
from tests.conftest import NOW, SEEDS
from tests.hostile.conftest import Install

HANG_S = 60.0  # a hang guard, not a timing assertion

_BAD_JSON = {
    "deep-array": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "deep-object": ('{"text":' * 100_000 + '"x"' + "}" * 100_000, "nested too deeply"),
    "huge-number": ('{"title": ' + "9" * 100_000 + ', "text": "x"}', "number"),
}


@pytest.mark.parametrize("name", sorted(_BAD_JSON))
def test_json_the_parser_cannot_hold_is_one_clear_line(name: str) -> None:
    content, reason = _BAD_JSON[name]
    raw = RawDocument(locator="in/deep.json", kind="json", content=content.encode())
    with pytest.raises(InputError, match=reason) as caught:
        extract(raw)
    assert str(caught.value).startswith("in/deep.json: invalid JSON (")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_deeply_nested_json_in_the_inbox_costs_only_itself(
    settings: Settings, store: Store
) -> None:
    (settings.inbox / "deep.json").write_text(_BAD_JSON["deep-array"][0])
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 5  # the seeds: nothing else lost
    ((locator, reason),) = report.failed
    assert locator.endswith("deep.json")
    assert reason == "invalid JSON (nested too deeply)"  # not an "internal error"


def test_json_the_parser_cannot_hold_is_worded_alike_in_a_file_and_on_a_line(
    settings: Settings, store: Store
) -> None:
    # A .jsonl line said `invalid JSON (RecursionError: maximum recursion depth exceeded …)`
    # where a .json file said `invalid JSON (nested too deeply)`.
    names = ("deep-array", "deep-object", "huge-number")
    for name in names:
        (settings.inbox / f"{name}.json").write_text(_BAD_JSON[name][0])
    (settings.inbox / "lines.jsonl").write_text("\n".join(_BAD_JSON[n][0] for n in names))
    report = ingest_sources(store, settings, now=NOW)
    failed = {loc.removeprefix(f"{settings.inbox}/"): why for loc, why in report.failed}
    deep, digits = (
        "invalid JSON (nested too deeply)",
        "invalid JSON (a number with too many digits)",
    )
    assert failed == {
        "deep-array.json": deep,
        "deep-object.json": deep,
        "huge-number.json": digits,
        "lines.jsonl:1": deep,
        "lines.jsonl:2": deep,
        "lines.jsonl:3": digits,
    }


def test_deeply_nested_json_is_no_traceback_on_the_terminal(install: Install) -> None:
    (install.inbox / "deep.json").write_text(_BAD_JSON["deep-object"][0])
    shutil.copy(next(SEEDS.glob("*.txt")), install.inbox / "good.txt")
    outcome = run_digestbot("ingest", env=install.env, timeout=HANG_S)
    assert outcome.returncode == 1 and "Traceback" not in outcome.stderr, outcome.describe()
    assert "1 added" in outcome.stderr
    (line,) = [x for x in outcome.stderr.splitlines() if "deep.json" in x]
    assert line.endswith("deep.json: invalid JSON (nested too deeply)"), line
    together = run_digestbot(
        "summarize", "--together", "--plain", str(install.inbox / "deep.json"),
        str(install.inbox / "good.txt"), env=install.env, timeout=HANG_S,
    )  # fmt: skip
    assert "Traceback" not in together.stderr, together.describe()
    assert "nested too deeply" in together.stderr, together.describe()


def test_a_file_name_that_is_not_utf8_costs_nothing_else(settings: Settings, store: Store) -> None:
    # Python keeps the undecodable bytes as lone surrogates, which no database can encode:
    # the batch's lookup raised UnicodeEncodeError and the whole run died, seeds and all.
    odd = settings.inbox / os.fsdecode(b"caf\xe9-report.txt")
    odd.write_text((next(SEEDS.glob("*.txt")).read_text()).replace("the", "a"))
    broken = settings.inbox / os.fsdecode(b"broken-\xff.md")
    broken.symlink_to(settings.inbox / "nowhere")
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 6, report  # the seeds and the oddly named file
    assert report.failed == [(f"{settings.inbox}/broken-\\xff.md", "broken symlink")]
    locator = f"{settings.inbox}/caf\\xe9-report.txt"
    assert store.articles.documents([locator])[locator].status == "added"
    again = ingest_sources(store, settings, now=NOW)  # the same name, the same locator
    assert (again.added, again.unchanged, len(again.failed)) == ([], 6, 1)


_EXTRACT_MD = """
import sys
from digests.extract import extract
from digests.ingest.document import BAD_LINES_SHOWN
from digests.models import RawDocument
text = "Talks resumed on Monday, officials said.\\n\\n" + eval(sys.argv[1])
article = extract(RawDocument(locator="x.md", kind="md", content=text.encode()))
print(len(article.body))
"""


@pytest.mark.parametrize(
    "line",
    [
        "'*a **a ' * 60_000",  # openers that never close: 420 KB took hours (quadratic)
        "'_a __a ' * 60_000",
        "'[' * 100_000 + 'x'",  # unclosed link text
        "'![' * 60_000",  # unclosed image
        "'[a](' * 150_000",  # unclosed link target
        "'<' * 400_000",  # unclosed inline HTML
    ],
)
def test_markdown_built_to_backtrack_is_read_in_linear_time(line: str) -> None:
    # A child with a timeout: before, each of these took minutes to hours in the inline
    # patterns of digests.extract._markup, holding up the whole ingest (and serve's poll).
    outcome = run_python(_EXTRACT_MD, line, timeout=30)
    assert not outcome.timed_out and outcome.returncode == 0, outcome.describe()
    assert int(outcome.stdout) > 40


_EXTRACT_HTML = """
import json, sys
from digests.errors import InputError
from digests.extract import extract
from digests.ingest.document import BAD_LINES_SHOWN
from digests.models import RawDocument
news = "<p>Talks resumed on Monday after a week of strikes at the port, officials said.</p>"
attributes = " ".join(f'a{i}="x"' for i in range(int(sys.argv[2])))
pages = {
    "page": f"<html><body><article><p {attributes}>Wire.</p>{news}</article></body></html>",
    "fragment": json.dumps({"text": f"<div><p {attributes}>Wire.</p>{news}</div>"}),
    "elements": "<html><body>" + news + "<p>a</p>" * int(sys.argv[2]) + "</body></html>",
}
kind = "json" if sys.argv[1] == "fragment" else "html"
raw = RawDocument(locator="x." + kind, kind=kind, content=pages[sys.argv[1]].encode())
try:
    print(extract(raw).body)
except InputError as exc:
    print("refused:", exc)
"""


@pytest.mark.parametrize("kind", ["page", "fragment"])
def test_a_tag_with_200000_attributes_costs_linear_time(kind: str) -> None:
    # libxml2 is quadratic in one tag's attributes: 400,000 in a <p> kept ingest busy for
    # minutes (this size: over a minute). Such a tag keeps only its name, class and id.
    outcome = run_python(_EXTRACT_HTML, kind, "200000", timeout=30)
    assert not outcome.timed_out and outcome.returncode == 0, outcome.describe()
    assert "Talks resumed on Monday" in outcome.stdout


def test_a_page_of_300000_elements_is_refused_in_bounded_memory() -> None:
    # trafilatura holds several trees of the page (~1.5 KB an element): this 2.4 MB page took
    # 26 s and 480 MB, a 15 MB one (the fetch limit) would take minutes and 3 GB.
    outcome = run_python(_EXTRACT_HTML, "elements", "300000", timeout=HANG_S)
    assert not outcome.timed_out and outcome.returncode == 0, outcome.describe()
    assert outcome.stdout.startswith("refused: x.html: the HTML has over 100,000 elements")
    assert outcome.peak_rss_mb < 250, outcome.describe()


def test_a_page_of_many_elements_is_read_up_to_its_bound(caplog: pytest.LogCaptureFixture) -> None:
    # trafilatura costs ~0.15 ms of CPU an element: a 5.6 MB page of 99,000 short paragraphs
    # (under the 100,000 refused) took 15 s. Past 10,000 the page is read up to there.
    paragraphs = [f"<p>Item {i} of the council minutes was approved on Monday.</p>"
                  for i in range(12_000)]  # fmt: skip
    page = "<html><body><article>" + "".join(paragraphs) + "</article></body></html>"
    raw = RawDocument(locator="in/long.html", kind="html", content=page.encode())
    body = extract(raw).body.split("\n\n")
    assert body[0] == "Item 0 of the council minutes was approved on Monday."
    assert len(body) < 10_000
    assert "Item 11999 " not in "\n".join(body)  # cut off, never parsed
    assert "in/long.html: the HTML has 12,003 elements; only the first 10,000 are read" in (
        caplog.text
    )


def test_an_oversized_page_in_the_inbox_costs_only_itself(settings: Settings, store: Store) -> None:
    (settings.inbox / "huge.html").write_text("<html><body>" + "<p>a</p>" * 100_001)
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 5
    ((locator, reason),) = report.failed
    assert locator.endswith("huge.html") and "over 100,000 elements" in reason


def test_a_megabyte_title_author_or_source_is_cut_to_a_headline() -> None:
    # Every stage tokenizes the title (stories, tags, the full-text index) and a digest posts
    # it: a 4 MB JSON "title" took 780 MB to ingest.
    item = {
        "title": "Talks " * 200_000,
        "author": "x" * 1_000_000,
        "source": "Wire " * 100_000,
        "text": "Talks resumed on Monday after a week of strikes at the port, officials said.",
    }
    raw = RawDocument(locator="in/long.json", kind="json", content=json.dumps(item).encode())
    article = extract(raw)
    assert article.title == ("Talks " * 50).strip() + "…"
    assert article.author == "x" * 300 + "…"
    assert article.source is not None and len(article.source) <= 301


def test_a_jsonl_file_of_bad_lines_is_a_few_lines_not_one_per_line(
    settings: Settings, store: Store
) -> None:
    # Each bad line was a failure of its own: a line on stderr and a row in the database.
    # 1M lines of "x" (2 MB) ran past 3 minutes and a 205 MB database.
    good = json.dumps({"title": "Ports", "text": next(SEEDS.glob("*.txt")).read_text()})
    (settings.inbox / "mixed.jsonl").write_text(good + "\n" + "x\n" * 20_000)
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 6  # the seeds and the good line
    assert len(report.failed) == BAD_LINES_SHOWN + 1
    path = str(settings.inbox / "mixed.jsonl")
    assert report.failed[0] == (f"{path}:2", "invalid JSON (Expecting value: column 1)")
    assert report.failed[-1] == (
        path,
        f"{20_000 - BAD_LINES_SHOWN:,} more bad lines (of 20,000; the first 20 are listed)",
    )


def _failed_rows(store: Store) -> dict[str, str | None]:
    d = documents.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(d.locator, d.error).where(d.status == "failed"))
        return {r.locator: r.error for r in rows}


def test_articles_that_fail_at_extract_are_a_few_lines_not_one_per_line(
    settings: Settings, store: Store
) -> None:
    # A line or member that parses but holds no article failed later, at extract, past the
    # bad-line limit: 3,000 `{}` lines and a .json of 3,000 `{"title":"x"}` printed 6,001
    # `skipped` lines and recorded 6,001 failed documents.
    good = json.dumps({"title": "Ports", "text": next(SEEDS.glob("*.txt")).read_text()})
    lines, titles = settings.inbox / "objects.jsonl", settings.inbox / "titles.json"
    lines.write_text(good + "\n" + "x\n" * 5 + "{}\n" * 3_000)
    titles.write_text(json.dumps([{"title": "x"}] * 3_000))
    (settings.inbox / "one.json").write_text("{}")  # a failure of another file: unaffected
    for _ in range(2):  # reported again, the same way, until the files change
        report = ingest_sources(store, settings, now=NOW)
        by_file = {
            str(path): [
                (loc, why)
                for loc, why in report.failed
                if loc == str(path) or loc.startswith((f"{path}#", f"{path}:"))
            ]
            for path in (lines, titles, settings.inbox / "one.json")
        }
        shown_lines = by_file[str(lines)]
        assert len(shown_lines) == BAD_LINES_SHOWN + 1
        assert shown_lines[0] == (f"{lines}:2", "invalid JSON (Expecting value: column 1)")
        assert shown_lines[5] == (f"{lines}:7", NO_TEXT)  # the first `{}`, after 5 lines not JSON
        assert shown_lines[-1] == (
            str(lines),
            f"{3_005 - BAD_LINES_SHOWN:,} more bad lines (of 3,005; the first 20 are listed)",
        )
        shown_titles = by_file[str(titles)]
        assert len(shown_titles) == BAD_LINES_SHOWN + 1
        assert shown_titles[0][0] == f"{titles}#1"
        assert shown_titles[-1] == (
            str(titles),
            f"{3_000 - BAD_LINES_SHOWN:,} more bad articles (of 3,000; the first 20 are listed)",
        )
        assert [loc for loc, _ in by_file[str(settings.inbox / "one.json")]] == [
            str(settings.inbox / "one.json")
        ]
        assert len(report.failed) == 2 * (BAD_LINES_SHOWN + 1) + 1
        rows = _failed_rows(store)
        assert len(rows) == 2 * (BAD_LINES_SHOWN + 1) + 1
        assert rows[str(titles)] == shown_titles[-1][1]
