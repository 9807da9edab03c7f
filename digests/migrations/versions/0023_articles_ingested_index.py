"""articles: index by when stored, for the re-tag of the last week's undelivered articles

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

A refit, a topic added and a source's changed tags re-tag the articles stored in the last
week that no digest showed (``Topics.recent_undelivered``). Nothing indexed ``ingested_at``,
so finding that week was a pass over every article ever stored (100k articles: a SCAN of
them all, on SQLite and PostgreSQL alike). Read by this index newest first, the work grows
with the week (and stops at the limit), not with the store.
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_ingested_at", "articles", ["ingested_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_articles_ingested_at", table_name="articles")
