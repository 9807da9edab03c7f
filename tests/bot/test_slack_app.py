"""The real Bolt app over HTTP, with signed requests, against the local Slack stand-in."""

from __future__ import annotations

import json
import time

import pytest

from bot.platforms.slack.app import TOKEN_REFUSED
from digests.config import Settings
from testkit.slack_requests import action_body, command_body, signed_headers
from tests.bot.conftest import RunningBot
from tests.conftest import NOW, make_processed


def _texts(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out.extend(
            e.get("text", "") for e in b.get("elements", []) if isinstance(e.get("text"), str)
        )
    return "\n".join(out)


def test_brief_acks_within_3s_then_answers_through_response_url(running_bot: RunningBot) -> None:
    started = time.monotonic()
    response = running_bot.command("taiwan")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 3.0  # Slack shows a timeout after 3 s (Slack docs, "Slash commands")
    [answer] = running_bot.stub.wait_for("response:r1")
    message = answer.params
    assert message["response_type"] == "ephemeral"
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "Brief: taiwan"
    sections = [b for b in blocks if b["type"] == "section"]
    assert sections and "Taiwan" in sections[0]["text"]["text"]
    # Each sentence cites its article, linked when the article has a URL (& escaped in it).
    assert "<https://one.example/a|[" in _texts(
        blocks
    ) or "<https://two.example/b?x=1&amp;y=2|[" in _texts(blocks)
    context = [b for b in blocks if b["type"] == "context"][0]
    assert "Wire" in context["elements"][0]["text"]
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert actions["elements"][0]["action_id"] == "brief_share"
    # The first request made the app check its token once, against the stub.
    assert [c.method for c in running_bot.stub.calls if not c.method.startswith("response:")] == [
        "auth.test"
    ]


@pytest.mark.parametrize(
    "tamper",
    ["stale", "changed_byte", "missing_signature", "wrong_secret"],
)
def test_bad_signatures_get_401_and_no_listener_runs(running_bot: RunningBot, tamper: str) -> None:
    body = command_body("taiwan", response_url=running_bot.stub.response_url("bad"))
    if tamper == "stale":
        headers = signed_headers(body, timestamp=int(time.time()) - 301)
    elif tamper == "wrong_secret":
        headers = signed_headers(body, secret="not-the-secret")
    else:
        headers = signed_headers(body)
    if tamper == "changed_byte":
        body = body.replace("taiwan", "taiwam", 1)
    if tamper == "missing_signature":
        del headers["X-Slack-Signature"]
    assert running_bot.post(body, headers).status_code == 401
    # A valid request afterwards is answered; the rejected one never reached a listener.
    assert running_bot.command("taiwan", response="good").status_code == 200
    running_bot.stub.wait_for("response:good")
    assert running_bot.stub.of("response:bad") == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("taiwan\x00\x07", "Control characters"),
        ("x" * 2001, "keep it under 2000"),
        ("y" * 201, "too long"),
    ],
)
def test_bad_input_gets_a_clear_escaped_reply(
    running_bot: RunningBot, text: str, shown: str
) -> None:
    response = running_bot.command(text)
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    rendered = json.dumps(reply)
    assert shown in rendered
    assert "<!channel>" not in rendered and "<script>" not in rendered


def test_help_and_empty_answer_with_usage_in_the_ack(running_bot: RunningBot) -> None:
    for text in ("", "help"):
        reply = running_bot.command(text).json()
        assert "/brief subscribe" in reply["blocks"][0]["text"]["text"]


def test_unknown_topic_is_echoed_escaped(running_bot: RunningBot) -> None:
    running_bot.command("AT&T *bold*")
    [answer] = running_bot.stub.wait_for("response:r1")
    text = _texts(answer.params["blocks"])
    assert "AT&amp;T" in text and "AT&T" not in text


def test_a_topic_with_an_ampersand_is_read_as_typed(running_bot: RunningBot) -> None:
    # Slack sends the &, < and > a user types as &amp;, &lt; and &gt; (its own markup,
    # <@U123>, stays as it is). `/brief S&P 500` was briefed and shown as "S&amp;P 500":
    # the header read "Brief: S&amp;P 500", the share button carried it, and an unknown
    # topic was echoed as "AT&amp;amp;T".
    running_bot.store.articles.add(
        make_processed(
            "Stocks rally",
            "The S&P 500 rose 2 percent on Friday as chip stocks rallied. "
            "Traders said the S&P 500 gained most in technology shares.",
            source="Wire X",
            url="https://x.example/1",
        ),
        now=NOW,
    )
    running_bot.command("S&amp;P 500", response="sp")
    [answer] = running_bot.stub.wait_for("response:sp")
    blocks = answer.params["blocks"]
    assert blocks[0]["text"]["text"] == "Brief: S&P 500"
    [share] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert share["value"] == "S&P 500"
    running_bot.command("AT&amp;T", response="att")
    [unknown] = running_bot.stub.wait_for("response:att")
    assert "“AT&amp;T”" in _texts(unknown.params["blocks"])
    # A < typed in a topic is refused as markup, and echoed escaped once.
    reply = running_bot.command("a &lt;b&gt; c", response="lt").json()
    assert "`a &lt;b&gt; c`" in _texts(reply["blocks"])


