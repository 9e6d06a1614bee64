"""Domain rules: permissions, IP allow-lists, key rules, orders."""

from __future__ import annotations

import ipaddress
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyseal import errors
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import Environment, check_label, check_passphrase, looks_like_api_key
from keyseal.domain.market import default_market
from keyseal.domain.money import fmt, parse_amount
from keyseal.domain.permissions import Permission
from keyseal.http.okx.trade import order_from_wire as parse_order


def test_read_is_always_implied_and_wire_order_is_stable() -> None:
    assert Permission.parse("trade").wire() == "read_only,trade"
    assert Permission.parse("withdraw, trade").wire() == "read_only,trade,withdraw"
    assert Permission.parse("").wire() == "read_only"


def test_unknown_permission_names_it() -> None:
    with pytest.raises(errors.OkxError) as refused:
        Permission.parse("read_only,admin")
    assert refused.value.code == "51000" and "admin" in refused.value.detail


@pytest.mark.parametrize(("entries", "address", "allowed"), [
    ("1.2.3.4", "1.2.3.4", True),
    ("1.2.3.4", "1.2.3.5", False),
    ("10.20.0.0/16 192.168.1.1", "10.20.30.40", True),
    ("2001:db8::/48", "2001:db8::1", True),
    ("2001:db8::/48", "2001:db8:1::1", False),
    ("127.0.0.1", "::ffff:127.0.0.1", True),
    ("", "8.8.8.8", True),
    ("1.2.3.4", "not-an-ip", False),
])
def test_allowlist_permits(entries: str, address: str, allowed: bool) -> None:
    assert IpAllowlist.parse(entries).permits(address) is allowed


def test_allowlist_separators_and_duplicates() -> None:
    allowlist = IpAllowlist.parse("1.1.1.1, 2.2.2.2 3.3.3.3,,1.1.1.1")
    assert allowlist.wire() == "1.1.1.1,2.2.2.2,3.3.3.3"


def test_allowlist_limits_and_garbage() -> None:
    with pytest.raises(errors.OkxError) as too_many:
        IpAllowlist.parse(",".join(f"10.0.0.{i}" for i in range(21)))
    assert too_many.value.code == "59503"
    with pytest.raises(errors.OkxError) as garbage:
        IpAllowlist.parse("1.2.3.4,nope")
    assert garbage.value.code == "70013" and "nope" in garbage.value.message


@given(st.ip_addresses(v=4), st.integers(min_value=16, max_value=32))
def test_an_address_is_always_inside_its_own_network(ip: ipaddress.IPv4Address, prefix: int) -> None:
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    assert IpAllowlist.parse(str(network)).permits(str(ip))


@pytest.mark.parametrize("passphrase", ["Passw0rd!", "114514A.bc", "Aa1!" * 8])
def test_good_passphrases(passphrase: str) -> None:
    assert check_passphrase(passphrase) == passphrase


@pytest.mark.parametrize("passphrase", ["short1A!", "nouppercase1!", "NOLOWERCASE1!", "NoDigits!!",
                                        "NoSpecial123", "Aa1!" * 8 + "x", " Lead1ng!", "Ünicode1!a"])
def test_bad_passphrases_are_59505(passphrase: str) -> None:
    if passphrase == "short1A!":
        assert check_passphrase(passphrase)  # 8 characters is the minimum, and allowed
        return
    with pytest.raises(errors.OkxError) as refused:
        check_passphrase(passphrase)
    assert refused.value.code == "59505"


def test_labels() -> None:
    assert check_label("bot1") == "bot1"
    for bad in ("", "a" * 51, "has space", "dash-ed"):
        with pytest.raises(errors.OkxError):
            check_label(bad)


def test_api_keys_are_uuids() -> None:
    assert looks_like_api_key("37c541a1-1234-4c2e-9a9f-10fe7a038418")
    assert not looks_like_api_key("k")
    assert not looks_like_api_key("x" * 36)


