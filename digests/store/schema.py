"""Table definitions (SQLAlchemy Core). Alembic migrations in digests/migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)

# One naming convention so constraint names match across SQLite and PostgreSQL migrations.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite only autoincrements INTEGER keys

documents = Table(
    "documents",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("locator", Text, nullable=False, unique=True),  # file path or URL
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # added | duplicate | failed
    Column("error", Text),
    # The article it became, or (a duplicate) the one holding its text.
    Column("article_id", _ID, ForeignKey("articles.id", ondelete="SET NULL")),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_documents_article_id", "article_id"),  # 0014: copies in exports, deletes
    # 0015: the site or feed its text came under (a copy's own source; NULL: failed, or
    # recorded before 0015, when a copy counts as its article's source).
    Column("source", Text),
)

articles = Table(
    "articles",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("locator", Text, nullable=False),
    Column("body_hash", String(64), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("source", Text),
    Column("author", Text),
    Column("published", DateTime(timezone=True)),
    Column("url", Text),
    Column("body", Text, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("keyphrases", JSON, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Index("ix_articles_published", "published"),
    Index("ix_articles_dated", func.coalesce(text("published"), text("ingested_at")), "id"),  # 0002
    Column("story_id", _ID),  # 0012: the story (event) it belongs to; NULL: not assigned
    Index("ix_articles_story_id", "story_id", "id"),
    Index("ix_articles_ingested_at", "ingested_at", "id"),  # 0023: the re-tag's last week
    # Ids are watermarks: SQLite must never reuse the id of a deleted (replaced) article.
    sqlite_autoincrement=True,
)
# An article's time: published, else when stored (the SQL twin of StoredArticle.dated);
# ix_articles_dated above indexes exactly this expression.
article_time = func.coalesce(articles.c.published, articles.c.ingested_at)

article_tags = Table(
    "article_tags",
    metadata,
    Column("article_id", _ID, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("weight", Integer, nullable=False, default=1),  # mentions: picks the primary tag
    Column("confidence", Float),  # 0010: the learned tagger's probability (weight = 1000 × it)
    # 0020: the source whose tags gave it (a declared tag: no re-tag takes it off); NULL: none
    Column("declared_by", String(200)),
    Index("ix_article_tags_tag", "tag", "article_id"),
)

sentences = Table(
    "sentences",
    metadata,
    Column("article_id", _ID, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("text", Text, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("platform", String(16), nullable=False),  # slack | discord | cli
    Column("channel", Text, nullable=False),
    Column("topics", JSON, nullable=False),
    Column("cron", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("origin", String(16), nullable=False),  # config | chat | cli
    Column("enabled", Boolean, nullable=False, default=True),
    Column("watermark", BigInteger, nullable=False, default=0),  # last article id delivered
    Column("disabled_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The Slack workspace (team id) a chat subscription belongs to; NULL: config/CLI rows. 0004
    Column("team_id", String(32)),
    # Slack: post a digest as one headline message with its stories as replies (0007).
    Column("thread", Boolean, nullable=False, server_default=true()),
    Index("ix_subscriptions_team_id", "team_id"),
)

digest_runs = Table(
    "digest_runs",
    metadata,
    Column("id", _ID, primary_key=True),
    Column(
        "subscription_id", _ID, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("scheduled_for", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # claimed | queued | empty | failed
    Column("first_article", BigInteger),
    Column("last_article", BigInteger),
    # The unique pair is the exactly-once guard: a second replica's insert fails.
    UniqueConstraint("subscription_id", "scheduled_for", name="uq_digest_runs_slot"),
    Index("ix_digest_runs_status", "status", "claimed_at"),  # 0008: take-over, readiness
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("digest_key", String(200), nullable=False),  # run id or ad-hoc key: reconciles re-sends
    Column("part", Integer, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("channel", Text, nullable=False),
    Column("payload", JSON, nullable=False),  # rendered message(s), platform specific
    Column("status", String(16), nullable=False),  # pending | sending | sent | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("remote_id", Text),  # Slack message ts / Discord message id
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("team_id", String(32)),  # whose token sends it (multi-workspace installs); 0004
    # Claims (migration 0005): while ``sending``, next_attempt_at is the lease expiry and
    # claimed_by the holder's token; a lapsed lease means "outcome unknown: reconcile first".
    Column("claimed_by", String(200)),
    Column("subscription", String(200)),  # who queued it: undeliverable articles go back there
    Column("article_ids", JSON),  # the articles this part shows (per-article accounting)
    Column("parent_id", _ID),  # a row that must wait for another (a reply needs its parent ts)
    # 0011: when the outcome became unknown, and how often the channel was looked at since.
    Column("unknown_since", DateTime(timezone=True)),
    Column("checks", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("digest_key", "part", name="uq_outbox_key_part"),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
    Index("ix_outbox_channel_queue", "platform", "channel", "status", "id"),
    Index("ix_outbox_status_created", "status", "created_at"),  # 0025: retention of sent rows
)

sources = Table(
    "sources",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("location", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_polled_at", DateTime(timezone=True)),
    Column("last_ok_at", DateTime(timezone=True)),
    # 0003: the poll schedule, shared by replicas (digests/store/sources.py, "claim").
    Column("origin", String(16)),  # config | cli | NULL (a URL ingested once by hand)
    Column("tags", JSON),
    Column("poll_seconds", Integer),
    Column("next_poll_at", DateTime(timezone=True)),  # NULL: not polled on a schedule
    Column("claimed_by", String(200)),
    Index("ix_sources_next_poll_at", "next_poll_at"),
)

feed_items = Table(
    "feed_items",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("source_id", _ID, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("identity", Text, nullable=False),  # guid, else link, else content hash
    Column("article_id", _ID, ForeignKey("articles.id", ondelete="SET NULL")),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source_id", "identity", name="uq_feed_items_identity"),
    # 0018: NULL once ingested (or given up); while the entry is retried, the polls it failed
    # (its article page down, say): such a row is not seen yet (store/feed_items.py).
    Column("failures", Integer),
    # 0022: a poll prunes its source's retry rows of entries its feed no longer lists
    Index(
        "ix_feed_items_retried",
        "source_id",
        "identity",
        postgresql_where=text("failures IS NOT NULL"),
        sqlite_where=text("failures IS NOT NULL"),
    ),
)

# Sealed secrets (DIGESTBOT_ENCRYPTION_KEY) are ~2.3x their plain length: token and webhook
# columns are this wide (0009), where slack_sdk's own shape has 200.
_SEALED = 1000

# Slack OAuth installs (0004). The shapes are slack_sdk's SQLAlchemy installation and state
# stores' own (slack_sdk.oauth.installation_store.sqlalchemy / state_store.sqlalchemy), so those
# stores run on our engine; tests/bot/test_oauth.py checks the two stay identical. Declared here,
# not built with slack_sdk's helpers, because digests/ never imports slack_sdk.
slack_installations = Table(
    "slack_installations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(_SEALED)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(_SEALED)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(_SEALED)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(_SEALED)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(_SEALED)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

slack_bots = Table(
    "slack_bots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(_SEALED)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(_SEALED)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
    Index("ix_slack_oauth_states_state", "state"),  # 0009: a callback looks its state up
    Index("ix_slack_oauth_states_expire_at", "expire_at"),  # 0009: expired rows are deleted
)

seen_requests = Table(  # 0009: ids of requests run once (Discord interactions; store/replays.py)
    "seen_requests",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_seen_requests_seen_at", "seen_at"),
)

leases = Table(  # 0026: work one process at a time does, e.g. the topic fit (store/locks.py)
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid:random, one per taking
    Column("expires_at", DateTime(timezone=True), nullable=False),  # renewed while held
)

channel_pace = Table(  # 0006: send pacing per channel, shared by replicas (store/pacing.py)
    "channel_pace",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("channel", String(_SEALED), primary_key=True),  # a sealed webhook URL on Discord
    Column("next_at", DateTime(timezone=True), nullable=False),
)

sealing = Table(  # 0024: which keys the last full sealing pass ran with (store/sealed.py)
    "sealing",
    metadata,
    # 1: the last full pass's keys; 2: the old-locator scrub done; -N: source N's scrub left
    # for when its key is given (store/sealed.py)
    Column("id", Integer, primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # Sealer.fingerprint, never a key
)


topic_models = Table(  # 0010: each fit of the topic classifier; the newest is in use
    "topic_models",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("fitted_at", DateTime(timezone=True), nullable=False),
    Column("articles", Integer, nullable=False),
    Column("max_article_id", _ID, nullable=False),  # newest article the fit saw
    Column("topics_key", String(64), nullable=False),  # hash of the topic config it learned
    Column("feedback_id", _ID, nullable=False),  # newest correction it learned from (0: none)
    Column("model", LargeBinary, nullable=False),  # digests.learn.TopicModel.to_bytes()
)

topic_feedback = Table(  # 0010: reader corrections from chat, applied at the next refit
    "topic_feedback",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("article_id", _ID, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # not | more
    Column("user_id", String(64), nullable=False),
    Column("workspace", String(64), nullable=False),  # Slack team id / Discord guild id
    Column("platform", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # 0021: this reader's row on the article and topic it follows (0: the first), unique with
    # them: two replicas storing the same click at once store it once (insert-or-nothing).
    Column("previous_id", _ID, nullable=False, server_default="0"),
    Index("ix_topic_feedback_topic", "topic", "created_at"),
    Index(
        "uq_topic_feedback_word",
        "article_id",
        "topic",
        "user_id",
        "workspace",
        "platform",
        "previous_id",
        unique=True,
    ),
)

text_vectors = Table(  # 0016: sentence vectors of the texts a topic fit encoded (a cache)
    "text_vectors",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 of the encoder's name and the text
    Column("vector", LargeBinary, nullable=False),  # float16, digests.encode.DIMENSIONS of them
)

stories = Table(  # 0012: events across sources (digests/stories.py)
    "stories",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("headline", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),  # its articles' dates
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("article_count", Integer, nullable=False),
    Column("profile", JSON, nullable=False),  # {term: weight}: the strongest summed terms
    Column("merged_into", _ID),  # merged into this older story: its articles moved there
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_stories_last_seen", "last_seen"),
    # 0013: a merge repoints the stories merged into the one it merges away
    Index(
        "ix_stories_merged_into",
        "merged_into",
        postgresql_where=text("merged_into IS NOT NULL"),
        sqlite_where=text("merged_into IS NOT NULL"),
    ),
    sqlite_autoincrement=True,
)

story_terms = Table(  # 0012: the candidate index, a story's strongest terms
    "story_terms",
    metadata,
    Column("term", String(64), primary_key=True),
    Column("story_id", _ID, primary_key=True),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Index("ix_story_terms_term", "term", "last_seen"),
    Index("ix_story_terms_story_id", "story_id"),
)

story_posts = Table(  # 0012: what a subscription was shown of a story (developing stories)
    "story_posts",
    metadata,
    Column("subscription", String(200), primary_key=True),
    Column("story_id", _ID, primary_key=True),
    Column("sentences", JSON, nullable=False),  # every sentence posted about it so far
    Column("messages", JSON, nullable=False),  # {"platform channel": outbox row id}
    Column("posted_at", DateTime(timezone=True), nullable=False),
)


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes come back naive from SQLite: they were stored as UTC, so say so."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