def test_topics_lists_counts(running_bot: RunningBot) -> None:
    running_bot.command("topics")
    [answer] = running_bot.stub.wait_for("response:r1")
    assert "`taiwan` — 3 articles" in _texts(answer.params["blocks"])


def test_subscribe_status_unsubscribe(running_bot: RunningBot) -> None:
    running_bot.command("subscribe taiwan trade at 07:30 Europe/London", response="sub")
    [answer] = running_bot.stub.wait_for("response:sub")
    assert "Subscribed" in _texts(answer.params["blocks"])
    sub = running_bot.store.subscriptions.get("slack-chat:C123")
    assert sub is not None and sub.origin == "chat"
    assert (sub.topics, sub.cron, sub.timezone, sub.channel) == (
        ("taiwan", "trade"),
        "30 7 * * *",
        "Europe/London",
        "C123",
    )
    assert sub.watermark == running_bot.store.articles.latest_id()  # starts with what is new
    assert [s.name for s in running_bot.schedule.scheduled] == ["slack-chat:C123"]

    running_bot.store.sources.ensure("wire <feed>", kind="feed", location="https://w.example/rss")
    running_bot.store.sources.failed("wire <feed>", now=NOW, error="HTTP 503 from w.example")
    running_bot.command("status", response="status")
    [status] = running_bot.stub.wait_for("response:status")
    assert "#taiwan, #trade" in _texts(status.params["blocks"])
    assert "Europe/London" in _texts(status.params["blocks"])
    # Source health, escaped: a failing feed is named with its error.
    assert "wire &lt;feed&gt; — 1 failure in a row: HTTP 503 from w.example" in _texts(
        status.params["blocks"]
    )

    running_bot.command("unsubscribe", response="unsub")
    [unsub] = running_bot.stub.wait_for("response:unsub")
    assert "Unsubscribed" in _texts(unsub.params["blocks"])
    assert running_bot.store.subscriptions.get("slack-chat:C123") is None
    assert running_bot.schedule.removed == ["slack-chat:C123"]


def test_subscribe_rejects_unknown_topics_and_bad_times(running_bot: RunningBot) -> None:
    assert "Unknown topic" in json.dumps(running_bot.command("subscribe narnia").json())
    assert "HH:MM" in json.dumps(running_bot.command("subscribe taiwan at 25:00").json())
    assert "Unknown timezone" in json.dumps(
        running_bot.command("subscribe taiwan at 08:00 Mars/Base").json()
    )


def test_share_button_posts_the_brief_in_channel(running_bot: RunningBot) -> None:
    body = action_body("taiwan", response_url=running_bot.stub.response_url("share"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [shared] = running_bot.stub.wait_for("response:share")
    assert shared.params["response_type"] == "in_channel"
    text = _texts(shared.params["blocks"])
    assert "Shared by <@U1>" in text
    assert not [b for b in shared.params["blocks"] if b["type"] == "actions"]


def test_healthz_reports_the_database(running_bot: RunningBot) -> None:
    import httpx

    health = httpx.get(f"{running_bot.url}/healthz").json()
    assert {k: health[k] for k in ("ok", "db", "articles")} == {
        "ok": True,
        "db": True,
        "articles": 3,
    }
    assert health["delivery"]["ok"] is True and health["delivery"]["waiting"] == 0


def test_app_home_in_single_workspace_mode_shows_chat_and_config_subscriptions(
    running_bot: RunningBot,
) -> None:
    running_bot.command("subscribe taiwan", response="sub")
    running_bot.stub.wait_for("response:sub")
    running_bot.store.subscriptions.upsert(
        "morning", platform="slack", channel="CCONFIG", topics=["trade"], cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW,
    )  # fmt: skip
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": "Ev1",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"},
        }
    )
    headers = {**signed_headers(body), "Content-Type": "application/json"}
    assert running_bot.post(body, headers).status_code == 200
    [published] = running_bot.stub.wait_for("views.publish")
    assert published.headers["Authorization"] == "Bearer xoxb-test"
    view = json.dumps(published.params["view"])
    assert "<#C123>" in view and "<#CCONFIG>" in view and "home_pause" in view


@pytest.mark.parametrize("zone", ["Europe", "America/", "../../etc/passwd", "Europe/Nowhere"])
def test_a_folder_or_unknown_zone_gets_a_polite_answer_not_a_500(
    running_bot: RunningBot, zone: str
) -> None:
    response = running_bot.command(f"subscribe taiwan at 08:00 {zone}")
    assert response.status_code == 200
    text = json.dumps(response.json())
    assert response.json()["response_type"] == "ephemeral" and "timezone" in text.lower()
    assert running_bot.store.subscriptions.all() == []


def test_a_signed_body_nested_100000_deep_is_a_400(running_bot: RunningBot) -> None:
    for body in (
        '{"e":' * 100_000 + "{}" + "}" * 100_000,
        "payload=" + "[" * 100_000 + "]" * 100_000,
    ):
        response = running_bot.post(body, signed_headers(body))
        assert response.status_code == 400, response.text[:200]
    assert running_bot.command("help").status_code == 200  # and the bot still answers


