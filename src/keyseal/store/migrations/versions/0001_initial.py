"""Initial schema: accounts, API keys, the ledger, orders, withdrawals, the change log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=20), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('kyc_level', sa.Integer(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('master_id', sa.Integer(), nullable=True),
    sa.Column('sub_name', sa.String(length=20), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['master_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email'),
    sa.UniqueConstraint('master_id', 'sub_name', name='uq_accounts_sub_name'),
    sa.UniqueConstraint('uid')
    )
    op.create_index(op.f('ix_accounts_master_id'), 'accounts', ['master_id'], unique=False)
    op.create_table('key_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('api_key', sa.String(length=36), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ts_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('api_key', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=50), nullable=False),
    sa.Column('secret_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('passphrase_hash', sa.Text(), nullable=False),
    sa.Column('perm', sa.Integer(), nullable=False),
    sa.Column('ips', sa.Text(), nullable=False),
    sa.Column('environment', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('sub_account_access', sa.Boolean(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('last_used_ms', sa.BigInteger(), nullable=True),
    sa.Column('last_used_ip', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'label', name='uq_api_keys_label'),
    sa.UniqueConstraint('api_key')
    )
    op.create_index(op.f('ix_api_keys_account_id'), 'api_keys', ['account_id'], unique=False)
    op.create_table('balances',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=4), nullable=False),
    sa.Column('ccy', sa.String(length=16), nullable=False),
    sa.Column('cash', sa.String(length=64), nullable=False),
    sa.Column('frozen', sa.String(length=64), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'environment', 'ccy')
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=4), nullable=False),
    sa.Column('ccy', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('cash_delta', sa.String(length=64), nullable=False),
    sa.Column('frozen_delta', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('ts_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ledger_account', 'ledger_entries', ['account_id', 'environment', 'ccy'], unique=False)
    op.create_table('orders',
    sa.Column('ord_id', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=4), nullable=False),
    sa.Column('inst_id', sa.String(length=32), nullable=False),
    sa.Column('cl_ord_id', sa.String(length=32), nullable=False),
    sa.Column('tag', sa.String(length=16), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('ord_type', sa.String(length=16), nullable=False),
    sa.Column('px', sa.String(length=64), nullable=False),
    sa.Column('sz', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('frozen_ccy', sa.String(length=16), nullable=False),
    sa.Column('frozen_amount', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('ord_id')
    )
    op.create_index('ix_orders_open', 'orders', ['account_id', 'environment', 'state'], unique=False)
    op.create_table('withdrawals',
    sa.Column('wd_id', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ccy', sa.String(length=16), nullable=False),
    sa.Column('chain', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.String(length=64), nullable=False),
    sa.Column('fee', sa.String(length=64), nullable=False),
    sa.Column('to_addr', sa.String(length=256), nullable=False),
    sa.Column('dest', sa.String(length=2), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('ts_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('wd_id')
    )
    op.create_index(op.f('ix_withdrawals_account_id'), 'withdrawals', ['account_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_withdrawals_account_id'), table_name='withdrawals')
    op.drop_table('withdrawals')
    op.drop_index('ix_orders_open', table_name='orders')
    op.drop_table('orders')
    op.drop_index('ix_ledger_account', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_table('balances')
    op.drop_index(op.f('ix_api_keys_account_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('key_changes')
    op.drop_index(op.f('ix_accounts_master_id'), table_name='accounts')
    op.drop_table('accounts')
