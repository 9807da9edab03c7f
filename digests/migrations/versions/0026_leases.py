"""leases: work one process at a time does, held by a renewed lease row (the topic fit)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

The topic fit was held by a PostgreSQL session advisory lock (a flock beside a SQLite file).
A session lock lives on one server connection: behind pgbouncer in transaction mode that
connection is handed to other clients between transactions, and an idle_session_timeout,
idle_in_transaction_session_timeout or pg_terminate_backend ends it during a minute-long fit
that does not touch it. The lock went with it and a second process fitted beside the first.
A row per lease (its holder and when it runs out, renewed by the holder's heartbeat) lives in
the table instead, on any connection, on SQLite and PostgreSQL alike (digests/store/locks.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
