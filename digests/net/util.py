"""Small HTTP helpers every front end shares: Retry-After, and URLs fit for messages and logs.

* :func:`parse_retry_after` is the one Retry-After parser (feeds, Slack, Discord): delay
  seconds or an HTTP date (RFC 9110 §10.2.3), never negative, optionally capped.
* :func:`redact_url` takes the secrets out of a URL before it reaches an error message or a
  log line: userinfo (``user:password@``), query values, and the token of a webhook path
  (Discord, Slack and Mattermost webhooks carry their secret in the path; on Slack's hooks host, e.g. a
  ``response_url``, the whole path after its first segment). :func:`redact_urls` does it to
  every URL in a text; the log filter (``bot/logs.py``) uses it for every record.
* :func:`redact` is the one rule for every identifier or text shown to an operator or a chat
  user (source names and errors in ``/metrics``, health, ``sources``, ``status``, ``/brief
  status``): URLs in it redacted, and a URL written without its scheme (``user:pw@host/p?k=v``,
  the names older versions gave sources) too. :func:`source_name` is a URL's default name:
  its host and path only; :func:`public_url` is a configured page's URL as its article's link.
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = [
    "MAX_RETRY_AFTER", "holds_secret", "locator_of", "parse_retry_after", "public_url", "redact",
    "redact_url", "redact_urls", "secret_url_scheme_ok", "source_name", "without_userinfo",
]  # fmt: skip

# A platform asking for more than an hour is misbehaving: retry after an hour anyway, so a
# bogus header can delay a message but never strand it.
MAX_RETRY_AFTER = 3600.0
# A source's name is at most this long: the store's ``sources.name`` column (PostgreSQL
# refuses a longer value).
MAX_SOURCE_NAME = 200
# Longer URLs are refused by many servers and proxies (and by browsers past 2,083).
MAX_SOURCE_URL = 2048
_NAME_DIGEST = re.compile(r"[0-9a-f]{8}")

# Path parts after these segments are secrets, as (public ids first, secret parts after them):
# /api/webhooks/{id}/{token}, /services/T…/B…/{secret} (Slack incoming webhooks),
# /interactions/{id}/{token}/callback, /hooks/{id} (Mattermost incoming webhooks: the id is
# the secret), /hooks/commands/{id} (Mattermost's slash-command response_url: its id).
_SECRET_AFTER = {"webhooks": (1, 1), "services": (2, 1), "interactions": (1, 1), "hooks": (0, 1)}
_PUBLIC_NEXT = {"hooks": "commands"}  # a public segment the secret comes after, when present
# On Slack's hooks hosts every path is a capability URL — response_url (/commands/…,
# /actions/…), workflow and trigger webhooks: all of it after the first segment is secret.
_SLACK_HOOKS = {"hooks.slack.com", "hooks.slack-gov.com"}
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
# A URL without its scheme: "user:pw@host/path", "host/path?key=value", "host/api/webhooks/…".
_BARE = re.compile(r"(?<![\w/:.@-])[^\s/\"'<>@]+(?:@[^\s/\"'<>@]+)?(?:/[^\s\"'<>]*|\?[^\s\"'<>]*)")
# What may follow a URL in prose without being part of it: sentence punctuation, and a closing
# bracket the URL did not open ("(see https://…/x)." but ".../wiki/Foo_(bar)" and "http://[::1]").
_TRAILING = ".,;:!?"
_CLOSING = {")": "(", "]": "[", "}": "{"}
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def parse_retry_after(
    value: object, *, now: datetime | None = None, cap: float | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value (a number or an HTTP date); None if unusable.

    ``now`` (aware) is needed to turn a date into seconds; a date without it is unusable.
    The result is at least 0 and, with ``cap``, at most ``cap``.
    """
    if value is None or isinstance(value, bool):
        return None
    seconds: float | None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _date_seconds(text, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    seconds = max(0.0, seconds)
    return min(seconds, cap) if cap is not None else seconds


def _date_seconds(text: str, now: datetime | None) -> float | None:
    if now is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are always GMT
    return (when - now).total_seconds()


def redact_url(url: str) -> str:
    """``url`` without its secrets: userinfo, query values and webhook tokens become ``***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if not parts.scheme or not parts.netloc:
        return url
    if ":" in host:
        host = f"[{host}]"
    netloc = ("***@" if "@" in parts.netloc else "") + host + port
    query = _redact_query(parts.query)
    path = _redact_path(parts.path)
    if host.lower() in _SLACK_HOOKS and not path.lower().startswith("/services/"):
        first, _, rest = path.lstrip("/").partition("/")
        path = f"/{first}/***" if rest else path
    # A fragment is left out (it may hold a token), but for the digest a source name ends in
    # (:func:`source_name`): it tells two sources apart, and `sources remove` needs it.
    fragment = parts.fragment if _NAME_DIGEST.fullmatch(parts.fragment) else ""
    redacted = SplitResult(parts.scheme, netloc, path, query, fragment)
    return urlunsplit(redacted)


def holds_secret(url: str) -> bool:
    """Whether ``url`` carries a secret by :func:`redact_url`'s rule (userinfo, a query value,
    a webhook token, a fragment): then it is stored sealed (a source's location). A URL the
    rule only tidies (an upper-case host) counts too: sealing it costs nothing."""
    return "://" in url and redact_url(url) != url


def public_url(url: str) -> str:
    """A configured URL as an article's link (shown in chat): :func:`redact_url`'s rule, and no
    userinfo at all (a ``***@`` would end up in the site name taken from the link)."""
    return redact_url(url).replace("://***@", "://", 1)


def locator_of(url: str) -> str:
    """A source's URL as its articles' stored ``locator`` (and a page's entry identity): when
    it holds a secret (which stays in the (sealed) source row only), its :func:`public_url`
    with :func:`url_digest` as its fragment. The digest keeps it the URL's own (the locator is
    unique): ``?id=1`` and ``?id=2`` of one page are both ``?id=***`` without it."""
    if not holds_secret(url):
        return url
    return f"{public_url(url).partition('#')[0]}#{url_digest(url)}"


def url_digest(url: str) -> str:
    """8 hex digits of ``url``'s SHA-256: tells apart URLs whose shown form is the same."""
    return hashlib.sha256(url.encode()).hexdigest()[:8]


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@``: a feed's relative links inherit the feed URL's, and
    an article's link is shown in chat (the rest of a publisher's link is its own)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def redact_urls(text: str) -> str:
    """``text`` with every URL in it redacted (for messages that quote URLs); punctuation
    after a URL ("… to https://host/x." or "(https://host/x),") stays as it was."""
    return _URL.sub(lambda m: _redact_then(redact_url, m.group(0)), text)


