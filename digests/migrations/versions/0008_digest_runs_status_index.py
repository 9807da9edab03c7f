"""index digest_runs by (status, claimed_at)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Every replica looks for runs left ``claimed`` by a dead replica every 15 s
(``Subscriptions.take_over``), and ``/readyz`` and ``status`` list runs by status since a time
(``runs_with_status``). Without an index both read every run ever made: a year of 1,000
daily subscriptions is 365,000 rows.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_digest_runs_status", "digest_runs", ["status", "claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_digest_runs_status", table_name="digest_runs")
