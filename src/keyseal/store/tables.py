"""The schema. Times are integer milliseconds since the epoch (OKX's ``ts``); amounts are
exact decimal strings, because SQLite has no exact numeric type."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(20), nullable=False, unique=True),
    Column("email", String(254), unique=True),
    Column("password_hash", Text),
    Column("kyc_level", Integer, nullable=False, default=0),
    Column("restricted", Boolean, nullable=False, default=False),
    Column("master_id", Integer, ForeignKey("accounts.id"), index=True),
    Column("sub_name", String(20)),
    Column("created_ms", BigInteger, nullable=False),
    # TOTP: the seed sealed like an API secret; the last accepted time step, so no code
    # is accepted twice; a pending seed until the first code confirms enrolment
    Column("totp_sealed", LargeBinary),
    Column("totp_pending_sealed", LargeBinary),
    Column("totp_last_step", BigInteger),
    UniqueConstraint("master_id", "sub_name", name="uq_accounts_sub_name"),
)

recovery_codes = Table(
    "recovery_codes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("used_ms", BigInteger),
)

# Failed logins are counted per email, whether or not the account exists, so throttling
# and lock-out tell an attacker nothing about which emails are real.
login_failures = Table(
    "login_failures", metadata,
    Column("email", String(254), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_ms", BigInteger, nullable=False),
    Column("locked_until_ms", BigInteger),
)

# Settings that every process must agree on (e.g. the inactivity policy), kept with the data.
meta = Table(
    "meta", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("source_ip", String(45)),
    Column("account_id", Integer, index=True),
    Column("api_key", String(36), index=True),
    Column("details", Text, nullable=False, default="{}"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("api_key", String(36), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("label", String(50), nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("passphrase_hash", Text, nullable=False),
    Column("perm", Integer, nullable=False),
    Column("ips", Text, nullable=False, default=""),
    Column("environment", String(4), nullable=False),
    Column("status", String(8), nullable=False),
    Column("sub_account_access", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_used_ms", BigInteger),
    Column("last_used_ip", String(45)),
    # when the inactivity rule deletes this key; NULL for keys it does not apply to, so
    # the sweeper reads only the keys it removes
    Column("expires_ms", BigInteger, index=True),
    # a 50113 to this key says what the server hashed (demo keys always do)
    Column("explain_signatures", Boolean, nullable=False, default=False,
           server_default=false()),
    # rotation (docs/decisions/0007): the previous secret, sealed exactly as secret_sealed,
    # verifies until it has been silent for KEYSEAL_ROTATION_SILENCE_S or prev_expires_ms
    # (the grace deadline, indexed: the retiring sweeper reads only keys in an overlap)
    Column("prev_secret_sealed", LargeBinary),
    Column("prev_passphrase_hash", Text),  # NULL: the current passphrase goes with it
    Column("rotated_ms", BigInteger),
    Column("prev_expires_ms", BigInteger, index=True),
    Column("prev_last_used_ms", BigInteger),
    Column("prev_last_used_ip", String(45)),
    Column("prev_ended_ms", BigInteger),
    UniqueConstraint("account_id", "label", name="uq_api_keys_label"),
)

# Requests per key, UTC day and result code ("0" let through, else the refusal's OKX code),
# for the key's activity chart. Each process adds its in-memory counts in batches (an
# upsert that adds, so processes sharing the store sum). Rows go with their key.
key_daily_usage = Table(
    "key_daily_usage", metadata,
    Column("api_key", String(36), ForeignKey("api_keys.api_key", ondelete="CASCADE"),
           primary_key=True),
    Column("day", Date, primary_key=True),
    Column("code", String(8), primary_key=True),
    Column("count", BigInteger, nullable=False),
    # the sweeper forgets days past the longest chart: it reads only the rows it removes
    Index("ix_key_daily_usage_day", "day"),
)

balances = Table(
    "balances", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("environment", String(4), primary_key=True),
    Column("ccy", String(16), primary_key=True),
    Column("cash", String(64), nullable=False),
    Column("frozen", String(64), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("environment", String(4), nullable=False),
    Column("ccy", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("cash_delta", String(64), nullable=False),
    Column("frozen_delta", String(64), nullable=False),
    Column("ref", String(64), nullable=False, default=""),
    Column("ts_ms", BigInteger, nullable=False),
    Index("ix_ledger_account", "account_id", "environment", "ccy"),
)

orders = Table(
    "orders", metadata,
    Column("ord_id", String(20), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("environment", String(4), nullable=False),
    Column("inst_id", String(32), nullable=False),
    Column("cl_ord_id", String(32), nullable=False, default=""),
    Column("tag", String(16), nullable=False, default=""),
    Column("side", String(4), nullable=False),
    Column("ord_type", String(16), nullable=False),
    Column("px", String(64), nullable=False),
    Column("sz", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("frozen_ccy", String(16), nullable=False),
    Column("frozen_amount", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_orders_open", "account_id", "environment", "state"),
)

withdrawals = Table(
    "withdrawals", metadata,
    Column("wd_id", String(20), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("ccy", String(16), nullable=False),
    Column("chain", String(32), nullable=False),
    Column("amount", String(64), nullable=False),
    Column("fee", String(64), nullable=False),
    Column("to_addr", String(256), nullable=False),
    Column("dest", String(2), nullable=False),
    Column("client_id", String(32), nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
)

# Every key or account change that the gate must see writes a row here in the same
# transaction; every serving process follows this log, so none misses a change.
key_changes = Table(
    "key_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("api_key", String(36)),
    Column("account_id", Integer),
    Column("kind", String(16), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
)

# One row per master-key version in use: a fingerprint (an HMAC under that version's key,
# never the key), so a process whose keyring is another one refuses to start.
master_keys = Table(
    "master_keys", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)
