"""What a key's IP binding means to the services, on SQLite and PostgreSQL: entries are read
strictly, lists wider than the minimum prefix are refused, and only a real binding keeps a
key from expiring."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.commands import CreateKey, EditKey
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import PASSPHRASE, make_account, make_key


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.OkxError) as refused:
        call()
    return refused.value.code


@pytest.mark.parametrize(("ip", "code"), [("1.2.3.4/0", "70013"), ("0.0.0.0/0", "70014"),
                                          ("10.0.0.0/8", "70014"), ("2001:db8::/32", "70014")])
def test_a_key_bound_to_too_wide_a_list_is_refused(rt: Runtime, ip: str, code: str) -> None:
    email = make_account(rt)
    assert _code(lambda: make_key(rt, email, ip=ip)) == code
    assert key_service.list_keys(rt, email) == []
    key = make_key(rt, email, ip="10.0.0.1")
    assert _code(lambda: key_service.edit_key(rt, EditKey(key["apiKey"], ip=ip))) == code
    assert key_service.get_key(rt, key["apiKey"]).allowlist.wire() == "10.0.0.1"


def test_a_bound_key_does_not_expire_and_a_mapped_entry_is_stored_unmapped(rt: Runtime) -> None:
    key = make_key(rt, ip="::ffff:10.0.0.1")
    stored = key_service.get_key(rt, key["apiKey"])
    assert stored.allowlist.wire() == "10.0.0.1" and stored.expires_ms is None


@pytest.mark.parametrize("env", [{}, {"KEYSEAL_MIN_IPV4_PREFIX": "8", "KEYSEAL_MIN_IPV6_PREFIX": "32"}])
def test_the_minimum_prefix_comes_from_the_settings_or_the_environment(
        db_url: str, tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
        env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(home=tmp_path / "home", db_url=db_url) if env else Settings(
        home=tmp_path / "home", db_url=db_url, min_ipv4_prefix=8, min_ipv6_prefix=32)
    runtime = open_runtime(settings, clock=clock)
    try:
        email = make_account(runtime)
        created = key_service.create_key(runtime, CreateKey(
            email, label="wide1", passphrase=PASSPHRASE, ip="10.0.0.0/8, 2001:db8::/32"))
        assert created.key.allowlist.wire() == "10.0.0.0/8,2001:db8::/32"
        assert created.key.expires_ms is None
    finally:
        runtime.close()


def test_a_malformed_minimum_prefix_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setenv("KEYSEAL_MIN_IPV4_PREFIX", "wide")
    with pytest.raises(ValueError, match="KEYSEAL_MIN_IPV4_PREFIX"):
        Settings(home=tmp_path)
    monkeypatch.setenv("KEYSEAL_MIN_IPV4_PREFIX", "0")
    with pytest.raises(ValueError, match="min_ipv4_prefix"):
        Settings(home=tmp_path)


@pytest.mark.parametrize("legacy", ["1.2.3.4/0", "0.0.0.0/0", "10.0.0.0/8"])
def test_a_list_stored_before_strict_parsing_is_no_binding(rt: Runtime, legacy: str) -> None:
    """A row written when ``1.2.3.4/0`` meant every address still loads, but neither keeps
    the key from expiring nor counts as bound for the gate."""
    key = make_key(rt, ip="10.0.0.1")
    with rt.db.write() as conn:
        conn.execute(text("UPDATE api_keys SET ips = :ips WHERE api_key = :k"),
                     {"ips": legacy, "k": key["apiKey"]})
    entry = key_service.load_entry(rt, key["apiKey"])
    assert entry is not None and entry.allowlist.wire() == legacy and not entry.allowlist.bound
    renamed = key_service.edit_key(rt, EditKey(key["apiKey"], label="renamed1"))
    assert renamed.expires_ms is not None  # the idle rule applies to it now
