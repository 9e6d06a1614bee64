"""Rotation under the same key id, as a client sees it: signed requests over HTTP to the
in-process app with a manual clock. Old and new secrets both verify during the overlap; the
old one stops after its silence, its grace, ``--finish`` (at once in this process, and in
another process once it follows the change log); limits and usage stay the key's; OKX's
sub-account key endpoints answer exactly as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from keyseal.domain.commands import CreateKey, CreateSubAccount, FinishRotation, RotateKey
from keyseal.domain.keys import parse_grace
from keyseal.http.app import create_app
from keyseal.http.background import ChangeFollower, flush_usage
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import PASSPHRASE, envelope, make_account

BALANCE = "/api/v5/account/balance"
CONFIG = "/api/v5/account/config"
SUB_APIKEY = "/api/v5/users/subaccount/apikey"
NEW_PASS = "Rotated-Pass2"


def rotate(api: Api, key: dict[str, str], **kwargs: object) -> tuple[dict[str, str],
                                                                   dict[str, str]]:
    """Rotate ``key``; the credentials (old, new) a client holds."""
    rotated = key_service.rotate_key(api.rt, RotateKey(key["apiKey"], **kwargs))  # type: ignore[arg-type]
    new = {**key, "secretKey": rotated.secret_key,
           "passphrase": rotated.passphrase or key["passphrase"]}
    return key, new


async def code(api: Api, key: dict[str, str], target: str = BALANCE, **kwargs: object) -> str:
    return str(envelope(await api.get(key, target, **kwargs))["code"])


async def test_both_secrets_verify_during_the_overlap(api: Api) -> None:
    old, new = rotate(api, api.key())
    assert await code(api, new) == "0"
    assert await code(api, old) == "0"
    api.clock.advance(3600)
    assert await code(api, old) == "0" and await code(api, new) == "0"


async def test_the_old_secret_stops_after_its_silence(api: Api) -> None:
    old, new = rotate(api, api.key())
    api.clock.advance(20 * 3600)
    assert await code(api, old) == "0"  # used: silent again only 24 h from now
    api.clock.advance(24 * 3600 - 1)
    assert await code(api, old) == "0"
    api.clock.advance(24 * 3600)
    assert await code(api, old) == "50113"  # this process's gate, before any sweep
    assert await code(api, new) == "0"
    [retired] = key_service.retire_old_secrets(api.rt)  # and the sweeper's record
    assert retired.api_key == old["apiKey"]
    assert await code(api, old) == "50113" and await code(api, new) == "0"


async def test_the_old_secret_stops_at_its_grace_however_often_used(api: Api) -> None:
    old, new = rotate(api, api.key(), grace_ms=parse_grace("2d"))
    for _ in range(4):
        api.clock.advance(12 * 3600 - 1)
        assert await code(api, old) == "0"
    api.clock.advance(4)
    assert await code(api, old) == "50113"
    assert await code(api, new) == "0"


async def test_finish_stops_the_old_secret_at_once(api: Api) -> None:
    old, new = rotate(api, api.key())
    assert await code(api, old) == "0"  # cached with both secrets
    key_service.finish_rotation(api.rt, FinishRotation(old["apiKey"]))
    assert await code(api, old) == "50113"
    assert await code(api, new) == "0"


async def test_a_new_passphrase_goes_with_the_new_secret_only(api: Api) -> None:
    old, new = rotate(api, api.key(), new_passphrase=NEW_PASS)
    assert new["passphrase"] == NEW_PASS
    assert await code(api, new) == "0" and await code(api, old) == "0"
    assert await code(api, new, passphrase=PASSPHRASE) == "50105"
    assert await code(api, old, passphrase=NEW_PASS) == "50105"


async def test_old_and_new_secret_share_one_rate_limit(api: Api) -> None:
    old, new = rotate(api, api.key())
    answers = [await code(api, k, CONFIG) for k in (old, new, old, new, old)]  # 5 per 2 s
    assert answers == ["0"] * 5
    assert await code(api, new, CONFIG) == "50011"
    assert await code(api, old, CONFIG) == "50011"


async def test_usage_is_the_keys_and_the_old_secrets_last_use_is_shown(api: Api) -> None:
    old, new = rotate(api, api.key())
    assert await code(api, new) == "0"
    flush_usage(api.app.state)
    key = key_service.get_key(api.rt, old["apiKey"])
    assert key.last_used_ms == api.rt.now_ms() and key.rotation is not None
    assert key.rotation.old_last_used_ms is None  # the new secret's use is not the old one's
    api.clock.advance(60)
    assert await code(api, old) == "0"
    flush_usage(api.app.state)
    key = key_service.get_key(api.rt, old["apiKey"])
    assert key.last_used_ms == api.rt.now_ms()
    assert key.rotation is not None
    assert (key.rotation.old_last_used_ms, key.rotation.old_last_used_ip) == (
        api.rt.now_ms(), CLIENT_IP)


@pytest.fixture
async def second(api: Api) -> AsyncIterator[Api]:
    """Another serving process on the same database: its own caches, no after-commit link
    to the first; it learns of changes from the change log only."""
    rt = open_runtime(Settings(home=api.rt.settings.home), clock=api.clock)
    app = create_app(rt)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, rt, api.clock)
    rt.close()


async def test_another_process_stops_the_old_secret_once_it_follows_the_log(
        api: Api, second: Api) -> None:
    old, new = rotate(api, api.key())
    assert await code(second, old) == "0" and await code(second, new) == "0"
    key_service.finish_rotation(api.rt, FinishRotation(old["apiKey"]))
    assert await code(api, old) == "50113"
    assert await code(second, old) == "0"  # not yet told
    await ChangeFollower(second.app.state).catch_up()
    assert await code(second, old) == "50113"
    assert await code(second, new) == "0"


async def test_another_process_hears_of_the_rotation_from_the_log(api: Api, second: Api
                                                                  ) -> None:
    key = api.key()
    assert await code(second, key) == "0"  # cached before the rotation
    old, new = rotate(api, key)
    await ChangeFollower(second.app.state).catch_up()
    assert await code(second, new) == "0" and await code(second, old) == "0"


async def test_old_secret_use_in_one_process_keeps_it_live_in_another(api: Api, second: Api
                                                                      ) -> None:
    old, _ = rotate(api, api.key())
    assert await code(second, old) == "0"  # the second process caches it
    api.clock.advance(20 * 3600)
    assert await code(api, old) == "0"  # used through the first process only
    flush_usage(api.app.state)
    api.clock.advance(5 * 3600)  # 25 h after the rotation, 5 h after that use
    assert await code(second, old) == "0"  # reloaded past the cache's max age: still live


async def test_a_process_that_missed_the_log_stops_it_after_the_caches_max_age(
        api: Api, second: Api) -> None:
    old, _ = rotate(api, api.key())
    assert await code(second, old) == "0"
    key_service.finish_rotation(api.rt, FinishRotation(old["apiKey"]))  # never followed
    api.clock.advance(59)
    assert await code(second, old) == "0"
    api.clock.advance(1.5)
    assert await code(second, old) == "50113"


async def test_okx_sub_account_key_endpoints_answer_exactly_as_before(api: Api) -> None:
    email = make_account(api.rt, credit={"USDT": "10"})
    account_service.create_sub_account(api.rt, CreateSubAccount(email, "alpha01"))
    admin = created_key_fields(key_service.create_key(api.rt, CreateKey(
        email, label="admin", passphrase=PASSPHRASE, perm="read_only,trade", ip=CLIENT_IP,
        sub_account_access=True)))
    sub_key = created_key_fields(key_service.create_key(api.rt, CreateKey(
        email, label="subbot", passphrase=PASSPHRASE, perm="read_only,trade", sub="alpha01")))
    target = f"{SUB_APIKEY}?subAcct=alpha01"
    before = await api.get(admin, target)
    assert envelope(before)["code"] == "0"
    rotate(api, sub_key, new_passphrase=NEW_PASS)
    _, new_admin = rotate(api, admin)
    api.clock.advance(1.1)
    after = await api.get(new_admin, target)
    assert after.status_code == before.status_code and after.content == before.content
    one = await api.get(new_admin, f"{target}&apiKey={sub_key['apiKey']}")
    assert set(envelope(one)["data"][0]) == {"label", "apiKey", "perm", "ip", "ts"}


async def test_a_websocket_login_accepts_the_old_secret_until_finished(api: Api) -> None:
    from keyseal import errors
    from keyseal.domain.keys import Environment
    from keyseal.signing import sign_ws_login

    old, new = rotate(api, api.key())
    gate = api.app.state.gate
    ts = str(int(api.clock()))

    async def login(key: dict[str, str]) -> str:
        try:
            await gate.login(key["apiKey"], key["passphrase"], float(ts),
                             sign_ws_login(key["secretKey"], ts), ts, Environment.LIVE,
                             CLIENT_IP)
        except errors.OkxError as refused:
            return refused.code
        return "0"
    assert await login(new) == "0" and await login(old) == "0"
    key_service.finish_rotation(api.rt, FinishRotation(old["apiKey"]))
    assert await login(old) == "50113" and await login(new) == "0"
