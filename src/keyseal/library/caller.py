"""The verified caller a handler receives: who signed the request, never their secret."""

from __future__ import annotations

from dataclasses import dataclass

from keyseal.domain.keys import Environment
from keyseal.domain.permissions import Permission
from keyseal.gate.verifier import Principal


@dataclass(frozen=True, slots=True)
class Caller:
    """The key that signed a request and the account it belongs to.

    ``uid`` is the key's account (a sub-account's own uid for a sub-account key) and
    ``main_uid`` its main account. It holds no secret and no passphrase, so it is safe to
    log, return or pass to any code of the host application."""

    uid: str
    main_uid: str
    api_key: str
    label: str
    permission: Permission
    environment: Environment
    client_ip: str

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        key = principal.key
        return cls(key.uid, key.main_uid, key.api_key, key.label, key.permission,
                   principal.environment, principal.client_ip)

    @property
    def permissions(self) -> tuple[str, ...]:
        """OKX's names of what the key may do, e.g. ``("read_only", "trade")``."""
        return tuple(self.permission.wire().split(","))

    @property
    def demo(self) -> bool:
        return self.environment is Environment.DEMO

    def allows(self, needed: Permission) -> bool:
        return needed & self.permission == needed
