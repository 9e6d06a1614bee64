"""The three values an OKX-style key holder signs with."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyseal.client.masking import mask


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key, its HMAC secret and its passphrase.

    ``repr`` and ``str`` show a masked API key only: credentials end up in tracebacks,
    debug logs and notebooks, and none of those may carry the secret or the passphrase.
    """

    api_key: str
    secret_key: str = field(repr=False)
    passphrase: str = field(repr=False)

    def __repr__(self) -> str:
        return (f"Credentials(api_key={mask(self.api_key, 8, 4)!r}, secret_key='****', "
                "passphrase='****')")

    __str__ = __repr__
