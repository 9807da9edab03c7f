"""outbox: when an unknown outcome began and how often the channel was looked at since

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

A send whose outcome is unknown (a 5xx, a timeout, a deliverer that died mid-send) is sent
again only after the channel's history has been looked at more than once over a window
(Slack may apply a post tens of seconds after answering 5xx), and a channel whose history
cannot be read is shown as stuck after a bound (issue 25). Both need the time the outcome
became unknown and the number of looks, per row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("unknown_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("checks", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("checks")
        batch.drop_column("unknown_since")
