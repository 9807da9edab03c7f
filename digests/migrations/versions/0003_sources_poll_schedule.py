"""sources: poll schedule and claims in the row (replicas share the polling)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Each source's next poll time lives in its row. Replicas claim due rows in batches (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL); a claim moves ``next_poll_at`` one lease ahead, so a
killed replica's sources come due again when the lease runs out. ``origin`` says where a
polled source came from (``config``: sources.toml, ``cli``: ``digestbot sources add``);
rows without a ``next_poll_at`` (URLs ingested once by hand, sources removed from config)
are never claimed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("poll_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_sources_next_poll_at", ["next_poll_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index("ix_sources_next_poll_at")
        for name in ("claimed_by", "next_poll_at", "poll_seconds", "tags", "origin"):
            batch_op.drop_column(name)
