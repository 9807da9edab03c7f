"""Mattermost's settings, read from the environment mapping the caller passes.

``MATTERMOST_URL``            the server's base URL, https (plain http only to this machine);
                              digests go only to incoming webhooks under it
                              (``{MATTERMOST_URL}/hooks/<id>``), other hosts are refused
``MATTERMOST_COMMAND_TOKEN``  the `/brief` slash command's token(s), comma-separated (one per
                              team or command); without it ``/mattermost/command`` is not served
``MATTERMOST_BOT_TOKEN``      optional: post through the REST API (``/api/v4/posts``) so a post
                              whose outcome is unknown is looked up before it is sent again
``MATTERMOST_COMMAND_WAIT``   optional: the longest the `/brief` command's own answer waits for
                              the brief, in seconds (default :data:`COMMAND_WAIT`, at most
                              :data:`MAX_COMMAND_WAIT`); keep it below the server's
                              OutgoingIntegrationRequestsTimeout, after which Mattermost shows
                              the user its own error instead of the answer
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from digests.errors import ConfigError
from digests.net.util import redact_url, secret_url_scheme_ok

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A slash command's response_url: {Site URL}/hooks/commands/<id> (app/command.go; the server
# routes /hooks/commands/{id:[A-Za-z0-9]+}, web/webhook.go).
_COMMAND_HOOK = re.compile(r"/hooks/commands/([A-Za-z0-9]{1,64})")
# Mattermost waits OutgoingIntegrationRequestsTimeout seconds for a slash command's answer
# (ServiceSettings, default 30, admin-configurable) and then shows the user "Command with a
# trigger of '/brief' failed": the command answers well within it, by default a third.
COMMAND_WAIT = 10.0
MAX_COMMAND_WAIT = 60.0  # a request held open longer is a cost, not an answer


@dataclass(frozen=True, slots=True)
class MattermostSettings:
    """Checked Mattermost settings."""

    url: str  # base URL, no trailing slash
    command_tokens: tuple[str, ...] = ()
    bot_token: str | None = None
    command_wait: float = COMMAND_WAIT  # seconds the slash command's answer may wait

    def under_server(self, url: str) -> bool:
        """``url`` is on this Mattermost server (same scheme, host and port, below its path)."""
        base, other = urlsplit(self.url), urlsplit(url)
        return (
            other.scheme == base.scheme
            and other.netloc.lower() == base.netloc.lower()
            and other.path.startswith(base.path.rstrip("/") + "/")
            and not other.username
            and not other.password
        )

    def reply_url(self, response_url: str) -> str:
        """Where a slash command's later answer goes: ``response_url`` when it is on this
        server; else, when it is a command webhook (``…/hooks/commands/<id>``) of another
        address, that webhook on this server; else "" (nothing is ever posted).

        Mattermost builds ``response_url`` on its Site URL, or on the address the user's
        browser reached when none is set: not always the address the bot reaches the server
        by. The command (its token checked) came from this server, whose webhook it names.
        """
        if self.under_server(response_url):
            return response_url
        parts = urlsplit(response_url)
        hook = _COMMAND_HOOK.search(parts.path)
        if hook is None or hook.end() != len(parts.path) or parts.query or parts.fragment:
            return ""
        return f"{self.url}/hooks/commands/{hook.group(1)}"

    def webhook(self, url: str) -> str | None:
        """For a URL on this server (no query, fragment or credentials): its incoming webhook
        id when it is ``…/hooks/<id>``, else ``""``; None for any other URL (refused)."""
        parts = urlsplit(url)
        if not self.under_server(url) or parts.query or parts.fragment:
            return None
        path = parts.path[len(urlsplit(self.url).path.rstrip("/")) :].strip("/").split("/")
        if len(path) == 2 and path[0] == "hooks" and _ID.fullmatch(path[1]):
            return path[1]
        return ""

    def token_ok(self, given: str) -> bool:
        """``given`` is one of the command tokens (constant-time, every token compared)."""
        ok = False
        for token in self.command_tokens:
            ok |= hmac.compare_digest(token.encode(), given.encode())
        return ok and bool(given)


def load_mattermost(environ: Mapping[str, str]) -> MattermostSettings | None:
    """The settings, None when no Mattermost variable is set; ConfigError when malformed or
    a token is set without ``MATTERMOST_URL``."""
    url = (environ.get("MATTERMOST_URL") or "").strip()
    if not url:
        given = [n for n in ("MATTERMOST_COMMAND_TOKEN", "MATTERMOST_BOT_TOKEN") if environ.get(n)]
        if given:  # half a setup would be ignored without a word: /brief answered 404
            raise ConfigError(
                f"{' and '.join(given)} set but MATTERMOST_URL is not: set it to the "
                "Mattermost server's base URL (or unset the token)"
            )
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        raise ConfigError(
            f"MATTERMOST_URL must be the server's http(s) base URL, got {redact_url(url)!r}"
        )
    if not secret_url_scheme_ok(url):  # webhook URLs and the bot token would travel in clear
        raise ConfigError(
            f"MATTERMOST_URL {redact_url(url)!r} is plain http to another machine: webhook URLs "
            "and tokens are secrets, so use https (plain http only to this machine)"
        )
    tokens = tuple(
        t.strip() for t in (environ.get("MATTERMOST_COMMAND_TOKEN") or "").split(",") if t.strip()
    )
    bot_token = (environ.get("MATTERMOST_BOT_TOKEN") or "").strip() or None
    return MattermostSettings(
        url.rstrip("/"), tokens, bot_token, _command_wait(environ.get("MATTERMOST_COMMAND_WAIT"))
    )


def _command_wait(given: str | None) -> float:
    """``MATTERMOST_COMMAND_WAIT`` in seconds (unset or blank: the default); ConfigError when it
    is not a number above 0 and at most :data:`MAX_COMMAND_WAIT`."""
    if given is None or not given.strip():
        return COMMAND_WAIT
    try:
        seconds = float(given)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_COMMAND_WAIT:  # NaN fails it too
        raise ConfigError(
            f"MATTERMOST_COMMAND_WAIT must be a number of seconds above 0 and at most "
            f"{MAX_COMMAND_WAIT:g}, below the server's Outgoing Integrations Request Timeout "
            f"(default {COMMAND_WAIT:g}), got {given.strip()[:40]!r}"
        )
    return seconds
