"""sealed secrets fit their columns; OAuth states indexed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

With ``DIGESTBOT_ENCRYPTION_KEY`` set, bot and refresh tokens and webhook URLs are stored
sealed (digests/sealing.py): a Fernet token is about 2.3 times its plain text, so the token
columns (200 wide in slack_sdk's shape) become 1000 wide; a sealed Discord webhook URL is the
channel key of ``channel_pace``. ``slack_oauth_states`` gets indexes on ``state`` (a callback
looks its state up) and ``expire_at`` (expired rows are deleted). ``seen_requests`` holds
the ids of requests run once (a replayed Discord interaction runs nothing, on any replica).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WIDE = {
    "slack_installations": (
        "bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
        "incoming_webhook_url",
    ),
    "slack_bots": ("bot_token", "bot_refresh_token"),
    "channel_pace": ("channel",),
}  # fmt: skip


def _resize(width: int) -> None:
    for table, columns in _WIDE.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column,
                    type_=sa.String(width),
                    existing_nullable=column != "channel",
                )


def upgrade() -> None:
    _resize(1000)
    op.create_index("ix_slack_oauth_states_state", "slack_oauth_states", ["state"])
    op.create_index("ix_slack_oauth_states_expire_at", "slack_oauth_states", ["expire_at"])
    op.create_table(
        "seen_requests",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seen_requests_seen_at", "seen_requests", ["seen_at"])


def downgrade() -> None:
    op.drop_table("seen_requests")
    op.drop_index("ix_slack_oauth_states_expire_at", table_name="slack_oauth_states")
    op.drop_index("ix_slack_oauth_states_state", table_name="slack_oauth_states")
    _resize(200)
