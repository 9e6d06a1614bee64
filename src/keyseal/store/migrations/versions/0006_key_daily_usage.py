"""Requests per key, UTC day and result code, for the key's activity chart; the rows go
with their key (ON DELETE CASCADE), and days past the longest chart go with the sweeper.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_daily_usage",
        sa.Column("api_key", sa.String(36),
                  sa.ForeignKey("api_keys.api_key", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("api_key", "day", "code", name="pk_key_daily_usage"),
    )
    op.create_index("ix_key_daily_usage_day", "key_daily_usage", ["day"])


def downgrade() -> None:
    op.drop_index("ix_key_daily_usage_day", "key_daily_usage")
    op.drop_table("key_daily_usage")
