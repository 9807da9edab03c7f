"""article_tags: declared_by, the source whose tags gave an article the tag

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08

A source's ``tags`` (sources.toml, ``sources add --tags``) were stored as any keyword tag, so a
re-tag by the learned topics took off a source's tag that is also a topic's name (a feed
tagged ``trade`` with ``trade`` in topics.toml) whenever the model disagreed. Such a tag is
the operator's word, not a guess: its row now names the source that declared it, and no
re-tag takes it off (a reader's "Not #topic" still does). Rows written before this are NULL
(read as keyword or source tags, as before).
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: SQLite and PostgreSQL add it in place.
    with op.batch_alter_table("article_tags") as batch:
        batch.add_column(sa.Column("declared_by", sa.String(length=200)))


def downgrade() -> None:
    with op.batch_alter_table("article_tags") as batch:
        batch.drop_column("declared_by")
