"""documents: an index on article_id, for the copies an export lists and for article deletes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

A document whose text was already stored (a duplicate) now names the article holding it, so
``digestbot articles`` lists that article under the copy's locator too (one query per page of
articles: ``article_id IN (...)``). Deleting an article (a changed file re-ingested) also sets
its documents' ``article_id`` to NULL; both were a pass over every document without this index.
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_article_id", "documents", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_documents_article_id", table_name="documents")
