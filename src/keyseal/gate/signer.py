"""HMAC-SHA256 with the key's padded blocks hashed once, for the gate's per-request check.

HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104). Both padded blocks depend on
the key alone, so their SHA-256 states are computed when a key is loaded and copied per
request: four C calls on a short prehash instead of keying from scratch, about a third of
``hmac.digest``'s cost here (benchmarks/run.py). The result is the same bytes, which
tests/unit/test_signer.py checks against the standard library."""

from __future__ import annotations

import hashlib
from typing import Any

_BLOCK = 64  # SHA-256's block size


class PrekeyedHmac:
    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:  # as RFC 2104: a long key is hashed first
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner: Any = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer: Any = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()  # type: ignore[no-any-return]
