"""outbox: lease claims, per-article accounting, parent rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

* ``claimed_by``: the claim token of the deliverer holding a ``sending`` row; for such a row
  ``next_attempt_at`` is the lease expiry. Only the holder may record the outcome, and a
  row whose lease ran out is reconciled with the channel before it is sent again.
* ``subscription`` + ``article_ids``: which subscription queued a part and which articles it
  shows, so a part that can never be delivered hands its articles to the next digest.
* ``parent_id``: a row that must follow another (e.g. a thread reply needs its parent's ts).
* ``ix_outbox_channel_queue``: the head of each channel's queue (oldest unfinished row).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("subscription", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("article_ids", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_index(
            "ix_outbox_channel_queue", ["platform", "channel", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_queue")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("article_ids")
        batch_op.drop_column("subscription")
        batch_op.drop_column("claimed_by")
