"""Format errors answer with Keyseal's own codes, not with OKX's codes for other rules."""

from __future__ import annotations

from keyseal import errors


def test_format_errors_have_codes_of_their_own_in_keyseals_range() -> None:
    own = {errors.LABEL_FORMAT.code, errors.IP_FORMAT.code, errors.IP_TOO_WIDE.code,
           errors.BALANCE_TOO_LARGE.code, errors.AMBIGUOUS.code}
    assert len(own) == 5 and all(70012 <= int(code) <= 70019 for code in own)
    # OKX's 59502 (note name taken) and 59503 (too many IPs) keep their meaning
    assert errors.LABEL_TAKEN.code == "59502" and errors.TOO_MANY_IPS.code == "59503"


def test_slow_and_greedy_client_codes_sit_in_70050_to_70059_with_their_http_status() -> None:
    own = {errors.HEADERS_TIMEOUT: 408, errors.BODY_TIMEOUT: 408, errors.HEADERS_TOO_LARGE: 431,
           errors.TARGET_TOO_LONG: 414, errors.MALFORMED_HTTP: 400}
    assert all(70050 <= int(error.code) <= 70059 for error in own)
    assert {error: error.http_status for error in own} == own
    # the connection limit is OKX's own "service temporarily unavailable"
    assert (errors.SERVICE_UNAVAILABLE.code, errors.SERVICE_UNAVAILABLE.http_status) == ("50001", 503)


def test_no_two_rules_share_a_code() -> None:
    codes = [v.code for v in vars(errors).values() if isinstance(v, errors.ErrorCode)]
    shared = {c for c in codes if codes.count(c) > 1}
    # JSON syntax and body too large are both OKX's 50002; an unsupported order type is OKX's
    # parameter error 51000 with a message that says why
    assert shared == {"50002", "51000"}
