"""stories: events across sources; articles.story_id; the candidate index story_terms

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Each article joins a story (an event with its follow-ups) or starts one when it is stored
(digests/stories.py). ``stories.profile`` is the story's term vector (its members' summed
weights, the strongest kept); ``story_terms`` indexes each story's strongest terms with its
last date, so an article's candidate stories are a few index range scans, never a pass over
the window. A story merged into an older one keeps a row pointing at it (``merged_into``).
``story_posts``: what each subscription was shown of a story (its sentences, and the outbox
row of the message per destination), so an update quotes only what is new and replies in
the earlier story's thread. Existing articles keep ``story_id`` NULL: they are their own stories until re-assigned.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("merged_into", _ID),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_stories_last_seen", "stories", ["last_seen"])
    op.create_table(
        "story_terms",
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("story_id", _ID, nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("term", "story_id", name="pk_story_terms"),
    )
    op.create_index("ix_story_terms_term", "story_terms", ["term", "last_seen"])
    op.create_index("ix_story_terms_story_id", "story_terms", ["story_id"])
    op.create_table(
        "story_posts",
        sa.Column("subscription", sa.String(200), nullable=False),
        sa.Column("story_id", _ID, nullable=False),
        sa.Column("sentences", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription", "story_id", name="pk_story_posts"),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", _ID))
        batch_op.create_index("ix_articles_story_id", ["story_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_story_id")
        batch_op.drop_column("story_id")
    op.drop_table("story_posts")
    op.drop_table("story_terms")
    op.drop_table("stories")
