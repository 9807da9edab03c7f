"""documents: source, the site or feed a document's text came under

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

A text is stored once: a second document with the same text (the same wire story carried by
another feed) is a duplicate whose row names the article holding it (0014). Its own source was
not kept, so a story five outlets carried counted one source in the digest and in
``digestbot stories``. Ingest now records the source of every document it stored or found to be
a copy; rows written before this are NULL (read as the article's own source).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: SQLite and PostgreSQL add it in place, without
    # rewriting the table.
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("source", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("source")
