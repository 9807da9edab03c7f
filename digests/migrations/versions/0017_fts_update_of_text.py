"""SQLite: the search index is rewritten only when an article's title or body changes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

The FTS5 index's update trigger (0001) fired on every UPDATE of an article row, so setting
an article's story (every stored article, and every article of a story merged away) deleted
and re-tokenized its whole title and body: more than a tenth of ingest time. It now fires
only for ``UPDATE OF title, body``. PostgreSQL's generated search column is recomputed only
when the columns it reads change: nothing to do there.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BODY = (
    "BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
)


def _replace(event: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS articles_fts_au")
    op.execute(f"CREATE TRIGGER articles_fts_au AFTER {event} ON articles {_BODY}")


def upgrade() -> None:
    _replace("UPDATE OF title, body")


def downgrade() -> None:
    _replace("UPDATE")
