"""topic_feedback: previous_id, unique per reader's word, so a click is stored once

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08

A correction was stored unless the reader's newest row on the article and topic already said
the same: a read, then a write, so two replicas handling the same click at once both stored it.
Each row now names the reader's row it follows (``previous_id``; 0: the first), and no two rows
of a reader on an article and topic follow the same one: the second writer's insert does
nothing. Rows stored before are chained in id order; a row saying what the row before it said
(such a duplicate) is dropped, as a second click stores nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WORD = ["article_id", "topic", "user_id", "workspace", "platform"]


def upgrade() -> None:
    with op.batch_alter_table("topic_feedback") as batch:
        batch.add_column(sa.Column("previous_id", _ID, nullable=False, server_default="0"))
    fb = sa.table(
        "topic_feedback",
        sa.column("id", _ID),
        sa.column("kind", sa.String()),
        sa.column("previous_id", _ID),
        *(sa.column(name, sa.String()) for name in _WORD),
    )
    conn = op.get_bind()
    last: dict[tuple, tuple[int, str]] = {}
    dropped: list[int] = []
    chained: list[dict] = []
    rows = conn.execute(sa.select(fb.c.id, fb.c.kind, *(fb.c[n] for n in _WORD)).order_by(fb.c.id))
    for row in rows:
        key = tuple(row[2:])
        before = last.get(key)
        if before is not None and before[1] == row.kind:
            dropped.append(int(row.id))
            continue
        if before is not None:
            chained.append({"row": int(row.id), "previous": before[0]})
        last[key] = (int(row.id), str(row.kind))
    for start in range(0, len(dropped), 500):
        conn.execute(sa.delete(fb).where(fb.c.id.in_(dropped[start : start + 500])))
    if chained:
        conn.execute(
            sa.update(fb)
            .where(fb.c.id == sa.bindparam("row"))
            .values(previous_id=sa.bindparam("previous")),
            chained,
        )
    # A unique index, not a constraint: SQLite adds it in place (no copy of the table).
    op.create_index(
        "uq_topic_feedback_word", "topic_feedback", [*_WORD, "previous_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_topic_feedback_word", table_name="topic_feedback")
    with op.batch_alter_table("topic_feedback") as batch:
        batch.drop_column("previous_id")
