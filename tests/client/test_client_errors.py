"""The code → exception table, checked against the server's own error catalogue."""

from __future__ import annotations

import pytest

from keyseal import errors as catalogue
from keyseal.client import (
    ApiKeyFrozen,
    AuthenticationError,
    Backoff,
    InvalidApiKey,
    InvalidSignature,
    InvalidTimestamp,
    IpNotAllowed,
    MissingCredentials,
    OkxApiError,
    PassphraseIncorrect,
    PermissionDenied,
    RateLimited,
    TimestampExpired,
    WrongEnvironment,
    error_for,
)


@pytest.mark.parametrize(("error", "cls"), [
    (catalogue.INVALID_SIGN, InvalidSignature),
    (catalogue.TIMESTAMP_EXPIRED, TimestampExpired),
    (catalogue.INVALID_TIMESTAMP, InvalidTimestamp),
    (catalogue.PASSPHRASE_INCORRECT, PassphraseIncorrect),
    (catalogue.INVALID_KEY, InvalidApiKey),
    (catalogue.WRONG_ENVIRONMENT, WrongEnvironment),
    (catalogue.API_FROZEN, ApiKeyFrozen),
    (catalogue.IP_NOT_ALLOWED, IpNotAllowed),
    (catalogue.NO_PERMISSION, PermissionDenied),
    (catalogue.NO_ENDPOINT_PERMISSION, PermissionDenied),
    (catalogue.RATE_LIMITED, RateLimited),
    (catalogue.KEY_HEADER_EMPTY, MissingCredentials),
    (catalogue.PASSPHRASE_HEADER_EMPTY, MissingCredentials),
    (catalogue.SIGN_HEADER_EMPTY, MissingCredentials),
    (catalogue.TIMESTAMP_HEADER_EMPTY, MissingCredentials),
    (catalogue.WS_INVALID_SIGN, InvalidSignature),
    (catalogue.WS_TIMESTAMP_EXPIRED, TimestampExpired),
    (catalogue.WS_WRONG_PASSPHRASE, PassphraseIncorrect),
    (catalogue.WS_KEY_NOT_FOUND, InvalidApiKey),
    (catalogue.WS_INVALID_KEY, InvalidApiKey),
    (catalogue.WS_TOO_FREQUENT, RateLimited),
], ids=lambda value: getattr(value, "code", None) or getattr(value, "__name__", ""))
def test_every_server_refusal_has_its_exception(error: catalogue.ErrorCode,
                                                cls: type[OkxApiError]) -> None:
    raised = error_for(error.code, error.message, error.http_status)
    assert type(raised) is cls
    assert (raised.code, raised.msg, raised.http_status) == (
        error.code, error.message, error.http_status)


def test_auth_failures_share_a_base_and_unknown_codes_fall_back() -> None:
    for cls in (InvalidSignature, TimestampExpired, InvalidTimestamp, PassphraseIncorrect,
                InvalidApiKey, WrongEnvironment, ApiKeyFrozen, IpNotAllowed,
                MissingCredentials):
        assert issubclass(cls, AuthenticationError)
    assert type(error_for("51008", "Insufficient balance")) is OkxApiError
    assert type(error_for("50013", "Systems are busy", 429)) is RateLimited
    assert str(error_for("50113", "Invalid Sign", 401, request="GET /x")) == \
        "50113 Invalid Sign (HTTP 401, GET /x)"


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    low, high = Backoff(base=1, cap=5, random=lambda: 0.0), Backoff(base=1, cap=5,
                                                                     random=lambda: 0.999)
    assert [low.delay(n) for n in range(5)] == [0.5, 1, 2, 2.5, 2.5]
    assert all(low.delay(n) <= high.delay(n) < 2 * low.delay(n) for n in range(5))
    assert low.delay(0, retry_after=3) == 3 and low.delay(0, retry_after=60) == 5
