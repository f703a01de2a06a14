"""Add item_labels: the classifier's head-attire labels per image and model version.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=255), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("type_confidence", sa.Float(), nullable=False),
        sa.Column("colour", sa.String(length=64), nullable=False),
        sa.Column("colour_confidence", sa.Float(), nullable=False),
        sa.Column("pattern", sa.String(length=64), nullable=False),
        sa.Column("pattern_confidence", sa.Float(), nullable=False),
        sa.Column("material", sa.String(length=64), nullable=False),
        sa.Column("material_confidence", sa.Float(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["item_images.id"],
            name=op.f("fk_item_labels_image_id_item_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_labels")),
        sa.UniqueConstraint("image_id", "model_version", name=op.f("uq_item_labels_image_id")),
    )
    with op.batch_alter_table("item_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_labels_image_id"), ["image_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_item_labels_model_version"), ["model_version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("item_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_labels_model_version"))
        batch_op.drop_index(batch_op.f("ix_item_labels_image_id"))

    op.drop_table("item_labels")
