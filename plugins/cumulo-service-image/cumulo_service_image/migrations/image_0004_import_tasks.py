"""Image tasks of interoperable imports: the image, request and user each belongs to.

Revision ID: image_0004
Revises: image_0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "image_0004"
down_revision = "image_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("image_tasks", sa.Column("image_id", sa.String(36)))
    op.add_column("image_tasks", sa.Column("request_id", sa.String(64)))
    op.add_column("image_tasks", sa.Column("user_id", sa.String(64)))
    op.create_index("ix_image_tasks_image_id", "image_tasks", ["image_id"])


def downgrade() -> None:
    op.drop_index("ix_image_tasks_image_id", "image_tasks")
    with op.batch_alter_table("image_tasks") as batch:
        batch.drop_column("user_id")
        batch.drop_column("request_id")
        batch.drop_column("image_id")
