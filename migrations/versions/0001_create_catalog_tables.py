"""Create the catalog tables: items, images, customers, purchases, embeddings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "items",
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("product_type", sa.String(length=128), nullable=False),
        sa.Column("product_group", sa.String(length=128), nullable=False),
        sa.Column("pattern", sa.String(length=128), nullable=False),
        sa.Column("colour", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("section", sa.String(length=128), nullable=False),
        sa.Column("garment_group", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_items")),
    )
    op.create_table(
        "item_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["items.article_id"],
            name=op.f("fk_item_images_article_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_images")),
        sa.UniqueConstraint("article_id", "path", name=op.f("uq_item_images_article_id")),
    )
    with op.batch_alter_table("item_images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_images_article_id"), ["article_id"], unique=False)

    op.create_table(
        "purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("sales_channel", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["items.article_id"],
            name=op.f("fk_purchases_article_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_purchases_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchases_article_id"), ["article_id"], unique=False)
        batch_op.create_index(
            "ix_purchases_customer_id_purchased_on", ["customer_id", "purchased_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchases_purchased_on"), ["purchased_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_purchases_source"), ["source"], unique=False)

    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=255), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["item_images.id"],
            name=op.f("fk_embeddings_image_id_item_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint("image_id", "model_version", name=op.f("uq_embeddings_image_id")),
    )
    with op.batch_alter_table("embeddings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_embeddings_image_id"), ["image_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_embeddings_model_version"), ["model_version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_embeddings_model_version"))
        batch_op.drop_index(batch_op.f("ix_embeddings_image_id"))

    op.drop_table("embeddings")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchases_source"))
        batch_op.drop_index(batch_op.f("ix_purchases_purchased_on"))
        batch_op.drop_index("ix_purchases_customer_id_purchased_on")
        batch_op.drop_index(batch_op.f("ix_purchases_article_id"))

    op.drop_table("purchases")
    with op.batch_alter_table("item_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_images_article_id"))

    op.drop_table("item_images")
    op.drop_table("items")
    op.drop_table("customers")
