"""What the gate keeps in memory for one key."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import Environment
from keyseal.domain.permissions import Permission
from keyseal.gate.signer import PrekeyedHmac


@dataclass(slots=True)
class PreviousSecret:
    """A rotated key's previous secret, verifying beside the new one until ``ends_ms``: the
    first of the grace deadline and ``silence_ms`` after its last use (docs/decisions/0007).
    Uses seen by this process move ``ends_ms`` at once; other processes' uses reach it when
    the entry is reloaded, and the sweeper retires the secret from the store's record."""

    secret: bytes = field(repr=False)
    #: None: the key's current passphrase goes with it too
    passphrase_hash: str | None = field(repr=False)
    grace_until_ms: int
    silence_ms: int
    ends_ms: int
    passphrase_ok: bytes | None = field(default=None, repr=False)
    passphrase_bad: set[bytes] = field(default_factory=set, repr=False)

    def live(self, now_ms: int) -> bool:
        return now_ms < self.ends_ms

    def used(self, at_ms: int) -> None:
        self.ends_ms = max(self.ends_ms, min(self.grace_until_ms, at_ms + self.silence_ms))


@dataclass(slots=True)
class KeyEntry:
    """Everything verification needs, so a warm request touches no database."""

    api_key: str
    account_id: int
    uid: str
    main_uid: str
    label: str
    secret: bytes = field(repr=False)
    passphrase_hash: str = field(repr=False)
    permission: Permission
    allowlist: IpAllowlist
    environment: Environment
    frozen: bool
    master_id: int | None
    kyc_level: int
    sub_account_access: bool
    #: keyed digests of a passphrase argon2 accepted / refused, so each is hashed once
    passphrase_ok: bytes | None = field(default=None, repr=False)
    permission_bits: int = 0  # int(permission), set at creation: IntFlag tests are slow
    passphrase_bad: set[bytes] = field(default_factory=set, repr=False)
    #: a 50113 tells the caller what was hashed (always for demo keys: see ``explains``)
    explain_signatures: bool = False
    #: while a rotation's overlap lasts, the previous secret
    previous: PreviousSecret | None = None
    #: HMAC-SHA256 already keyed with ``secret`` (gate/signer.py), for the warm path
    signer: PrekeyedHmac = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.permission_bits = int(self.permission)
        self.signer = PrekeyedHmac(self.secret)

    @property
    def explains(self) -> bool:
        """Whether a 50113 to this key carries the prehash breakdown."""
        return self.explain_signatures or self.environment is Environment.DEMO

    @property
    def is_sub(self) -> bool:
        return self.master_id is not None
