"""Who acts: every use case is asked for by an actor, and the audit trail names it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from keyseal.domain.keys import Environment


class ActorKind(enum.StrEnum):
    #: the CLI on the server's own machine: trusted, no second factor
    OPERATOR = "operator"
    #: a person logged in to the dashboard: acts on their own account, 2FA for key changes
    USER = "user"
    #: a master account's key calling OKX's key-management endpoints
    API = "api"
    #: the server itself (the inactivity sweeper)
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """``account_id`` is the account a user or an API key acts for (None for the operator and
    the system, who may act on any account); ``environment`` is the calling key's, for API
    actors, which may only touch keys of that environment."""

    kind: ActorKind
    name: str
    ip: str | None = None
    account_id: int | None = None
    environment: Environment | None = None

    @property
    def needs_2fa(self) -> bool:
        return self.kind is ActorKind.USER

    def may_act_for(self, account_id: int, master_id: int | None) -> bool:
        """Whether this actor may touch an account (a master acts for its sub-accounts)."""
        return self.account_id is None or self.account_id in (account_id, master_id)

    @classmethod
    def api(cls, api_key: str, account_id: int, environment: Environment,
            ip: str | None) -> Actor:
        return cls(ActorKind.API, api_key, ip, account_id, environment)

    @classmethod
    def user(cls, email: str, account_id: int | None, ip: str | None = None) -> Actor:
        return cls(ActorKind.USER, email, ip, account_id)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"


OPERATOR = Actor(ActorKind.OPERATOR, "cli")
SWEEPER = Actor(ActorKind.SYSTEM, "sweeper")
