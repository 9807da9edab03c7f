"""outbox: index by status and when queued, for the retention of finished rows

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

Sent rows were kept for ever. They are now deleted once older than ``[digest]
sent_kept_days`` (``Outbox.prune_finished``), a batch at a time. Nothing indexed
``created_at``: finding the old rows of a status was a pass over the whole outbox. By this
index, a batch reads the rows it deletes (and a few kept ones), however large the outbox.
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_status_created", "outbox", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_created", table_name="outbox")
