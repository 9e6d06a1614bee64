"""Rotation under the same key id: the previous secret, sealed like the current one, verifies
beside it until it has been silent for a while or its grace deadline passes.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        # sealed with the master key and the key id as associated data, as secret_sealed is
        batch.add_column(sa.Column("prev_secret_sealed", sa.LargeBinary()))
        # NULL: the previous secret goes with the current passphrase
        batch.add_column(sa.Column("prev_passphrase_hash", sa.Text()))
        batch.add_column(sa.Column("rotated_ms", sa.BigInteger()))
        # the grace deadline; NULL when no previous secret verifies
        batch.add_column(sa.Column("prev_expires_ms", sa.BigInteger()))
        batch.add_column(sa.Column("prev_last_used_ms", sa.BigInteger()))
        batch.add_column(sa.Column("prev_last_used_ip", sa.String(45)))
        batch.add_column(sa.Column("prev_ended_ms", sa.BigInteger()))
        batch.create_index("ix_api_keys_prev_expires_ms", ["prev_expires_ms"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_prev_expires_ms")
        for column in ("prev_ended_ms", "prev_last_used_ip", "prev_last_used_ms",
                       "prev_expires_ms", "rotated_ms", "prev_passphrase_hash",
                       "prev_secret_sealed"):
            batch.drop_column(column)
