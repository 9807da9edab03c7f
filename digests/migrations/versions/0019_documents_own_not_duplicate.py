"""documents: a file's own article is not a copy of itself

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

Two ingesters that read the same new file at once (replicas sharing a folder or a feed, a
`digestbot ingest` beside `serve`) both stored it: the second found its text stored, by the
first, under the very same locator, and its row overwrote the first's as a "duplicate" of
that article. `digestbot articles` then listed the file twice (the article, then the "copy"),
`digestbot stories` counted it twice, and a correction of the file was stored beside the old
version, which stayed (only an "added" row's article is replaced). Such rows are the
article's own again; ingest no longer writes them.
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE documents SET status = 'added' WHERE status = 'duplicate' AND EXISTS ("
        "SELECT 1 FROM articles WHERE articles.id = documents.article_id "
        "AND articles.locator = documents.locator)"
    )


def downgrade() -> None:
    pass  # the rows stay right: nothing to undo
