"""index articles by date (published, else ingested)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

brief() asks for the newest articles carrying a tag. For a common tag the store walks
this index newest first and stops after the first few dozen tagged rows, instead of
sorting every tagged article: at 100k articles that was the largest part of a brief.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_articles_dated",
        "articles",
        [sa.text("coalesce(published, ingested_at)"), "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_articles_dated", table_name="articles")
