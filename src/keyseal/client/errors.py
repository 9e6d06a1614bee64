"""Typed exceptions for OKX error envelopes, one table from code to class.

Each exception carries the OKX ``code``, the server's ``msg`` and the HTTP status, so a caller
can branch on the class and a person can read the message. Messages come from the server and
the request line; the credentials never appear in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyseal.signing import differing_parts


class OkxApiError(Exception):
    """A request that the server refused, with the OKX code it gave (``""`` if it gave none).

    ``extra`` holds the envelope's fields beside ``code``, ``msg`` and ``data``: a Keyseal
    server adds ``skewMs`` to a 50102 and ``explain`` to a 50113; OKX adds none.
    """

    def __init__(self, code: str, msg: str, http_status: int = 0, *,
                 request: str = "", data: list[Any] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.request = request
        self.data: list[Any] = data if data is not None else []
        self.extra: Mapping[str, Any] = extra or {}
        where = ", ".join(part for part in (
            f"HTTP {http_status}" if http_status else "", request) if part)
        super().__init__(f"{code or '?'} {msg}" + (f" ({where})" if where else ""))

    def __str__(self) -> str:
        note = self._note()
        return super().__str__() + (f": {note}" if note else "")

    def _note(self) -> str:
        """What the server said beyond ``msg``, for the exception's text."""
        return ""


class AuthenticationError(OkxApiError):
    """The server did not accept the credentials or how the request was signed."""


class InvalidSignature(AuthenticationError):
    """50113: the signature does not match (wrong secret, or secret and passphrase swapped).

    ``explain`` is what a Keyseal server hashed, part by part (``signing.explain``), when it
    says (demo keys, and keys whose owner switched it on; OKX never does); ``local`` is what
    this client signed, set by ``keyseal.client``. ``compare`` names the parts that differ.
    """

    #: what this client signed, as ``signing.explain`` gives it (set by the client)
    local: Mapping[str, str] | None = None

    @property
    def explain(self) -> Mapping[str, str] | None:
        explained = self.extra.get("explain")
        return explained if isinstance(explained, dict) else None

    def compare(self, local: Mapping[str, str] | None = None) -> list[str]:
        """The parts (``timestamp``, ``method``, ``target``, ``body``) the server hashed
        otherwise than ``local`` (default: what this client signed). Empty when they all
        match: then the secret is what differs. Raises ``ValueError`` without both sides."""
        mine = local if local is not None else self.local
        if self.explain is None or mine is None:
            raise ValueError("the server did not say what it hashed" if self.explain is None
                             else "nothing to compare with: pass signing.explain(...)")
        return differing_parts(self.explain, mine)

    def describe(self, local: Mapping[str, str] | None = None) -> str:
        """A sentence on what differs between the two sides; ``""`` without an explanation."""
        server, mine = self.explain, local if local is not None else self.local
        if server is None:
            return ""
        if mine is None:
            return f"the server hashed {server.get('prehash', '')!r}"
        differing = differing_parts(server, mine)
        if not differing:
            return ("the server hashed the same timestamp, method, target and body as were "
                    "signed: the secret key is wrong, or the secret and the passphrase are "
                    "swapped")
        return "; ".join(_difference(part, server, mine) for part in differing)

    def _note(self) -> str:
        return self.describe()


def _difference(part: str, server: Mapping[str, str], local: Mapping[str, str]) -> str:
    if part == "body":
        return (f"the body differs: {local.get('bodyLength')} bytes signed (SHA-256 "
                f"{str(local.get('bodySha256'))[:12]}…), {server.get('bodyLength')} bytes "
                f"received (SHA-256 {str(server.get('bodySha256'))[:12]}…)")
    return (f"the {part} differs: signed {local.get(part)!r}, the server hashed "
            f"{server.get(part)!r}")


