"""feed_items: failures, the polls an entry not yet ingested has failed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

An entry whose document failed (its article page answered 500, say) was left unseen and tried
again at every poll, for ever: an entry whose page answered 404 was never stored, and its
feed's own text was lost. A failed entry now gets a row with the polls it failed; after a few
its feed's text is used (or it is given up) and the row is marked ingested (``failures`` NULL).
Existing rows are all ingested entries: NULL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: SQLite and PostgreSQL add it in place.
    with op.batch_alter_table("feed_items") as batch:
        batch.add_column(sa.Column("failures", sa.Integer()))


def downgrade() -> None:
    # Rows of entries still being retried were never ingested: without the column they
    # would read as seen.
    op.execute("DELETE FROM feed_items WHERE failures IS NOT NULL")
    with op.batch_alter_table("feed_items") as batch:
        batch.drop_column("failures")
