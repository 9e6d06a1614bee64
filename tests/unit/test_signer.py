"""The gate's pre-keyed HMAC gives exactly the standard library's HMAC-SHA256."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from keyseal.gate.signer import PrekeyedHmac


@given(st.binary(max_size=200), st.lists(st.binary(max_size=300), max_size=4))
def test_same_as_hmac_for_any_key_and_message(key: bytes, messages: list[bytes]) -> None:
    signer = PrekeyedHmac(key)
    for message in messages:  # the pre-keyed states are copied, never consumed
        assert signer.digest(message) == hmac.digest(key, message, "sha256")


def test_key_lengths_around_the_block() -> None:
    for size in (0, 1, 32, 63, 64, 65, 128):
        key = bytes(range(size % 256)) * (size // 256 + 1)
        key = key[:size]
        assert PrekeyedHmac(key).digest(b"m") == hmac.digest(key, b"m", "sha256")
