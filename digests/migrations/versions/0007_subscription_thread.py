"""subscriptions.thread: a Slack digest as a headline with its stories as replies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

On by default (existing subscriptions too): a 30-story digest is one message in the channel.
A subscription with ``thread = false`` in config/subscriptions.toml posts its parts flat.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("thread", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("thread")
