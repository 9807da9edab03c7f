"""feed_items: a partial index on the entries being retried, for pruning them each poll

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08

A row of an entry still being retried (``failures`` set, 0018) was kept until the entry was
ingested or given up, so the row of an entry that dropped out of its feed before that stayed
for ever. A poll now deletes its source's retry rows of entries the feed no longer lists. They
are few beside the entries seen, so the index is partial and small: the poll reads them
without a pass over every entry the source ever had.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_RETRIED = sa.text("failures IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_feed_items_retried",
        "feed_items",
        ["source_id", "identity"],
        postgresql_where=_RETRIED,
        sqlite_where=_RETRIED,
    )


def downgrade() -> None:
    op.drop_index("ix_feed_items_retried", table_name="feed_items")
