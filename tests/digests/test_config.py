"""Settings: shipped config loads; bad config is one clear ConfigError."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from digests.config import FetchConfig, config_warnings, find_config_dir, load_settings
from digests.errors import ConfigError


def test_shipped_config_loads(settings) -> None:
    names = {t.name for t in settings.topics}
    assert {"taiwan", "china", "united-states", "trade", "russia", "ukraine", "iran"} <= names
    assert settings.database_url.startswith("sqlite:///")
    assert settings.inbox.name == "seeds"


def test_environment_overrides(config_dir: Path) -> None:
    s = load_settings(
        {
            "DIGESTBOT_DATABASE_URL": "postgresql+psycopg://x@h/db",
            "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1",
        },
        config_dir,
    )
    assert s.database_url == "postgresql+psycopg://x@h/db" and s.allow_private_networks


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("digestbot.toml", "data_dir = [", "digestbot.toml"),
        ("digestbot.toml", "[summary]\nsentences = 0", "summary.sentences"),
        ("topics.toml", "[[topic]]\nname = 'Bad Name!'", "needs a name"),
        ("topics.toml", "[[topic]]\nname = 'a'\n[[topic]]\nname = 'a'", "duplicate"),
        ("sources.toml", "[[source]]\nfeed = 'ftp://x'", "http"),
        ("subscriptions.toml", "[[subscription]]\nchannel = 'C1'\ncron = '0 8 *'", "5 fields"),
        (
            "subscriptions.toml",
            "[[subscription]]\nchannel = 'C1'\ntimezone = 'Mars/Base'",
            "unknown timezone",
        ),
    ],
)
def test_bad_config_is_a_clear_error(
    config_dir: Path, file: str, content: str, message: str
) -> None:
    (config_dir / file).write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings({}, config_dir)
    assert "\n" not in str(info.value)


def test_a_discord_subscription_s_name_hides_its_webhook(config_dir: Path) -> None:
    """(Which channels a platform takes is its own rule: tests/bot/test_platforms.py.)"""
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nplatform = 'discord'\nchannel = 'https://discord.com/api/webhooks/1/secret'\n"
    )
    [sub] = load_settings({}, config_dir).subscriptions
    assert sub.name.startswith("discord:") and "secret" not in sub.name


@pytest.mark.parametrize(
    ("platform", "channel", "hidden"),
    [
        ("slack", "C0123ABCD", False),
        ("slack", "#news", False),
        ("discord", "https://discord.com/api/webhooks/1/secret", True),
        ("discord", "HTTPS://discord.com/api/webhooks/1/secret", True),
        ("discord", "https:/discord.com/api/webhooks/1/secret", True),
        ("discord", "http://127.0.0.1:9/api/webhooks/1/secret", True),
        ("mattermost", "https://mm.example.com/hooks/secret", True),
        ("mattermost", "HTTPS://mm.example.com/hooks/secret", True),
    ],
)
def test_a_subscription_is_named_from_its_channel_unless_that_is_a_url(
    config_dir: Path, platform: str, channel: str, hidden: bool
) -> None:
    """The default name is ``platform:channel``, or for a URL (a webhook carries its token)
    ``platform:`` and 12 hex digits of its SHA-256: the same for every platform."""
    (config_dir / "subscriptions.toml").write_text(
        f"[[subscription]]\nplatform = '{platform}'\nchannel = '{channel}'\n"
    )
    [sub] = load_settings({}, config_dir).subscriptions
    digest = hashlib.sha256(channel.encode()).hexdigest()[:12]
    assert sub.name == (f"{platform}:{digest}" if hidden else f"{platform}:{channel}")


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "topics.toml",
            "[[topic]]\nname = 'taiwan'\nsentense = 3",
            "topics.toml: topic.taiwan.sentense: unknown key",
        ),
        (
            "digestbot.toml",
            "[summary]\nsentense = 3",
            "digestbot.toml: summary.sentense: unknown key",
        ),
        ("digestbot.toml", "[sumary]\nsentences = 3", "digestbot.toml: sumary: unknown key"),
        (
            "digestbot.toml",
            "[summary]\nsentences = 'three'",
            "summary.sentences: input should be a valid integer, got 'three'",
        ),
        ("digestbot.toml", "[summary]\nsentences = '3'", "summary.sentences: input should be"),
        (
            "digestbot.toml",
            "[summary]\nalgorithm = 'magic'",
            "summary.algorithm: unknown algorithm",
        ),
        ("digestbot.toml", "[fetch]\ntimeout_seconds = -1", "fetch.timeout_seconds"),
        ("sources.toml", "[[source]]\nfolder = 'x'\npoll_minutes = '15'", "source[1].poll_minutes"),
        (
            "sources.toml",
            "[[source]]\nname = 'a'\nfeed = 'https://x'\npage = 'https://y'",
            "exactly one",
        ),
        ("sources.toml", "[[source]]\nfolder = 'a'\n[[source]]\nfolder = 'a'", "duplicate source"),
        (  # a tag is spelt as a topic's name (`sources add --tags` takes the same)
            "sources.toml",
            "[[source]]\nname = 'box'\nfolder = 'a'\ntags = ['local', 'Bad Tag!']",
            "source.box.tags: tag 'Bad Tag!': use lowercase letters, digits and hyphens",
        ),
        (  # a name of lowercase letters, only too long, was told "needs a name like ..."
            "topics.toml",
            "[[topic]]\nname = '" + "a" * 100 + "'",
            "topic[1].name: needs a name like 'south-china-sea' (lowercase letters, digits and "
            "hyphens, at most 63 characters), got 'aaaa",
        ),
        (
            "sources.toml",
            "[[source]]\nname = 'box'\nfolder = 'a'\ntags = ['" + "b" * 64 + "']",
            "digits and hyphens, at most 63 characters, e.g. 'south-china-sea'",
        ),
        # A name PostgreSQL could not store (`error: DataError: ... varying(200)`), names and
        # URLs that change how `sources`, /brief status and /metrics read, were accepted.
        (
            "sources.toml",
            "[[source]]\nname = '" + "n" * 201 + "'\nfolder = 'a'",
            ": name 'nnnnnnnnnnnnnnnnnnnn",
        ),
        (
            "sources.toml",
            '[[source]]\nname = "a\\u001b[2Jb"\nfeed = "https://x.example/f"',
            ": name 'a[2Jb': give 1 to 200 characters, no control characters",
        ),
        (
            "sources.toml",
            '[[source]]\nfeed = "https://x.example/a\\u202egnp.exe"',
            "'https://x.example/agnp.exe' holds a control character",
        ),
        (
            "sources.toml",
            "[[source]]\npage = 'https://x.example/" + "a" * 2100 + "'",
            "source[1]: the URL is 2,118 characters long (at most 2,048)",
        ),
        (  # every article of the source carries them: 300,000 took one file's ingest to 1.2 GB
            "sources.toml",
            "[[source]]\nname = 'box'\nfolder = 'a'\ntags = ["
            + ", ".join(f"'t{i}'" for i in range(51))
            + "]",
            "source.box.tags: at most 50 tags, got 51",
        ),
        # A huge topics.toml was read as given: a 5 MB alias took an ingest of the seeds from
        # 7 s to 60 s and 640 MB; 200,000 aliases 90 s; 20,000 topics `topics` 30 s.
        (
            "topics.toml",
            "[[topic]]\nname = 'x'\naliases = ['" + "a" * 101 + "']",
            "topic.x.aliases: an alias is a phrase of at most 100 characters, got 101 ('aaaa",
        ),
        (
            "topics.toml",
            "[[topic]]\nname = 'x'\naliases = [" + ",".join(f"'w{i}'" for i in range(10_001)) + "]",
            "topic.x.aliases: at most 10,000 aliases, got 10,001",
        ),
        (
            "topics.toml",
            "".join(
                f"[[topic]]\nname = 't{i}'\naliases = ['a{i}', 'b{i}', 'c{i}', 'd{i}', "
                f"'e{i}', 'f{i}', 'g{i}', 'h{i}', 'i{i}', 'j{i}', 'k{i}']\n"
                for i in range(910)
            ),
            "topic: at most 10,000 aliases in all, got 10,010",
        ),
        (
            "topics.toml",
            "".join(f"[[topic]]\nname = 't{i}'\n" for i in range(1001)),
            "topic: at most 1,000 topics, got 1,001",
        ),
        (
            "subscriptions.toml",
            "[[subscription]]\nname = 'am'\nchannel = 'C1'\nplatform = 'Teams!'",
            "subscription.am.platform: must be a platform name such as slack or discord",
        ),
        ("subscriptions.toml", "[[subscription]]\ncron = '0 8 * * *'", "channel: required key"),
        ("subscriptions.toml", "[[subscription]]\nchannel = 'C1'\nthread = 'yes'", "thread"),
        (
            "subscriptions.toml",
            "[[subscription]]\nname = 'am'\nchannel = 'C1'\nteam_id = 'T-1'",
            "subscription.am.team_id: must be a workspace id of at most 32 letters and digits, "
            "got 'T-1'",
        ),
    ],
)
def test_unknown_keys_and_wrong_types_name_file_and_key(
    config_dir: Path, file: str, content: str, message: str
) -> None:
    (config_dir / file).write_text(content)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_settings({}, config_dir)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(config_dir / file))


def test_fetch_table_and_new_fields(config_dir: Path) -> None:
    (config_dir / "digestbot.toml").write_text("[fetch]\ntimeout_seconds = 5\nmax_bytes = 1000\n")
    (config_dir / "sources.toml").write_text(
        "[[source]]\nname = 'box'\nfolder = 'box'\nfollow_symlinks = true\ntags = ['x']\n"
    )
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nchannel = 'C1'\nthread = false\n"
    )
    s = load_settings({}, config_dir)
    assert s.fetch == FetchConfig(timeout_seconds=5.0, max_bytes=1000)
    [source] = s.sources
    assert source.follow_symlinks and source.tags == ("x",) and source.kind == "folder"
    assert s.resolve(source.location) == config_dir.parent / "box"
    [sub] = s.subscriptions
    assert sub.thread is False and sub.name == "slack:C1"
    assert load_settings({}, config_dir.parent / "config").subscriptions[0].thread is False


def test_bad_cron_is_caught_by_the_trigger_check(config_dir: Path) -> None:
    from bot.settings import check_cron

    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'am'\nchannel = 'C1'\ncron = '99 8 * * *'\n"
    )
    with pytest.raises(ConfigError, match=r"subscriptions.toml: subscription.am.cron: '99 8") as e:
        load_settings({}, config_dir, check_cron=check_cron)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("cron", ["0 8 30 2 *", "0 8 31 4,6,9,11 *"])
def test_a_cron_that_never_fires_is_an_error_at_start(config_dir: Path, cron: str) -> None:
    """February 30th (or the 31st of a 30-day month) is a valid crontab that never comes:
    `serve` would start, schedule it and post nothing, ever, without a word."""
    from bot.settings import check_cron

    (config_dir / "subscriptions.toml").write_text(
        f"[[subscription]]\nname = 'am'\nchannel = 'C1'\ncron = '{cron}'\n"
    )
    with pytest.raises(ConfigError, match=r"subscription.am.cron: .*never") as e:
        load_settings({}, config_dir, check_cron=check_cron)
    assert "\n" not in str(e.value)
    # Leap days come (every four years): not an error.
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'am'\nchannel = 'C1'\ncron = '0 8 29 2 *'\n"
    )
    load_settings({}, config_dir, check_cron=check_cron)


def test_warnings_name_the_file_and_the_key(config_dir: Path, tmp_path: Path) -> None:
    (config_dir / "sources.toml").write_text(
        "[[source]]\nfeed = 'https://w.example/rss'\ntags = ['World']\n"
    )
    (tmp_path / "here.txt").write_text("An example.")
    (config_dir / "topics.toml").write_text(
        "[[topic]]\nname = 'ai'\nlabel = 'AI'\nexamples = ['here.txt', 'https://x.example/gone']\n"
        "exclude = ['/nowhere/x.txt']\n"
    )
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nchannel = 'C1'\ntopics = ['AI', 'world', '#ai']\n"
    )
    assert config_warnings(load_settings({}, config_dir)) == [
        f"{config_dir / 'topics.toml'}: topic.ai.label: has no effect (tags are shown by their "
        "name); remove it",
        f"{config_dir / 'topics.toml'}: topic.ai.exclude: no file /nowhere/x.txt (it counts "
        "only if an article was stored from it)",
        f"{config_dir / 'subscriptions.toml'}: subscription.slack:C1.topics: '#ai' is not a "
        "topic in topics.toml or a tag of a source in sources.toml; fine if a source added "
        "with `sources add --tags` declares it",
    ]
    (config_dir / "subscriptions.toml").write_text("[[subscription]]\nchannel = 'C1'\n")
    (config_dir / "topics.toml").write_text("[[topic]]\nname = 'ai'\n")
    assert config_warnings(load_settings({}, config_dir)) == []


def test_environment_goes_through_pydantic_settings(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="DIGESTBOT_ALLOW_PRIVATE_NETWORKS: input should be"):
        load_settings({"DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "perhaps"}, config_dir)
    s = load_settings({"DIGESTBOT_INBOX": "/tmp/in", "DIGESTBOT_DATA_DIR": ""}, config_dir)
    assert s.inbox == Path("/tmp/in") and s.data_dir == config_dir.parent / "data"


def test_config_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    with pytest.raises(ConfigError, match="--config .*nope: not a folder"):
        find_config_dir(tmp_path / "nope", {})
    with pytest.raises(ConfigError, match="DIGESTBOT_CONFIG_DIR .*nope: not a folder"):
        find_config_dir(None, {"DIGESTBOT_CONFIG_DIR": str(tmp_path / "nope")})
    xdg = tmp_path / "xdg"
    assert find_config_dir(None, {"XDG_CONFIG_HOME": str(xdg)}) is None  # nothing anywhere
    (xdg / "digestbot").mkdir(parents=True)
    (xdg / "digestbot" / "topics.toml").write_text("[[topic]]\nname = 'mine'\n")
    assert find_config_dir(None, {"XDG_CONFIG_HOME": str(xdg)}) == xdg / "digestbot"
    s = load_settings({"XDG_CONFIG_HOME": str(xdg)})
    assert [t.name for t in s.topics] == ["mine"]
    assert s.data_dir == xdg / "digestbot" / "data"  # a non-"config" folder holds its own paths
    (other / "config").mkdir()
    assert find_config_dir(None, {"XDG_CONFIG_HOME": str(xdg)}) == Path("config")  # ./config
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    env = {"DIGESTBOT_CONFIG_DIR": str(explicit), "XDG_CONFIG_HOME": str(xdg)}
    assert find_config_dir(None, env) == explicit
    assert find_config_dir(xdg, env) == xdg  # --config wins


def test_a_slack_subscription_may_name_its_workspace(config_dir: Path) -> None:
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'acme'\nchannel = 'C1'\nteam_id = ' T0ACME1 '\n"
        "[[subscription]]\nname = 'any'\nchannel = 'C2'\n"
    )
    acme, anywhere = load_settings({}, config_dir).subscriptions
    assert (acme.team_id, anywhere.team_id) == ("T0ACME1", None)


def test_a_url_source_is_named_by_host_and_path_never_its_secrets(tmp_path) -> None:
    from digests.config import load_settings

    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "sources.toml").write_text(
        '[[source]]\nfeed = "https://bob:hunter2@feeds.example/rss?api_key=k3y"\n'
        '[[source]]\nfeed = "https://feeds.example/rss?api_key=other"\n'
        '[[source]]\npage = "https://news.example/today"\n'
    )
    names = [s.name for s in load_settings({}, cfg).sources]
    assert names[2] == "news.example/today"
    # Same host and path: told apart by a digest, still without a secret.
    assert names[0] != names[1] and all(n.startswith("feeds.example/rss#") for n in names[:2])
    assert not any(secret in n for n in names for secret in ("bob", "hunter2", "k3y", "other"))