def test_brief_status_shows_a_source_named_after_its_url_without_its_secrets(
    running_bot: RunningBot,
) -> None:
    # A name an older version gave a source: its whole URL, password and api_key included.
    legacy = "bob:hunter2@feeds.example/rss?api_key=K3Y"
    running_bot.store.sources.ensure(legacy, kind="feed", location=f"https://{legacy}")
    running_bot.store.sources.failed(legacy, now=NOW, error=f"HTTP 500 from https://{legacy}")
    assert running_bot.command("status", response="st").status_code == 200
    [answer] = running_bot.stub.wait_for("response:st")
    text = json.dumps(answer.params)
    assert "feeds.example/rss" in text and "1 failure in a row" in text
    assert "hunter2" not in text and "K3Y" not in text and "bob" not in text


def test_an_error_from_the_core_is_shown_escaped(
    running_bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DigestError's text can carry what a user or a feed wrote: shown as text, it must not
    ping the channel, link anywhere or turn into formatting."""
    from digests.errors import StoreError

    def failing() -> dict[str, int]:
        raise StoreError("could not read <!channel> & <https://evil.example|tags>")

    monkeypatch.setattr(running_bot.store.articles, "tag_counts", failing)
    running_bot.command("topics", response="err")
    [answer] = running_bot.stub.wait_for("response:err")
    text = _texts(answer.params["blocks"])
    assert "could not read &lt;!channel&gt; &amp; &lt;https://evil.example|tags&gt;" in text, text
    assert "<!channel>" not in json.dumps(answer.params)
    assert _plain_line(answer.params["text"]).startswith("could not read &lt;!channel&gt; &amp;")


def _plain_line(text: str) -> str:
    """A reply's ``text`` fallback, checked: one plain line (no bold, code or emoji codes —
    notifications and screen readers show it as it is), within FALLBACK_CHARS."""
    import re

    from bot.platforms.slack.render import FALLBACK_CHARS

    assert isinstance(text, str) and 0 < len(text) <= FALLBACK_CHARS, text
    assert not re.search(r"[*`\n]|:[a-z_]+:", text), text
    return text


def test_every_reply_says_what_it_holds_in_its_text_fallback(
    running_bot: RunningBot, settings: Settings
) -> None:
    """QA: `/brief topics` answered with the fallback "*Topics*" alone (what a notification
    and a screen reader give); help was "*Usage*" and its markup, status its mrkdwn."""
    topics = [t.name for t in settings.topics]
    running_bot.command("topics", response="topics")
    [listed] = running_bot.stub.wait_for("response:topics")
    text = _plain_line(listed.params["text"])
    zeros = ", ".join(f"{t} (0)" for t in topics if t not in {"taiwan", "trade"})
    assert text == f"Topics: taiwan (3), trade (1), {zeros}", text

    usage = running_bot.command("help").json()
    assert _plain_line(usage["text"]).startswith("/brief commands: /brief TOPIC")
    refused = running_bot.command("<script>alert(1)</script>").json()
    assert "&lt;script&gt;" in _plain_line(refused["text"])

    running_bot.command("subscribe taiwan trade at 07:30 Europe/London", response="sub")
    [subscribed] = running_bot.stub.wait_for("response:sub")
    assert _plain_line(subscribed.params["text"]) == (
        "Subscribed: #taiwan, #trade, next digest Tue 24 Nov 07:30 GMT."
    )
    running_bot.store.sources.ensure("wire <feed>", kind="feed", location="https://w.example/rss")
    running_bot.store.sources.failed("wire <feed>", now=NOW, error="HTTP 503 from w.example")
    running_bot.command("status", response="status")
    [status] = running_bot.stub.wait_for("response:status")
    assert _plain_line(status.params["text"]) == (
        "Digest for this channel: #taiwan, #trade, next digest Tue 24 Nov 07:30 GMT. "
        "Sources: 0 of 1 healthy, 1 failing."
    )
    running_bot.command("unsubscribe", response="unsub")
    [unsubscribed] = running_bot.stub.wait_for("response:unsub")
    assert _plain_line(unsubscribed.params["text"]) == (
        "Unsubscribed: this channel gets no more /brief digests."
    )
    running_bot.command("status", response="none")
    [none] = running_bot.stub.wait_for("response:none")
    assert _plain_line(none.params["text"]).startswith("This channel has no digest. Sources:")


def test_a_refused_bot_token_is_named_not_called_an_uninstall(running_bot: RunningBot) -> None:
    # One workspace (SLACK_BOT_TOKEN) whose token Slack refuses (revoked, or mistyped and serve
    # started while Slack was unreachable): the user was told digestbot "is not installed in
    # this workspace (any more)" and to reinstall it, though the operator's token is the fault.
    running_bot.stub.revoke("xoxb-test")
    answer = running_bot.command("status")
    assert answer.status_code == 200
    assert answer.text == TOKEN_REFUSED, answer.text
    assert "not installed" not in answer.text
