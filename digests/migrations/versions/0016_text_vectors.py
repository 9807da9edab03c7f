"""text_vectors: sentence vectors a topic fit computed, kept for the next fit

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

A topic fit encodes a sample of up to 2,000 articles with a sentence encoder (digests/encode.py),
40-80 texts a second on two cores. The sample is chosen by a hash of each text, so it changes
little from one refit to the next; keeping the vectors means a refit encodes only the texts new
to it. Rows are keyed by a hash of the encoder's name and the text; a fit drops the vectors it no
longer uses, so the table holds at most one sample.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_vectors",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_text_vectors")),
    )


def downgrade() -> None:
    op.drop_table("text_vectors")
