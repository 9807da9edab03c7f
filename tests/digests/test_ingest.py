"""Reading inputs: supported kinds, and a one-line reason for every bad file."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from digests.extract import NO_TEXT
from digests.ingest.document import BAD_LINES_SHOWN, FailureLimit, IngestFailure, ingest
from digests.ingest.jsonlines import BadLine, read_collection, read_lines
from digests.models import RawDocument


def test_folder_yields_supported_files_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# B\n\ntext")
    (tmp_path / "a.txt").write_text("text")
    (tmp_path / "c.json").write_text("{}")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "draft.swp").write_bytes(b"x")  # not a document: left alone quietly
    found = list(ingest([tmp_path], max_bytes=1000))
    docs = [d for d in found if isinstance(d, RawDocument)]
    assert [(Path(d.locator).name, d.kind) for d in docs] == [
        ("a.txt", "txt"),
        ("b.md", "md"),
        ("c.json", "json"),
    ]
    # A document digestbot cannot read is said, with its reason (issue 25).
    [refused] = [d for d in found if isinstance(d, IngestFailure)]
    assert Path(refused.locator).name == "notes.docx"
    assert "unsupported file type '.docx'" in refused.reason


def test_document_types_it_cannot_read_are_said_and_junk_is_not(tmp_path: Path) -> None:
    for name in ("table.csv", "feed.xml", "saved.mhtml", "slides.odp", "notes.TEX"):
        (tmp_path / name).write_text("x")
    for name in (".DS_Store", "draft.txt~", "story.html.part", "Thumbs.db", "a.crdownload"):
        (tmp_path / name).write_text("x")  # junk and downloads in progress: quietly left alone
    found = list(ingest([tmp_path], max_bytes=1000))
    assert all(isinstance(d, IngestFailure) for d in found)
    reasons = {Path(d.locator).name: d.reason for d in found if isinstance(d, IngestFailure)}
    assert sorted(reasons) == ["feed.xml", "notes.TEX", "saved.mhtml", "slides.odp", "table.csv"]
    assert reasons["table.csv"].startswith("unsupported file type '.csv'; use one of")


def test_bad_files_fail_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / "good.txt").write_text("fine")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF")
    paths = [
        tmp_path / n
        for n in ("empty.txt", "binary.txt", "big.txt", "good.txt", "doc.pdf", "missing.txt")
    ]
    results = list(ingest(paths, max_bytes=1000))
    reasons = {Path(r.locator).name: r.reason for r in results if isinstance(r, IngestFailure)}
    assert set(reasons) == {"empty.txt", "binary.txt", "big.txt", "doc.pdf", "missing.txt"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert "limit" in reasons["big.txt"] and "unsupported" in reasons["doc.pdf"]
    assert all("\n" not in r for r in reasons.values())
    assert [Path(r.locator).name for r in results if isinstance(r, RawDocument)] == ["good.txt"]


def test_unreadable_file(tmp_path: Path, monkeypatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")

    def refuse(*_args: object, **_kw: object) -> int:  # root reads through chmod 0: refuse
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    [result] = ingest([locked], max_bytes=1000)
    assert isinstance(result, IngestFailure)
    assert result.reason == "cannot read file: Permission denied"


def test_a_symlink_loop_costs_only_itself(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.txt").write_text("fine")
    (inbox / "la.txt").symlink_to("lb")  # la.txt -> lb -> la.txt
    (inbox / "lb").symlink_to("la.txt")
    (inbox / "self").symlink_to(".")  # a folder cycle inside the folder: read once
    (inbox / "up").symlink_to("..")  # a folder cycle through the folder above
    (tmp_path / "outside.txt").write_text("out")
    found = list(ingest([inbox], max_bytes=1000))
    reasons = {Path(d.locator).name: d.reason for d in found if isinstance(d, IngestFailure)}
    assert set(reasons) == {"la.txt", "up"}
    assert reasons["la.txt"] == "symlink loop (the link leads back to itself)"
    assert "symlink leads outside the folder" in reasons["up"]
    assert [Path(d.locator).name for d in found if isinstance(d, RawDocument)] == ["good.txt"]
    # Allowed out, the walk reads each folder once: the one above, and the inbox not again.
    followed = list(ingest([inbox], max_bytes=1000, follow_symlinks=True))
    docs = sorted(Path(d.locator).name for d in followed if isinstance(d, RawDocument))
    assert docs == ["good.txt", "outside.txt"]
    # Named, the loop is the same one line (a folder path through it too).
    named = list(ingest([inbox / "la.txt", inbox / "lb" / "x.txt"], max_bytes=1000))
    assert [d.reason for d in named if isinstance(d, IngestFailure)] == [
        "symlink loop (the link leads back to itself)"
    ] * 2


def _article(n: int, **extra: object) -> str:
    text = f"Story {n} happened on day {n}. Officials said more would follow soon."
    return json.dumps({"title": f"Story {n}", "text": text, **extra})


def test_a_collection_of_articles_is_one_document_an_article(tmp_path: Path) -> None:
    # A JSON array, NewsAPI's {"articles": [...]}, an evaluation set's events ({"docs": [...]}
    # a line, one article listed under two events): each article its own document.
    a1, a2, a3 = (json.loads(_article(n, id=f"a{n}")) for n in (1, 2, 3))
    (tmp_path / "list.json").write_text(json.dumps([a1, json.loads(_article(4)), 7, []]))
    (tmp_path / "news.json").write_text(
        json.dumps({"status": "ok", "description": "Top stories", "articles": [a2]})
    )
    (tmp_path / "empty.json").write_text("[]")
    events = [
        {"id": "e1", "docs": [a1, a2]},
        {"id": "e2", "docs": [a2, a3, {**a3, "text": "Other words."}]},  # a2 again; a3 twice
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    found = list(ingest([tmp_path], max_bytes=10_000))
    docs = {
        d.locator.removeprefix(f"{tmp_path}/"): json.loads(d.content)
        for d in found
        if isinstance(d, RawDocument)
    }
    assert docs == {
        "events.jsonl#a1": a1,
        "events.jsonl#a2": a2,
        "events.jsonl#a3": a3,
        "list.json#a1": a1,
        "list.json#2": json.loads(_article(4)),
        "news.json#a2": a2,
    }
    reasons = {
        f.locator.removeprefix(f"{tmp_path}/"): f.reason
        for f in found
        if isinstance(f, IngestFailure)
    }
    assert reasons == {
        "empty.json": "the JSON list holds no articles",
        "events.jsonl:2": "id 'a3' is line 2's already (an id names one line of the file)",
        "list.json#3": "article 3: expected a JSON object, found a number",
        "list.json#4": "article 4: expected a JSON object, found a list",
    }


def test_an_article_named_by_its_place_on_a_line_is_refused_as_an_article() -> None:
    # An article of a list on line 2, without an id, is named 2.1; line 1's id is "2.1". The
    # message said "its line number is line 1's id; give this line an id".
    lines = [_article(1, id="2.1"), json.dumps([json.loads(_article(2))]), _article(3)]
    found = list(read_lines(io.BytesIO("\n".join(lines).encode()), max_bytes=10_000))
    assert [x for x in found if isinstance(x, BadLine)] == [
        BadLine(2, "article 1 of this line is named 2.1 by its place, line 1's id; give it an id")
    ]
    # A line named by its number, and a file's article named by its place, say so as before.
    lines = [_article(1, id="2"), _article(2)]
    found = list(read_lines(io.BytesIO("\n".join(lines).encode()), max_bytes=10_000))
    assert found[1] == BadLine(2, "its line number is line 1's id; give this line an id")
    items = read_collection(json.dumps([json.loads(_article(1, id="2")), {"text": "x"}]).encode())
    assert items is not None
    assert list(items)[1] == BadLine(
        2, "its article number is article 1's id; give this article an id"
    )


def test_members_with_no_text_are_refused_as_they_are_read(tmp_path: Path) -> None:
    # Each `{}` was made a document and extracted: 1.6M of them (4.8 MB) took 97 s and 914 MB.
    (tmp_path / "empty.json").write_text(json.dumps([{}, {"title": "x"}]))
    (tmp_path / "lines.jsonl").write_text('{}\n[{"id": "a"}]\n')
    found = list(ingest([tmp_path], max_bytes=10_000))
    assert all(isinstance(f, IngestFailure) for f in found)
    assert {f.locator.removeprefix(f"{tmp_path}/"): f.reason for f in found} == {
        "empty.json#1": NO_TEXT,
        "empty.json#2": NO_TEXT,
        "lines.jsonl:1": NO_TEXT,
        "lines.jsonl:2": f"article 2.1: {NO_TEXT}",
    }


def test_a_collection_of_bad_members_is_a_few_lines_not_one_per_member(tmp_path: Path) -> None:
    good = json.loads(_article(0, id="ok"))
    (tmp_path / "numbers.json").write_text(json.dumps([good, *range(5000)]))
    found = list(ingest([tmp_path], max_bytes=1_000_000))
    failures = [f for f in found if isinstance(f, IngestFailure)]
    # Every member is yielded, as part of its file; whoever reports them limits them.
    path = str(tmp_path / "numbers.json")
    assert len(failures) == 5000 and {f.part_of for f in failures} == {path}
    limit = FailureLimit()
    shown = [f for f in failures if limit.shown(f.part_of, f.locator)]
    assert len(shown) == BAD_LINES_SHOWN
    assert limit.summaries() == [
        IngestFailure(path, "4,980 more bad articles (of 5,000; the first 20 are listed)")
    ]
    assert [d.locator for d in found if isinstance(d, RawDocument)] == [
        f"{tmp_path / 'numbers.json'}#ok"
    ]


def test_a_json_lines_file_is_one_document_a_line(tmp_path: Path) -> None:
    lines = [
        "\ufeff" + _article(1, id="a1"),  # a byte-order mark before the first line: fine
        _article(2),  # no id: named by its line number
        "",  # blank lines are skipped quietly
        '{"title": "cut',
        '"a string"',
        _article(6, id="a1"),  # a repeated id
        _article(7, id=" b7 ", published="2024-05-01"),
        _article(8, id=8),  # not a string: named by its line number
        "x" * 2000,  # over the limit, per line
        _article(10, id="z" * 201),
        _article(1, id="a1"),  # line 1 again, exactly (one document listed twice): read once
    ]
    path = tmp_path / "all.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = list(ingest([tmp_path], max_bytes=1000))
    docs = [
        (d.locator.removeprefix(str(path)), d.kind) for d in found if isinstance(d, RawDocument)
    ]
    assert docs == [("#a1", "json"), ("#2", "json"), ("#b7", "json"), ("#8", "json")]
    [first] = [d for d in found if isinstance(d, RawDocument) and d.locator.endswith("#a1")]
    assert json.loads(first.content)["title"] == "Story 1"  # the line itself, as a .json file
    reasons = {
        f.locator.removeprefix(str(path)): f.reason for f in found if isinstance(f, IngestFailure)
    }
    assert reasons == {
        ":4": "invalid JSON (Unterminated string starting at: column 11)",
        ":5": "expected a JSON object, found a string",
        ":6": "id 'a1' is line 1's already (an id names one line of the file)",
        ":9": "the line is over the 1,000-byte limit",
        ":10": "its id is over 200 characters",
    }
    assert ingest([tmp_path], max_bytes=1000).count() == len(lines)  # for the progress bar


def test_a_json_lines_file_that_is_not_text_is_one_failure(tmp_path: Path) -> None:
    (tmp_path / "binary.jsonl").write_bytes(b"{}\n\x00\x01\x02\n" * 100)
    (tmp_path / "empty.ndjson").write_text("\n \n")
    (tmp_path / "wide.jsonl").write_text(_article(1), encoding="utf-16")
    found = list(ingest([tmp_path], max_bytes=1000))
    assert [(Path(f.locator).name, f.reason) for f in found if isinstance(f, IngestFailure)] == [
        ("binary.jsonl", "file looks binary (a NUL byte at offset 3), not text"),
        ("empty.ndjson", "file is empty"),
        ("wide.jsonl", "JSON Lines must be UTF-8 (this is UTF-16 or UTF-32)"),
    ]
    assert len(found) == 3