def _redact_then(rule: Callable[[str], str], found: str) -> str:
    """``rule`` applied to the URL in ``found`` (a regex match), the prose after it kept."""
    url, after = _split_trailing(found)
    return rule(url) + after


def _split_trailing(found: str) -> tuple[str, str]:
    """``found`` as the URL and the punctuation after it that is prose, not URL.

    Only punctuation is ever split off (never a letter or digit), so at worst a secret that
    itself ends in punctuation (".", ",", "!", an unopened ")") shows that trailing run of
    it: the rest of the secret stays hidden.
    """
    end = len(found)
    while end > 0:
        char = found[end - 1]
        opening = _CLOSING.get(char)
        if opening is not None:
            if found.count(opening, 0, end) >= found.count(char, 0, end):
                break  # the URL opened it: part of the URL
        elif char not in _TRAILING:
            break
        end -= 1
    return found[:end], found[end:]


def redact(text: str) -> str:
    """``text`` fit to show to anyone: URLs in it, with or without a scheme, redacted."""
    text = redact_urls(text)
    return _BARE.sub(lambda m: _redact_then(_redact_bare, m.group(0)), text)


def _redact_bare(bare: str) -> str:
    if "://" in bare or "***" in bare or not ("@" in bare or "?" in bare or "/" in bare):
        return bare
    first = bare.split("/", 1)[0].split("?", 1)[0]
    if "@" not in first and "." not in first and ":" not in first:
        return bare  # a path like "a/b" or "folder/file", not a host: nothing secret in it
    userinfo, at, host = first.rpartition("@")
    if not at and host.endswith(":") and host.count(":") == 1:
        # "file:/tmp/x", "C:/Users/…": a scheme or a drive, not a host (redact_url would take
        # it for one: "file/tmp/x", "c/Users/…"); what follows is still redacted as a path.
        path, q, query = bare[len(first) :].partition("?")
        # "https:/bob:pw@host/feed" (a slash short): the userinfo is still a password.
        lead, slash, rest = path.removeprefix("/").partition("/")
        if "@" in lead:
            path = "/***@" + lead.rpartition("@")[2] + slash + rest
        return first + _redact_path(path) + (q + _redact_query(query) if q else "")
    if _unbracketed_ipv6(host):  # "::1:8080/feed.xml": a source name older versions gave
        redacted = redact_url(f"https://{userinfo}{at}[::]{bare[len(first) :]}")
        return redacted.removeprefix("https://").replace("[::]", host, 1)
    redacted = redact_url("https://" + bare)
    return redacted.removeprefix("https://") if redacted.startswith("https://") else redacted