def test_environment_header() -> None:
    assert Environment.from_header("1") is Environment.DEMO
    assert Environment.from_header("0") is Environment.LIVE
    assert Environment.from_header(None) is Environment.LIVE


def test_amounts() -> None:
    assert parse_amount("0.001", "sz") == Decimal("0.001")
    assert parse_amount(5, "sz") == 5
    for bad in ("-1", "0", "abc", "NaN", "Infinity", True, None, "1e400", "1e-30", {}):
        with pytest.raises(errors.OkxError):
            parse_amount(bad, "sz")
    assert fmt(Decimal("1.500")) == "1.5" and fmt(Decimal("1E+2")) == "100"


def _order(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                               "ordType": "limit", "sz": "0.01", "px": "50000"}
    body.update(overrides)
    return body


def test_a_buy_freezes_quote_and_a_sell_freezes_base() -> None:
    market = default_market()
    buy = parse_order(_order(), market)
    assert (buy.freeze_ccy, buy.freeze_amount) == ("USDT", Decimal("500"))
    sell = parse_order(_order(side="sell"), market)
    assert (sell.freeze_ccy, sell.freeze_amount) == ("BTC", Decimal("0.01"))


def test_python_okx_empty_strings_mean_absent() -> None:
    request = parse_order(_order(ccy="", clOrdId="", tag="", posSide="", reduceOnly="",
                                 tgtCcy="", attachAlgoOrds=None), default_market())
    assert request.cl_ord_id == "" and request.tag == ""


@pytest.mark.parametrize(("overrides", "code"), [
    ({"instId": "DOGE-USDT"}, "51001"),
    ({"side": "hold"}, "51000"),
    ({"ordType": "market"}, "51000"),
    ({"px": ""}, "50014"),
    ({"sz": "0.000001"}, "51020"),
    ({"px": "50000.05"}, "51000"),
    ({"tdMode": "cross"}, "51000"),
    ({"clOrdId": "has space"}, "51000"),
])
def test_order_refusals(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(errors.OkxError) as refused:
        parse_order(_order(**overrides), default_market())
    assert refused.value.code == code


def test_duplicate_ips_count_once_against_the_limit() -> None:
    twenty = [f"10.0.0.{i}" for i in range(20)]
    assert len(IpAllowlist.parse(",".join([*twenty, twenty[0]])).entries) == 20


@pytest.mark.parametrize("value", [["1.2.3.4"], 5, {"ip": "1.2.3.4"}, True])
def test_allowlists_must_be_strings(value: object) -> None:
    with pytest.raises(errors.OkxError) as refused:
        IpAllowlist.parse(value)
    assert refused.value.code == "70013"


@pytest.mark.parametrize(("check", "code"), [(check_label, "70012"), (check_passphrase, "59505")])
def test_labels_and_passphrases_must_be_strings(check, code: str) -> None:  # type: ignore[no-untyped-def]
    for value in (["a"], 12345678, None, {"x": 1}):
        with pytest.raises(errors.OkxError) as refused:
            check(value)
        assert refused.value.code == code


def test_money_arithmetic_keeps_every_digit() -> None:
    from keyseal.domain.money import add, multiply, negate

    widest = Decimal("999999999999999999.999999999999999999")
    assert fmt(add(widest, Decimal("1e-18"))) == "1000000000000000000"
    assert fmt(negate(widest)) == "-" + str(widest)
    assert fmt(multiply(widest, widest)) == (
        "999999999999999999999999999999999998.000000000000000000000000000000000001")
    assert fmt(Decimal("123456789012345678.123456789012345678")) == (
        "123456789012345678.123456789012345678")  # the default context keeps only 28 digits


def test_a_market_order_is_told_the_sandbox_does_not_match_orders() -> None:
    """A client sees the message, not the detail: it must say why and what to use."""
    with pytest.raises(errors.OkxError) as refused:
        parse_order(_order(ordType="market"), default_market())
    assert refused.value.code == "51000"
    assert "market orders are not supported in the sandbox" in refused.value.message
    assert "use limit or post_only" in refused.value.message
