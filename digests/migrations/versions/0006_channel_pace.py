"""channel_pace: per-channel send pacing shared by replicas

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

One row per (platform, channel): the earliest moment the next message may be sent. A sender
reserves a slot with ``store.pacing.reserve`` (row locked while it moves the moment on), so
Slack's ~1 message/s per channel holds across every replica, not only within one process.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_pace",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "channel", name=op.f("pk_channel_pace")),
    )


def downgrade() -> None:
    op.drop_table("channel_pace")