def _unbracketed_ipv6(host: str) -> bool:
    """``host`` is an IPv6 address, maybe with ``:port`` after it, written without brackets
    (hex digits, colons and dots only: nothing else passes unredacted)."""
    if not set(host) <= _IPV6_CHARS:
        return False
    for address in (host, host.rpartition(":")[0]):
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            continue
        return True
    return False


def source_name(url: str, *, distinct: bool = False) -> str:
    """A URL's default name: host (and port) plus path — never its userinfo or query.

    An IPv6 host keeps its brackets (``[::1]:8080/feed.xml``), as in the URL.
    ``distinct``: with a short digest of the whole URL after ``#``, for when another URL
    already has the plain name (feeds told apart by their query, say). A name longer than
    :data:`MAX_SOURCE_NAME` is cut, with that digest after it.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        host, port, parts = "", "", urlsplit("")
    if ":" in host:
        host = f"[{host}]"
    name = (host + port + _redact_path(parts.path)).rstrip("/") or "source"
    if distinct or len(name) > MAX_SOURCE_NAME:  # a long one is cut: the digest tells it apart
        return f"{name[: MAX_SOURCE_NAME - 9]}#{url_digest(url)}"
    return name


def source_problem(*, name: str | None = None, url: str | None = None) -> str | None:
    """Why ``name`` or ``url`` cannot be a source's (None: they can): too long to store or
    show, or holding a control character (a newline, an escape sequence, a right-to-left
    override), which would be stored and then named in `sources`, /brief status and
    /metrics; a URL holding a space (every poll of it would be refused)."""
    from digests.controls import has_controls, strip_controls

    if name is not None and (
        not name.strip() or len(name) > MAX_SOURCE_NAME or has_controls(name) or "\n" in name
    ):
        shown = strip_controls(name)[:60]
        return f"name {shown!r}: give 1 to {MAX_SOURCE_NAME} characters, no control characters"
    if url is None:
        return None
    if len(url) > MAX_SOURCE_URL:
        return f"the URL is {len(url):,} characters long (at most {MAX_SOURCE_URL:,})"
    if has_controls(url) or "\t" in url or "\n" in url:
        return f"{strip_controls(url)!r} holds a control character"
    if any(c.isspace() for c in url):
        return f"{url!r} holds a space (write it %20)"
    return None


def _redact_query(query: str) -> str:
    """Every value of a query string hidden (``a=***&b=***``); the names stay."""
    return "&".join((p.split("=", 1)[0] + "=***") if "=" in p else p for p in query.split("&") if p)


def _redact_path(path: str) -> str:
    segments = path.split("/")
    for i, segment in enumerate(segments):
        rule = _SECRET_AFTER.get(segment.lower())
        if rule is None:
            continue
        public, secret = rule
        if i + 1 < len(segments) and segments[i + 1].lower() == _PUBLIC_NEXT.get(segment.lower()):
            public += 1
        for j in range(i + 1 + public, min(len(segments), i + 1 + public + secret)):
            if segments[j]:
                segments[j] = "***"
        break
    return "/".join(segments)


_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def secret_url_scheme_ok(url: str) -> bool:
    """The one rule for URLs that carry a secret (Discord webhooks, ``MATTERMOST_URL``, under
    which Mattermost's webhooks and bot token travel), wherever they are given:
    https, or plain http only to this machine (a local stand-in or proxy)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "http" and (host in _LOOPBACK_HOSTS or host.startswith("127."))
