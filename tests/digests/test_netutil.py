"""The shared HTTP helpers: one Retry-After parser, URLs without their secrets."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest

from digests.net.util import (
    parse_retry_after,
    public_url,
    redact,
    redact_url,
    redact_urls,
    without_userinfo,
)
from tests.conftest import NOW


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        (2, 2.0),
        ("-5", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: object, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_cap_and_a_date_without_now() -> None:
    assert parse_retry_after("86400", now=NOW, cap=300) == 300
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None  # no clock: unusable


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://discord.com/api/webhooks/123/s3cr3t-token",
            "https://discord.com/api/webhooks/123/***",
        ),
        (
            "https://discord.com/api/v10/webhooks/123/s3cr3t/messages/9",
            "https://discord.com/api/v10/webhooks/123/***/messages/9",
        ),
        (
            "https://hooks.slack.com/services/T1/B2/s3cr3t",
            "https://hooks.slack.com/services/T1/B2/***",
        ),
        (
            "https://hooks.slack.com/commands/T1/222/s3cr3t",  # a response_url
            "https://hooks.slack.com/commands/***",
        ),
        (
            "https://hooks.slack-gov.com/workflows/T1/A2/333/s3cr3t",
            "https://hooks.slack-gov.com/workflows/***",
        ),
        ("https://chat.example.com/hooks/s3cr3t", "https://chat.example.com/hooks/***"),
        (  # Mattermost's slash command response_url: a capability URL, its id the secret
            "https://chat.example.com/hooks/commands/s3cr3t",
            "https://chat.example.com/hooks/commands/***",
        ),
        ("http://bot:s3cr3t@127.0.0.1:8080/api", "http://***@127.0.0.1:8080/api"),
        ("https://example.com/feed?token=s3cr3t&x", "https://example.com/feed?token=***&x"),
        ("https://example.com/a#frag", "https://example.com/a"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://bob:pw@news.example/a.html?api_key=K", "http://news.example/a.html?api_key=***"),
        ("https://news.example/2026/11/story.html", "https://news.example/2026/11/story.html"),
    ],
)
def test_public_url_has_no_userinfo_and_no_query_values(url: str, expected: str) -> None:
    assert public_url(url) == expected


def test_without_userinfo_keeps_the_rest_of_a_link() -> None:
    assert without_userinfo("http://bob:pw@news.example/a?id=7") == "http://news.example/a?id=7"
    assert without_userinfo("https://news.example/a?id=7") == "https://news.example/a?id=7"


def test_redact_urls_in_a_message() -> None:
    text = "cannot reach https://u:p4ss@api.test/webhooks/1/t0k (refused)"
    assert redact_urls(text) == "cannot reach https://***@api.test/webhooks/1/*** (refused)"


def test_redact_is_one_rule_for_urls_with_or_without_a_scheme() -> None:
    from digests.net.util import redact

    secret_forms = {
        "https://bob:hunter2@feeds.example/rss?api_key=k3y": "https://***@feeds.example/rss?api_key=***",
        "bob:hunter2@feeds.example/rss?api_key=k3y": "***@feeds.example/rss?api_key=***",
        "poll failed: 500 for https://discord.com/api/webhooks/12/T0KEN": (
            "poll failed: 500 for https://discord.com/api/webhooks/12/***"
        ),
        "discord.com/api/webhooks/12/T0KEN": "discord.com/api/webhooks/12/***",
    }
    for text, shown in secret_forms.items():
        assert redact(text) == shown
    for plain in ("Europe/Paris", "docs/news", "timed out (10 s)", "http://a.example/feed.xml"):
        assert redact(plain) == plain


def test_source_name_is_host_and_path_only() -> None:
    from digests.net.util import redact, source_name

    url = "https://bob:hunter2@feeds.example:8443/rss/?api_key=k3y"
    assert source_name(url) == "feeds.example:8443/rss"
    distinct = source_name(url, distinct=True)
    assert distinct.startswith("feeds.example:8443/rss#") and "k3y" not in distinct
    assert distinct != source_name(url.replace("k3y", "other"), distinct=True)
    assert source_name("http://[::1]:8080/feed.xml?k=v") == "[::1]:8080/feed.xml"
    # Shown as it is (redaction took the digest for a URL's fragment and dropped it: two
    # feeds told apart by their query were listed under one name); a fragment that may
    # hold a token still goes.
    assert redact(distinct) == distinct
    assert redact("https://a.example/cb#access_token=s3cr3t") == "https://a.example/cb"
    assert redact("a.example/cb#0123456789abcdef") == "a.example/cb"


def test_an_ipv6_host_is_shown_in_a_name_with_or_without_brackets() -> None:
    from digests.net.util import redact

    for name in ("[::1]:8080/feed.xml", "::1:8080/feed.xml", "2001:db8::1/rss"):  # the latter
        assert redact(name) == name  # two: names older versions gave, without the brackets
    assert redact("bob:pw@::1:8080/x?k=s3cr3t") == "***@::1:8080/x?k=***"
    for other in ("token:abc:def/x", "fe80::1%hunter2/x"):  # not an address: hidden
        assert "hunter2" not in redact(other) and "abc:def" not in redact(other)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "posting to https://hooks.slack.com/services/T000/B000/XXXX.",
            "posting to https://hooks.slack.com/services/T000/B000/***.",
        ),
        (
            "(see https://discord.com/api/webhooks/1/T0K), then retry",
            "(see https://discord.com/api/webhooks/1/***), then retry",
        ),
        (
            "fetch https://a.test/feed?token=s3cr3t; done!",
            "fetch https://a.test/feed?token=***; done!",
        ),
        ("[https://a.test/rss?k=s3cr3t]?", "[https://a.test/rss?k=***]?"),
        ("bare discord.com/api/webhooks/12/T0KEN.", "bare discord.com/api/webhooks/12/***."),
        ("bare bob:pw@feeds.example/rss?k=s3cr3t)", "bare ***@feeds.example/rss?k=***)"),
        ("at https://a.test/a#frag.", "at https://a.test/a."),
        # brackets the URL opens are the URL's: an IPv6 host, a Wikipedia-style path
        ("got http://[::1]:8080/f.xml, ok", "got http://[::1]:8080/f.xml, ok"),
        ("https://w.test/wiki/Foo_(bar).", "https://w.test/wiki/Foo_(bar)."),
        # punctuation inside a secret is the secret's: all of it hidden
        ("https://a.test/x?t=s3.cr,3t!x.", "https://a.test/x?t=***."),
        ("https://a.test/webhooks/1/t(0)k", "https://a.test/webhooks/1/***"),
    ],
)
def test_redaction_keeps_the_punctuation_after_a_url(text: str, shown: str) -> None:
    from digests.net.util import redact

    assert redact(text) == shown
    assert "s3" not in redact(text) and "T0K" not in redact(text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("cannot open file:/tmp/x", "cannot open file:/tmp/x"),
        ("C:/Users/bob/feed.xml: not found", "C:/Users/bob/feed.xml: not found"),
        ("file:/x?token=abc", "file:/x?token=***"),
        ("c:/api/webhooks/1/TOKEN", "c:/api/webhooks/1/***"),
        ("tok:SECRET/p", "<unparseable URL>"),  # "name:value/…" stays hidden
        # a URL a slash short: its userinfo is still hidden
        ("bad URL https:/bob:pw@feeds.example/rss", "bad URL https:/***@feeds.example/rss"),
        ("file:/bob@h/api/webhooks/1/T0K?k=v", "file:/***@h/api/webhooks/1/***?k=***"),
    ],
)
def test_a_scheme_or_drive_without_a_host_is_not_taken_for_one(text: str, shown: str) -> None:
    # Read as "host:port/path", "file:/tmp/x" came out "file/tmp/x" and "C:/…" as "c/…".
    assert redact(text) == shown
