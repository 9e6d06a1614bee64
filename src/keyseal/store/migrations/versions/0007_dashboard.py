"""The dashboard: browser sessions (only a hash of each session id is kept), WebAuthn
security keys registered as a second factor, and the one-time grants a security key's
answer gives to a key change.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        # SHA-256 of the cookie's random value: a copy of the database opens no session
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False,
                  index=True),
        # "2fa": the password was right, a second factor is still due; "full": logged in
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False, index=True),
        sa.Column("ip", sa.String(45)),
        # the WebAuthn challenge this session was last given, until it is answered
        sa.Column("challenge", sa.String(128)),
        # a created key's credentials between the POST that made them and the one page that
        # shows them, sealed with the master key (so any worker can show them once)
        sa.Column("reveal_sealed", sa.LargeBinary()),
        sa.Column("reveal_until_ms", sa.BigInteger()),
    )
    op.create_table(
        "security_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False,
                  index=True),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(50), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_used_ms", sa.BigInteger()),
    )


    # a security key's answer to "confirm this action": a one-time code (only its SHA-256
    # is kept) that a use case accepts in place of an authenticator code, for two minutes
    op.create_table(
        "second_factor_grants",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False,
                  index=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("second_factor_grants")
    op.drop_table("security_keys")
    op.drop_table("web_sessions")