class TimestampExpired(AuthenticationError):
    """50102: the request timestamp is outside the server's window (clock skew)."""

    @property
    def skew_ms(self) -> int | None:
        """The request's timestamp minus the server's time, in ms (positive: this clock is
        ahead), when the server said (a Keyseal server does; OKX does not)."""
        try:
            return int(self.extra["skewMs"])
        except (KeyError, TypeError, ValueError):
            return None

    def _note(self) -> str:
        skew = self.skew_ms
        if skew is None:
            return ""
        side = "ahead of" if skew > 0 else "behind"
        return f"the timestamp was {abs(skew) / 1000:.1f} s {side} the server's clock"


class InvalidTimestamp(AuthenticationError):
    """50112: the request timestamp is malformed."""


class PassphraseIncorrect(AuthenticationError):
    """50105: the passphrase is not the one chosen when the key was created."""


class InvalidApiKey(AuthenticationError):
    """50111/50119: the server does not know this API key (deleted, mistyped, other server)."""


class WrongEnvironment(AuthenticationError):
    """50101: a demo key used live, or a live key used in demo trading."""


class ApiKeyFrozen(AuthenticationError):
    """50100: the key or its account is frozen or disabled."""


class IpNotAllowed(AuthenticationError):
    """50110: the caller's IP is not in the key's IP allow-list."""


class MissingCredentials(AuthenticationError):
    """50103/50104/50106/50107: a required ``OK-ACCESS-*`` header was empty or absent."""


class PermissionDenied(OkxApiError):
    """50120/50030: the key lacks the permission (read, trade, withdraw) for this endpoint."""


class RateLimited(OkxApiError):
    """50011 (HTTP 429): too many requests; the client backs off before it raises this."""


class UnexpectedResponse(OkxApiError):
    """The server answered without an OKX envelope (a proxy error page, say)."""


class WebSocketClosed(OkxApiError):
    """The WebSocket closed before it answered; ``code`` is the close code."""


#: REST (50xxx) and WebSocket (60xxx) codes of the same failure map to the same class.
ERROR_CLASSES: dict[str, type[OkxApiError]] = {
    "50100": ApiKeyFrozen,
    "50101": WrongEnvironment,
    "50102": TimestampExpired,
    "50103": MissingCredentials,
    "50104": MissingCredentials,
    "50105": PassphraseIncorrect,
    "50106": MissingCredentials,
    "50107": MissingCredentials,
    "50110": IpNotAllowed,
    "50111": InvalidApiKey,
    "50112": InvalidTimestamp,
    "50113": InvalidSignature,
    "50119": InvalidApiKey,
    "50120": PermissionDenied,
    "50030": PermissionDenied,
    "50011": RateLimited,
    "60004": InvalidTimestamp,
    "60005": InvalidApiKey,
    "60006": TimestampExpired,
    "60007": InvalidSignature,
    "60014": RateLimited,
    "60024": PassphraseIncorrect,
    "60032": InvalidApiKey,
}


def error_for(code: str, msg: str, http_status: int = 0, *, request: str = "",
              data: list[Any] | None = None,
              extra: Mapping[str, Any] | None = None) -> OkxApiError:
    """The exception for an OKX code; ``OkxApiError`` itself for codes without a class."""
    cls = ERROR_CLASSES.get(code, OkxApiError)
    if cls is OkxApiError and http_status == 429:
        cls = RateLimited
    return cls(code, msg, http_status, request=request, data=data, extra=extra)


# -- the vault file ----------------------------------------------------------------------------
# ``keyseal.client.vault`` raises these and re-exports them; the CLI reports any VaultError as
# a refusal (exit 1) with its message.

class VaultError(Exception):
    """A vault problem, worded as what happened and what to do about it."""


class WrongVaultPassword(VaultError):
    pass


class VaultDamaged(VaultError):
    pass


class VaultHeaderRefused(VaultDamaged):
    """The header asks for key-derivation costs keyseal never writes (say 64 GiB of memory).

    Refused before deriving anything: a damaged or hostile file must not exhaust memory or time.
    """


class VaultChanged(VaultError):
    """Another writer changed the vault in a way this one's changes no longer fit."""


class VaultLocked(VaultError):
    """Another process held the vault's write lock for longer than a writer waits."""


class EntryNotFound(VaultError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EntryExists(VaultError):
    pass
