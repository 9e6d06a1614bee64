"""Checks of a key form's fields one by one, with the very rules ``services.keys`` applies,
so a form can say beside each field what is wrong (or that it is right) before anything is
created. The use case itself still checks everything again in its transaction."""

from __future__ import annotations

from collections.abc import Callable

from keyseal import errors
from keyseal.domain.accounts import Account
from keyseal.domain.actors import Actor
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import ApiKey, check_label, check_passphrase
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime

#: which form field a refusal of the key use cases is about, by code
FIELD_OF_CODE = {
    errors.LABEL_FORMAT.code: "label", errors.LABEL_TAKEN.code: "label",
    errors.PASSPHRASE_FORMAT.code: "passphrase",
    errors.IP_FORMAT.code: "ip", errors.IP_TOO_WIDE.code: "ip", errors.TOO_MANY_IPS.code: "ip",
    errors.SUB_NO_WITHDRAW.code: "perm",
    errors.TWO_FA_REQUIRED.code: "code", errors.TWO_FA_INVALID.code: "code",
    errors.TWO_FA_NOT_ENROLLED.code: "code", errors.LOGIN_THROTTLED.code: "code",
}


def _refusal(check: Callable[[], object]) -> errors.OkxError | None:
    try:
        check()
    except errors.OkxError as refusal:
        return refusal
    return None


def check_new_key(rt: Runtime, *, label: str | None, passphrase: str | None,
                  ip: str | None) -> dict[str, errors.OkxError | None]:
    """Each given field's refusal, or None where it passes."""
    found: dict[str, errors.OkxError | None] = {}
    if label is not None:
        found["label"] = _refusal(lambda: check_label(label))
    if passphrase is not None:
        found["passphrase"] = _refusal(lambda: check_passphrase(passphrase))
    if ip is not None:
        found["ip"] = _refusal(lambda: IpAllowlist.parse(ip, rt.settings.allowlist_rules))
    return found


def count_ips(ip: str) -> int:
    """How many entries the allow-list text names (commas or spaces, repeats once)."""
    return len(dict.fromkeys(p for p in ip.replace(",", " ").split() if p))


def visible_key(rt: Runtime, actor: Actor, api_key: str) -> tuple[ApiKey, Account]:
    """A key and its owner, provided ``actor`` may act for the owner (its own account or one
    of its sub-accounts); any other key answers 59506, as if it did not exist."""
    try:
        key = key_service.get_key(rt, api_key)
    except errors.OkxError:
        raise errors.KEY_NOT_FOUND() from None
    owner = account_service.account_by_id(rt, key.account_id)
    if not actor.may_act_for(owner.id, owner.master_id):
        raise errors.KEY_NOT_FOUND(detail=f"{actor} may not see {api_key}")
    return key, owner
