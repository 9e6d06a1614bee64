"""A use case an API key asks for is decided in its own transaction, against the key as it is
then: a key revoked after the gate let its request through changes nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from argon2 import PasswordHasher

from keyseal.crypto import passwords
from keyseal.domain.commands import CreateKey, CreateSubAccount, Credit, Owner, SetKeyStatus
from keyseal.domain.keys import Environment, KeyStatus
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import PASSPHRASE, envelope, make_account

SUB_APIKEY = "/api/v5/users/subaccount/apikey"
TRANSFER = "/api/v5/asset/subaccount/transfer"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64,
                                                          parallelism=1))


def family(api: Api) -> tuple[str, dict[str, str]]:
    email = make_account(api.rt, credit={"USDT": "100"})
    for name in ("alpha01", "bravo02"):
        account_service.create_sub_account(api.rt, CreateSubAccount(email, name))
    admin = created_key_fields(key_service.create_key(api.rt, CreateKey(
        email, label="admin", passphrase=PASSPHRASE, perm="read_only,trade", ip=CLIENT_IP,
        sub_account_access=True)))
    return email, admin


async def test_a_key_revoked_while_its_request_is_under_way_creates_nothing(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    email, admin = family(api)
    prepare = key_service._prepare

    def prepare_then_revoke(*args: object, **kwargs: object) -> object:
        new = prepare(*args, **kwargs)  # the slow argon2 step: after the gate, before the transaction
        key_service.set_key_status(api.rt, SetKeyStatus(admin["apiKey"], KeyStatus.DISABLED))
        return new

    monkeypatch.setattr(key_service, "_prepare", prepare_then_revoke)
    body = json.dumps({"subAcct": "alpha01", "label": "late1", "passphrase": "Sub-Pass1!",
                       "perm": "trade"})
    answer = envelope(await api.post(admin, SUB_APIKEY, body))
    assert answer["code"] == "50100"
    assert key_service.list_keys(api.rt, email, sub="alpha01") == []


async def test_a_key_disabled_elsewhere_moves_no_money_before_this_process_hears_of_it(
        api: Api) -> None:
    email, admin = family(api)
    ledger.credit(api.rt, Credit(email, "USDT", "50", sub="alpha01"))
    assert envelope(await api.get(admin, "/api/v5/users/subaccount/list"))["code"] == "0"
    other = open_runtime(Settings(home=api.rt.settings.home), clock=api.clock)
    try:  # the CLI in another process: this server learns of it from the change log later
        key_service.set_key_status(other, SetKeyStatus(admin["apiKey"], KeyStatus.DISABLED))
    finally:
        other.close()
    api.clock.advance(1.1)
    body = json.dumps({"ccy": "USDT", "amt": "50", "from": "6", "to": "6",
                       "fromSubAccount": "alpha01", "toSubAccount": "bravo02"})
    assert envelope(await api.post(admin, TRANSFER, body))["code"] == "50100"
    master = account_service.account_by_email(api.rt, email)
    subs = {s.sub_name: s for s in account_service.sub_accounts(api.rt, master)}
    alpha = ledger.balances(api.rt, Owner(subs["alpha01"].id, Environment.LIVE))
    assert str(alpha["USDT"].cash) == "50"


async def test_changes_committed_in_a_worker_thread_are_forgotten_on_the_event_loop(
        api: Api) -> None:
    """Served without a lifespan (as here), a change made off the loop still closes the
    key's WebSocket sessions on the loop, and the use case answers as done."""
    key = api.key(perm="read_only")
    assert envelope(await api.get(key, "/api/v5/account/balance"))["code"] == "0"
    closed: list[int] = []

    class Session:
        entry = None

        async def close(self, code: int, reason: str) -> None:
            closed.append(code)

    api.app.state.sessions[key["apiKey"]] = {Session()}  # type: ignore[arg-type]
    done = await asyncio.to_thread(key_service.set_key_status, api.rt,
                                   SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    assert done.status is KeyStatus.DISABLED
    for _ in range(3):
        await asyncio.sleep(0)  # let the queued callback and the close task run
    assert closed == [4007]
    assert envelope(await api.get(key, "/api/v5/account/balance"))["code"] == "50100"
