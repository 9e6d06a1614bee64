"""Properties of every parser on the request path: for any input, the parsed value or the
intended OKX refusal, never another exception; and round trips where a writer exists.

Headers (``wanted_headers``), REST and WebSocket timestamps (``signing``), IP allow-lists
(``domain/ipallow``), query strings (``query_parameters``), JSON bodies (``strict_json``) and
amounts (``domain/money``). WebSocket frames and whole requests are in their own files."""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from keyseal import errors
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.money import MAX_DECIMALS, MAX_INTEGER_DIGITS, fmt, parse_amount
from keyseal.gate.verifier import _parse_timestamp
from keyseal.http import strict_json
from keyseal.http.app import _WANTED, query_parameters, wanted_headers
from keyseal.signing import format_timestamp, parse_timestamp, parse_ws_timestamp
from tests.fuzz.profiles import FUZZ

WANTED = sorted(name.decode() for name in _WANTED)
#: text as it reaches a parser: any code point, and what HTTP bytes decode to
ANY_TEXT = st.text() | st.binary().map(lambda b: b.decode("latin-1"))
header_name = st.sampled_from(WANTED).map(lambda n: n.encode()) | st.sampled_from(
    WANTED).map(lambda n: n.upper().encode()) | st.binary(min_size=1, max_size=20)
header_value = st.binary(max_size=80)


# -- headers -------------------------------------------------------------------------------
@given(st.lists(st.tuples(header_name, header_value), max_size=12))
@FUZZ
def test_headers_parse_or_are_refused_as_ambiguous(raw: list[tuple[bytes, bytes]]) -> None:
    try:
        found = wanted_headers(raw)
    except errors.OkxError as refused:
        assert refused.code == "70016"
        names = [n.lower() for n, _ in raw if n.lower() in _WANTED]
        assert any(names.count(n) > 1 for n in names if n != b"x-forwarded-for")
        return
    assert set(found) <= set(WANTED)
    for name, value in raw:
        if name.lower() in _WANTED and name.lower() != b"x-forwarded-for":
            assert found[name.lower().decode()] == value.decode("latin-1")


@given(st.dictionaries(st.sampled_from(WANTED), st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)))
@FUZZ
def test_headers_round_trip(sent: dict[str, str]) -> None:
    raw = [(name.encode(), value.encode("latin-1")) for name, value in sent.items()]
    assert wanted_headers(raw) == sent


# -- timestamps ----------------------------------------------------------------------------
@given(ANY_TEXT)
@FUZZ
def test_a_rest_timestamp_parses_or_is_50112(text: str) -> None:
    try:
        seconds = _parse_timestamp(text)
    except errors.OkxError as refused:
        assert refused.code == "50112"
        return
    assert text.isascii() and seconds == seconds


@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                     r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?\Z"))
@FUZZ
def test_iso_shaped_timestamps_parse_or_are_50112(text: str) -> None:
    """Well-shaped but out of range (month 13, offset +99:00, year 0000) is still 50112."""
    try:
        _parse_timestamp(text)
    except errors.OkxError as refused:
        assert refused.code == "50112"


@given(st.integers(min_value=0, max_value=253402300799999))
@FUZZ
def test_rest_timestamps_round_trip(millis: int) -> None:
    """Found by this test: ``format_timestamp(1.001)`` wrote ``.000`` (1.001 * 1000 is
    1000.9999999999999 in floating point, and the milliseconds were truncated); the long run
    found the same at 8700757891.543 after a first fix that rounded to the microsecond."""
    text = format_timestamp(millis / 1000)
    assert round(parse_timestamp(text) * 1000) == millis


@given(st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
       | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(), st.integers(),
                                                                max_size=2))
@FUZZ
def test_a_websocket_timestamp_parses_or_is_a_value_error(value: object) -> None:
    try:
        seconds = parse_ws_timestamp(value)
    except ValueError:
        return
    assert seconds == seconds and seconds not in (float("inf"), float("-inf"))
    assert not isinstance(value, bool | list | dict | type(None))


@given(st.integers(min_value=0, max_value=10**12 - 1), st.integers(0, 999))
@FUZZ
def test_websocket_timestamps_round_trip(seconds: int, millis: int) -> None:
    assert parse_ws_timestamp(str(seconds)) == seconds
    assert parse_ws_timestamp(f"{seconds}.{millis:03d}") == float(f"{seconds}.{millis:03d}")


