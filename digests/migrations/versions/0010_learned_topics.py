"""learned topics: tag confidences, the fitted topic model, reader corrections

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``article_tags.confidence``: the learned tagger's probability (NULL for keyword and source
tags). ``topic_models``: each fit of the topic classifier (digests/learn/) as plain arrays;
the newest row is the one in use. ``topic_feedback``: "Not #topic" / "More like this" from
chat, with who gave it and from which workspace; a refit applies it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("article_tags") as batch:
        batch.add_column(sa.Column("confidence", sa.Float(), nullable=True))
    op.create_table(
        "topic_models",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("max_article_id", _ID, nullable=False),
        sa.Column("topics_key", sa.String(length=64), nullable=False),
        sa.Column("feedback_id", _ID, nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_models")),
    )
    op.create_table(
        "topic_feedback",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_topic_feedback_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_feedback")),
    )
    op.create_index("ix_topic_feedback_topic", "topic_feedback", ["topic", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_topic_feedback_topic", table_name="topic_feedback")
    op.drop_table("topic_feedback")
    op.drop_table("topic_models")
    with op.batch_alter_table("article_tags") as batch:
        batch.drop_column("confidence")
