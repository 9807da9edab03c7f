"""sealing: which keys the last full sealing pass ran with

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

Stored secrets were sealed (and rows from before a key, or from a rotation's previous key,
sealed again) only when ``serve`` started: a store used by the terminal alone (``digestbot
ingest`` on cron) kept them plain. Every command that opens the store with a key now makes
sure of it, and this one row says it is done for these keys, so a command reads one row
rather than every secret (digests/store/sealed.py). A store upgraded to it has no row yet:
its first command with a key runs the pass, which also scrubs the feed URL secrets stored
before 5e7bfbc in feed_items, documents and articles.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sealing",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sealing")
