"""Installs into many Slack workspaces: Bolt's OAuth v2 flow on slack_sdk's SQLAlchemy stores.

The installation and state stores are slack_sdk's own (``SQLAlchemyInstallationStore``,
``SQLAlchemyOAuthStateStore``) on the bot's engine; their tables are created by our Alembic
migrations (digests/store/schema.py declares the same shapes). Those stores are synchronous —
slack_sdk's async variants need an ``AsyncEngine`` (python-slack-sdk#1276) — so the adapters
here await them in a worker thread, off the event loop.

Tokens are looked up per call (:class:`WorkspaceTokens`), never cached: once a workspace
uninstalls the app, its token is gone from the table and no call uses it again.

With ``DIGESTBOT_ENCRYPTION_KEY`` the tokens (bot, refresh, user) and webhook URLs are sealed
before they are written and opened after they are read (:class:`SealedInstallations`,
digests/sealing.py); without one, a save drops the ``sealing`` marker so that the next command
with the key seals what was written plain. OAuth states expire after 10 minutes; expired rows are deleted as new
ones are issued (:class:`ExpiringStates`), and the ``state`` column is indexed (0009).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from logging import Logger
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import desc, select

from bot.settings import BotSettings
from digests.sealing import Sealer
from digests.store import Store
from digests.store.schema import slack_bots
from digests.store.sealed import plain_secret_written

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Bot scopes asked for at install; keep in step with slack/manifest.yml.
SCOPES = (
    "commands", "chat:write", "chat:write.public", "channels:history", "groups:history",
    "channels:join",  # join a public channel to check an unknown outcome (not_in_channel)
)  # fmt: skip
STATE_SECONDS = 600  # an install link is good for 10 minutes (slack_sdk's default)
UNINSTALLED = "the app was uninstalled from this workspace"
REVOKED = "the workspace revoked the bot's token"


_SEALED_FIELDS = (
    "bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url",
)  # fmt: skip
_PRUNE_EVERY = 30.0  # seconds between deletions of expired OAuth states
_PRUNE_BATCH = 5_000  # expired states deleted at most per prune


def _with(obj: _T, change: Callable[[str | None], str | None]) -> _T:
    """A shallow copy of an Installation or Bot with its secret fields changed."""
    copied = copy.copy(obj)
    for name in _SEALED_FIELDS:
        if hasattr(copied, name):
            setattr(copied, name, change(getattr(copied, name)))
    return copied


class SealedInstallations(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store, with secrets sealed at rest."""

    def __init__(self, *, sealer: Sealer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sealer = sealer

    def save(self, installation: Installation) -> None:
        super().save(_with(installation, self.sealer.seal))
        self._written_plain()

    def save_bot(self, bot: Bot) -> None:
        super().save_bot(_with(bot, self.sealer.seal))
        self._written_plain()

    def _written_plain(self) -> None:
        """Without a key the tokens just went in plain: drop the marker of the last sealing
        pass, and the next command with the key seals them (digests/store/sealed.py)."""
        if not self.sealer.enabled:
            with self.engine.begin() as conn:
                plain_secret_written(conn)

    def find_bot(self, **kwargs: Any) -> Bot | None:
        found = super().find_bot(**kwargs)
        return _with(found, self.sealer.open) if found is not None else None

    def find_installation(self, **kwargs: Any) -> Installation | None:
        found = super().find_installation(**kwargs)
        return _with(found, self.sealer.open) if found is not None else None


class ExpiringStates(SQLAlchemyOAuthStateStore):
    """slack_sdk's SQLAlchemy state store; issuing also deletes expired states (at most every
    30 s, by the ``expire_at`` index), so install links cannot pile up rows."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock, self._pruned = clock, float("-inf")
        self._lock = threading.Lock()

    def issue(self, *args: Any, **kwargs: Any) -> str:
        self.prune()
        return super().issue(*args, **kwargs)

    def prune(self, *, force: bool = False) -> int:
        """Delete expired states (at most a batch); how many (0 when pruned less than 30 s ago,
        unless ``force``)."""
        with self._lock:
            if not force and self._clock() - self._pruned < _PRUNE_EVERY:
                return 0
            self._pruned = self._clock()
        # Stored naive UTC, as slack_sdk writes them.
        now = datetime.now(UTC).replace(tzinfo=None)
        table = self.oauth_states
        # At most a batch at a time: a table grown by an earlier flood is emptied over a few
        # prunes, never by one long delete that stalls this request and the database.
        expired = (
            select(table.c.id).where(table.c.expire_at <= now).limit(_PRUNE_BATCH).scalar_subquery()
        )
        with self.engine.begin() as conn:
            deleted = conn.execute(table.delete().where(table.c.id.in_(expired))).rowcount or 0
        if deleted >= _PRUNE_BATCH:
            with self._lock:
                self._pruned = float("-inf")  # more to delete: the next issue goes on
        return deleted


class AsyncInstallations(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store, awaited in a worker thread."""

    def __init__(self, sync: SQLAlchemyInstallationStore) -> None:
        self.sync = sync

    @property
    def logger(self) -> Logger:
        return self.sync.logger

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.sync.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.sync.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await asyncio.to_thread(
            self.sync.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.sync.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.sync.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(
            self.sync.delete_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class AsyncStates(AsyncOAuthStateStore):
    """slack_sdk's SQLAlchemy OAuth state store, awaited in a worker thread."""

    def __init__(self, sync: SQLAlchemyOAuthStateStore) -> None:
        self.sync = sync

    @property
    def logger(self) -> Logger:
        return self.sync.logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.sync.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.sync.consume, state)


class WorkspaceTokens:
    """The bot token of a workspace, read from the installations table on every call."""

    def __init__(self, store: Store, client_id: str) -> None:
        self._engine, self._client_id = store.engine, client_id
        self._sealer = store.sealer

    def bot_token(self, team_id: str | None) -> str | None:
        """The newest bot token installed for ``team_id``; None when it is not installed."""
        if not team_id:
            return None
        # By team alone: a workspace inside an Enterprise Grid org carries an enterprise id
        # too, and slack_sdk's find_bot would need it; a team id is unique on its own.
        query = (
            select(slack_bots.c.bot_token)
            .where(
                slack_bots.c.client_id == self._client_id,
                slack_bots.c.team_id == team_id,
                slack_bots.c.bot_token.is_not(None),
            )
            .order_by(desc(slack_bots.c.installed_at), desc(slack_bots.c.id))
            .limit(1)
        )
        with self._engine.connect() as conn:
            token = conn.scalar(query)
        return self._sealer.open(str(token)) if token else None

    async def async_bot_token(self, team_id: str | None) -> str | None:
        """:meth:`bot_token` off the event loop."""
        return await asyncio.to_thread(self.bot_token, team_id)


def authorize_url(api_url: str) -> str:
    """Slack's authorize page on the host of ``SLACK_API_URL`` (slack.com, GovSlack, a stand-in)."""
    parts = urlsplit(api_url)
    path = parts.path.rstrip("/")
    path = path[: -len("/api")] if path.endswith("/api") else path
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/oauth/v2/authorize", "", ""))


def oauth_settings(settings: BotSettings, store: Store) -> AsyncOAuthSettings:
    """Bolt's OAuth settings: /slack/install, /slack/oauth_redirect, stores on our engine."""
    assert settings.slack_client_id and settings.slack_client_secret
    installations = SealedInstallations(
        client_id=settings.slack_client_id, engine=store.engine, logger=log, sealer=store.sealer
    )
    states = ExpiringStates(expiration_seconds=STATE_SECONDS, engine=store.engine, logger=log)
    # Every value is passed explicitly: AsyncOAuthSettings reads os.environ for missing ones.
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect",
        authorization_url=authorize_url(settings.slack_api_url),
        installation_store=AsyncInstallations(installations),
        installation_store_bot_only=True,
        state_store=AsyncStates(states),
        state_expiration_seconds=STATE_SECONDS,
        logger=log,
    )


def register_install_listeners(
    app: AsyncApp, store: Store, *, unschedule: Callable[[str], None] | None
) -> None:
    """``app_uninstalled`` / ``tokens_revoked``: delete the installation, pause its digests."""
    installations = app.installation_store
    assert installations is not None

    async def pause(team_id: str | None, reason: str) -> None:
        if not team_id:
            return
        names = await asyncio.to_thread(store.subscriptions.pause_team, team_id, reason)
        for name in names:
            if unschedule is not None:
                unschedule(name)
        log.info("workspace %s: %s; %d subscription(s) paused", team_id, reason, len(names))

    async def uninstalled(context: Any) -> None:
        await installations.async_delete_all(
            enterprise_id=context.enterprise_id, team_id=context.team_id
        )
        await pause(context.team_id, UNINSTALLED)

    async def revoked(event: dict, context: Any) -> None:
        tokens = event.get("tokens") or {}
        for user_id in tokens.get("oauth") or []:
            await installations.async_delete_installation(
                enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id
            )
        if tokens.get("bot"):
            await installations.async_delete_bot(
                enterprise_id=context.enterprise_id, team_id=context.team_id
            )
            await installations.async_delete_installation(
                enterprise_id=context.enterprise_id, team_id=context.team_id
            )
            await pause(context.team_id, REVOKED)

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)
