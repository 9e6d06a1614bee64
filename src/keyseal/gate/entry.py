"""What the gate keeps in memory for one key."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import Environment
from keyseal.domain.permissions import Permission


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

    def __post_init__(self) -> None:
        self.permission_bits = int(self.permission)

    @property
    def explains(self) -> bool:
        """Whether a 50113 to this key carries the prehash breakdown."""
        return self.explain_signatures or self.environment is Environment.DEMO

    @property
    def is_sub(self) -> bool:
        return self.master_id is not None