# -- IP allow-lists ------------------------------------------------------------------------
IP_CODES = {"59503", "70013", "70014"}
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ip_ish = st.one_of(ipv4, ipv6, st.tuples(ipv4 | ipv6, st.integers(-1, 140)).map(
    lambda t: f"{t[0]}/{t[1]}"), st.text(st.sampled_from("0123456789abcdef.:/%, "), max_size=30),
    ANY_TEXT)


@given(st.lists(ip_ish, max_size=25).map(lambda parts: ",".join(parts)) | ANY_TEXT)
@FUZZ
def test_an_ip_list_parses_or_is_refused_with_its_code(text: str) -> None:
    try:
        allowlist = IpAllowlist.parse(text)
    except errors.OkxError as refused:
        assert refused.code in IP_CODES, refused
        return
    assert IpAllowlist.parse(allowlist.wire()) == allowlist  # round trip
    assert IpAllowlist.stored(allowlist.wire()).networks == allowlist.networks


@given(st.none() | st.integers() | st.lists(st.text(), max_size=3) | st.floats())
@FUZZ
def test_an_ip_list_that_is_not_text_is_70013(value: object) -> None:
    if value is None:
        assert IpAllowlist.parse(value) == IpAllowlist()
        return
    with pytest.raises(errors.OkxError) as refused:
        IpAllowlist.parse(value)
    assert refused.value.code == "70013"


@given(st.ip_addresses(v=4), st.integers(16, 32))
@FUZZ
def test_a_bound_network_permits_its_own_addresses(address: ipaddress.IPv4Address,
                                                   prefix: int) -> None:
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    allowlist = IpAllowlist.parse(str(network))
    assert allowlist.permits(str(address))
    assert allowlist.permits(f"::ffff:{address}")  # the same peer on a dual-stack socket
    assert not allowlist.permits("not an address")


# -- query strings -------------------------------------------------------------------------
@given(st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode()))
@FUZZ
def test_a_query_string_parses_or_is_refused_as_ambiguous(raw: bytes) -> None:
    try:
        found = query_parameters(raw)
    except errors.OkxError as refused:
        assert refused.code == "70016"
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=20), max_size=8))
@FUZZ
def test_query_strings_round_trip(sent: dict[str, str]) -> None:
    """As clients write them: percent-encoded UTF-8."""
    assert query_parameters(urlencode(sent).encode("ascii")) == sent


# -- JSON bodies ---------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)


@given(st.binary(max_size=300) | json_values.map(orjson.dumps)
       | st.integers(1, 1500).map(lambda n: b'{"a":1,"b":' * n + b"1" + b"}" * n)
       | st.integers(1, 1500).map(lambda n: b"[1," * n + b"1" + b"]" * n))
@FUZZ
def test_a_body_parses_or_is_a_json_error_or_ambiguous(data: bytes) -> None:
    try:
        strict_json.loads(data)
    except orjson.JSONDecodeError:
        pass
    except errors.OkxError as refused:
        assert refused.code == "70016"


@given(json_values)
@FUZZ
def test_json_bodies_round_trip(value: object) -> None:
    assert strict_json.loads(orjson.dumps(value)) == value
    assert strict_json.loads(json.dumps(value)) == value


def test_deep_nesting_is_parsed_or_a_json_error_never_a_recursion_error() -> None:
    """Every depth up to past orjson's limit. Found by the fuzzing: at 1,000-1,023 levels
    orjson accepted the body and the duplicate-key pass ran out of Python stack
    (RecursionError, a 500 on the wire)."""
    for levels in range(1, 1100):
        data = b'{"a":0,"b":' * levels + b"0" + b"}" * levels
        try:
            strict_json.loads(data)
        except orjson.JSONDecodeError:
            assert levels > 900


# -- amounts -------------------------------------------------------------------------------
@given(st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
       | st.decimals().map(str) | st.lists(st.integers(), max_size=2))
@FUZZ
def test_an_amount_parses_or_is_51000(value: object) -> None:
    try:
        amount = parse_amount(value, "sz")
    except errors.OkxError as refused:
        assert refused.code == "51000" and refused.params == ("sz",)
        return
    assert amount.is_finite() and amount > 0


@given(st.decimals(min_value=Decimal("1e-18"), max_value=Decimal("9" * 18),
                   allow_nan=False, allow_infinity=False, places=18))
@FUZZ
def test_amounts_round_trip(amount: Decimal) -> None:
    assume(amount > 0)
    text = fmt(amount)
    assert parse_amount(text, "amt") == amount
    assert fmt(parse_amount(text, "amt")) == text
    assert amount.adjusted() < MAX_INTEGER_DIGITS
    assert MAX_DECIMALS == 18
