"""The use cases, as data. An entry point (the OKX routes, the CLI, the dashboard) parses its
input into one of these; one service function takes it and carries it out in one
transaction. Secrets they carry stay out of their reprs."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal

from keyseal.domain.actors import OPERATOR, Actor
from keyseal.domain.expiry import ExpiryPolicy
from keyseal.domain.keys import Environment, KeyStatus
from keyseal.domain.orders import OrderRequest


# -- accounts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreateAccount:
    email: str
    password: str = field(repr=False)
    _: KW_ONLY
    kyc_level: int = 0
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class SetKycLevel:
    email: str
    level: int
    _: KW_ONLY
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class SetRestricted:
    email: str
    restricted: bool
    _: KW_ONLY
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class CreateSubAccount:
    master_email: str
    name: str
    _: KW_ONLY
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class EnrollTwoFactor:
    """Start (or restart) TOTP enrolment; while 2FA is on, restarting needs a current code."""

    email: str
    _: KW_ONLY
    code: str | None = field(default=None, repr=False)
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class ConfirmTwoFactor:
    email: str
    code: str = field(repr=False)
    _: KW_ONLY
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class DisableTwoFactor:
    """Turn TOTP off, which voids the recovery codes; needs a current or a recovery code."""

    email: str
    code: str | None = field(repr=False)
    _: KW_ONLY
    actor: Actor = OPERATOR


# -- keys ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreateKey:
    """A key for the account with this email, or for its sub-account ``sub``."""

    account: str
    _: KW_ONLY
    label: str
    passphrase: str = field(repr=False)
    perm: str = "read_only"
    ip: str | None = None
    demo: bool = False
    sub: str | None = None
    sub_account_access: bool = False
    actor: Actor = OPERATOR
    totp_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EditKey:
    """Label and/or IP allow-list (``ip=""`` unbinds); ``perm``/``passphrase`` are refused."""

    api_key: str
    _: KW_ONLY
    label: object = None
    ip: object = None
    perm: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    actor: Actor = OPERATOR
    totp_code: str | None = field(default=None, repr=False)
    #: tell what the server hashed on a 50113 (``None``: leave as it is)
    explain_signatures: bool | None = None


@dataclass(frozen=True)
class SetKeyStatus:
    api_key: str
    status: KeyStatus
    _: KW_ONLY
    actor: Actor = OPERATOR
    totp_code: str | None = None


@dataclass(frozen=True)
class DeleteKey:
    api_key: str
    _: KW_ONLY
    actor: Actor = OPERATOR
    totp_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RegenerateKey:
    api_key: str
    _: KW_ONLY
    passphrase: str = field(repr=False)
    disable_old: bool = False
    actor: Actor = OPERATOR
    totp_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RotateKey:
    """A new secret (and, with ``new_passphrase``, a new passphrase) for the same key id; the
    current secret verifies beside it for ``grace_ms`` at most (None: the setting; 0: not at
    all). ``force`` replaces a previous secret that still verifies."""

    api_key: str
    _: KW_ONLY
    grace_ms: int | None = None
    new_passphrase: str | None = field(default=None, repr=False)
    force: bool = False
    actor: Actor = OPERATOR
    totp_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FinishRotation:
    """End a rotation's overlap now: the previous secret stops verifying."""

    api_key: str
    _: KW_ONLY
    actor: Actor = OPERATOR
    totp_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RetireOldSecrets:
    """The sweeper's part in rotation: retire every previous secret whose time is up."""

    _: KW_ONLY
    as_of_ms: int | None = None
    dry_run: bool = False
    batch: int = 500


@dataclass(frozen=True)
class SweepIdleKeys:
    _: KW_ONLY
    as_of_ms: int | None = None
    dry_run: bool = False
    batch: int = 500


@dataclass(frozen=True)
class SetExpiryPolicy:
    """Store the inactivity rule; ``dry_run`` only counts the keys it would delete now."""

    policy: ExpiryPolicy
    _: KW_ONLY
    dry_run: bool = False
    actor: Actor = OPERATOR


# -- a master key managing its sub-accounts' keys (OKX's endpoints) -----------------------
# The actor is the calling master key: its account and environment bound what it may touch.
@dataclass(frozen=True)
class CreateSubKey:
    actor: Actor
    sub: str
    _: KW_ONLY
    label: str
    passphrase: str = field(repr=False)
    perm: str = "read_only"
    ip: object = None


@dataclass(frozen=True)
class ListSubKeys:
    actor: Actor
    sub: str
    _: KW_ONLY
    api_key: str | None = None


@dataclass(frozen=True)
class EditSubKey:
    actor: Actor
    sub: str
    api_key: str
    _: KW_ONLY
    label: object = None
    ip: object = None
    perm: str | None = None


@dataclass(frozen=True)
class DeleteSubKey:
    actor: Actor
    sub: str
    api_key: str


# -- ledger --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Owner:
    """Whose money: an account in one environment (demo money is separate from live)."""

    account_id: int
    environment: Environment


@dataclass(frozen=True)
class Credit:
    """The operator adds funds (a deposit, in sandbox terms) to the account with this email,
    or to its sub-account ``sub``."""

    account: str
    ccy: str
    amount: str
    _: KW_ONLY
    environment: Environment = Environment.LIVE
    sub: str | None = None
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class PlaceOrder:
    owner: Owner
    order: OrderRequest
    _: KW_ONLY
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class CancelOrder:
    owner: Owner
    inst_id: str
    ord_id: str | None = None
    cl_ord_id: str | None = None
    _: KW_ONLY
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class Withdraw:
    owner: Owner
    ccy: str
    amount: Decimal
    dest: str
    to_addr: str
    _: KW_ONLY
    chain: str | None = None
    client_id: str = ""
    actor: Actor = OPERATOR


@dataclass(frozen=True)
class TransferBetweenSubs:
    """A master key moves funds from one of its sub-accounts to another."""

    actor: Actor
    ccy: str
    amount: Decimal
    from_sub: str
    to_sub: str
