"""OKX V5 signing against the vectors of okx-v5-spec.md §1.8 (computed with the doc's secret)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyseal import signing

SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
TS = "2020-12-08T09:08:57.715Z"


@pytest.mark.parametrize(("method", "target", "body", "expected"), [
    ("GET", "/api/v5/account/balance?ccy=BTC", "", "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="),
    ("GET", "/api/v5/account/balance", "", "AkD5YszBhggtIyjDlmTy/9PpNVntel+1Lff8wh0qpQw="),
    ("POST", "/api/v5/account/set-leverage", '{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}',
     "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="),
    ("POST", "/api/v5/account/set-leverage",
     '{"instId": "BTC-USDT", "lever": "5", "mgnMode": "isolated"}',
     "/XctMG4gU+l0Tv1E5CsSdhrndN0MZxclhFp3+SFofI8="),
    ("GET", "/api/v5/account/balance?ccy=BTC,ETH", "", "oah2EOT2Fnz1bjkgiAnuKl+zFQzDG3/nqPUqyYzArrE="),
    ("GET", "/api/v5/account/balance?ccy=BTC%2CETH", "", "X/i/q53ENYaVFJP/x3gMqfyuIw8hS3HPa3eFxfQQFaY="),
])
def test_rest_vectors(method: str, target: str, body: str, expected: str) -> None:
    assert signing.sign_request(SECRET, TS, method, target, body) == expected


def test_method_is_upper_cased_in_the_prehash() -> None:
    assert signing.prehash(TS, "get", "/x") == (TS + "GET/x").encode()


def test_ws_login_vector() -> None:
    assert signing.sign_ws_login(SECRET, "1538054050") == "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
    assert signing.sign_ws_login(SECRET, 1538054050) == signing.sign_ws_login(SECRET, "1538054050")


def test_request_target_has_no_question_mark_without_query() -> None:
    assert signing.request_target("/api/v5/account/balance") == b"/api/v5/account/balance"
    assert signing.request_target("/a", "x=1") == b"/a?x=1"


def test_decoded_target_rescues_unencoded_python_okx_values() -> None:
    assert signing.decoded_target(b"/a?ccy=BTC%20ETH") == b"/a?ccy=BTC ETH"


def test_timestamp_round_trip_keeps_milliseconds() -> None:
    assert signing.format_timestamp(1607418537.715) == TS
    assert signing.parse_timestamp(TS) == pytest.approx(1607418537.715)


@pytest.mark.parametrize("value", ["", "garbage", "1607418537", "2020-13-08T09:08:57.715Z",
                                   "2020-12-08T09:08:57.715Zjunk", "9" * 100])
def test_garbage_timestamps_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        signing.parse_timestamp(value)


def test_offsets_and_naive_times_are_read_as_utc() -> None:
    assert signing.parse_timestamp("2020-12-08T10:08:57.715+01:00") == signing.parse_timestamp(TS)
    assert signing.parse_timestamp("2020-12-08T09:08:57.715") == signing.parse_timestamp(TS)


@pytest.mark.parametrize(("value", "seconds"), [("1538054050", 1538054050.0),
                                                (1538054050, 1538054050.0),
                                                ("1704876947.123", 1704876947.123)])
def test_ws_timestamps_accept_strings_and_numbers(value: object, seconds: float) -> None:
    assert signing.parse_ws_timestamp(value) == seconds


@pytest.mark.parametrize("value", [None, True, "abc", "", [], "nan", "inf"])
def test_ws_timestamps_refuse_non_numbers(value: object) -> None:
    with pytest.raises(ValueError):
        signing.parse_ws_timestamp(value)


@given(st.floats(min_value=0, max_value=4_000_000_000))
def test_formatted_timestamps_always_parse_back(seconds: float) -> None:
    text = signing.format_timestamp(seconds)
    assert len(text) == 24 and text.endswith("Z")
    assert abs(signing.parse_timestamp(text) - seconds) < 0.001


@given(st.text(max_size=40), st.text(max_size=40))
def test_signature_changes_with_any_change_to_the_body(body: str, other: str) -> None:
    a = signing.sign_request(SECRET, TS, "POST", "/x", body)
    b = signing.sign_request(SECRET, TS, "POST", "/x", other)
    assert (a == b) == (body == other)
    assert len(a) == 44
