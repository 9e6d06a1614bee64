"""The key holder's side of Keyseal: sign OKX V5 requests, keep keys in a vault, check them.

Works against OKX itself or any Keyseal server::

    from keyseal.client import Client, Credentials

    with Client(Credentials(api_key, secret_key, passphrase), base_url=url, demo=True) as okx:
        print(okx.balance().total_eq)

Shares ``keyseal.signing`` with the server and nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyseal.client.backoff import Backoff
    from keyseal.client.clock import ClockReading, ServerClock
    from keyseal.client.credentials import Credentials
    from keyseal.client.errors import (
        ApiKeyFrozen,
        AuthenticationError,
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
        UnexpectedResponse,
        WebSocketClosed,
        WrongEnvironment,
        error_for,
    )
    from keyseal.client.health import HealthReport, check_key
    from keyseal.client.leakscan import Finding, scan_git_history, scan_path
    from keyseal.client.models import AccountConfig, Balance, CurrencyBalance, FundingBalance
    from keyseal.client.rest import AsyncClient, Client
    from keyseal.client.vault import (
        EntryExists,
        EntryNotFound,
        KdfParams,
        Vault,
        VaultChanged,
        VaultDamaged,
        VaultEntry,
        VaultError,
        WrongVaultPassword,
        default_vault_path,
    )
    from keyseal.client.ws import login as ws_login
    from keyseal.client.ws import private_connection

#: name → (module, attribute): loaded on first use (PEP 562), so ``keyseal vault`` and
#: ``keyseal scan`` do not pay for httpx and websockets when they do not need them
_EXPORTS = {
    "AccountConfig": ("keyseal.client.models", "AccountConfig"),
    "ApiKeyFrozen": ("keyseal.client.errors", "ApiKeyFrozen"),
    "AsyncClient": ("keyseal.client.rest", "AsyncClient"),
    "AuthenticationError": ("keyseal.client.errors", "AuthenticationError"),
    "Backoff": ("keyseal.client.backoff", "Backoff"),
    "Balance": ("keyseal.client.models", "Balance"),
    "Client": ("keyseal.client.rest", "Client"),
    "ClockReading": ("keyseal.client.clock", "ClockReading"),
    "Credentials": ("keyseal.client.credentials", "Credentials"),
    "CurrencyBalance": ("keyseal.client.models", "CurrencyBalance"),
    "EntryExists": ("keyseal.client.vault", "EntryExists"),
    "EntryNotFound": ("keyseal.client.vault", "EntryNotFound"),
    "Finding": ("keyseal.client.leakscan", "Finding"),
    "FundingBalance": ("keyseal.client.models", "FundingBalance"),
    "HealthReport": ("keyseal.client.health", "HealthReport"),
    "InvalidApiKey": ("keyseal.client.errors", "InvalidApiKey"),
    "InvalidSignature": ("keyseal.client.errors", "InvalidSignature"),
    "InvalidTimestamp": ("keyseal.client.errors", "InvalidTimestamp"),
    "IpNotAllowed": ("keyseal.client.errors", "IpNotAllowed"),
    "KdfParams": ("keyseal.client.vault", "KdfParams"),
    "MissingCredentials": ("keyseal.client.errors", "MissingCredentials"),
    "OkxApiError": ("keyseal.client.errors", "OkxApiError"),
    "PassphraseIncorrect": ("keyseal.client.errors", "PassphraseIncorrect"),
    "PermissionDenied": ("keyseal.client.errors", "PermissionDenied"),
    "RateLimited": ("keyseal.client.errors", "RateLimited"),
    "ServerClock": ("keyseal.client.clock", "ServerClock"),
    "TimestampExpired": ("keyseal.client.errors", "TimestampExpired"),
    "UnexpectedResponse": ("keyseal.client.errors", "UnexpectedResponse"),
    "Vault": ("keyseal.client.vault", "Vault"),
    "VaultChanged": ("keyseal.client.vault", "VaultChanged"),
    "VaultDamaged": ("keyseal.client.vault", "VaultDamaged"),
    "VaultEntry": ("keyseal.client.vault", "VaultEntry"),
    "VaultError": ("keyseal.client.vault", "VaultError"),
    "WebSocketClosed": ("keyseal.client.errors", "WebSocketClosed"),
    "WrongEnvironment": ("keyseal.client.errors", "WrongEnvironment"),
    "WrongVaultPassword": ("keyseal.client.vault", "WrongVaultPassword"),
    "check_key": ("keyseal.client.health", "check_key"),
    "default_vault_path": ("keyseal.client.vault", "default_vault_path"),
    "error_for": ("keyseal.client.errors", "error_for"),
    "private_connection": ("keyseal.client.ws", "private_connection"),
    "scan_git_history": ("keyseal.client.leakscan", "scan_git_history"),
    "scan_path": ("keyseal.client.leakscan", "scan_path"),
    "ws_login": ("keyseal.client.ws", "login"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'keyseal.client' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


__all__ = [
    "AccountConfig", "ApiKeyFrozen", "AsyncClient", "AuthenticationError", "Backoff", "Balance",
    "Client", "ClockReading", "Credentials", "CurrencyBalance", "EntryExists", "EntryNotFound",
    "Finding", "FundingBalance", "HealthReport", "InvalidApiKey", "InvalidSignature",
    "InvalidTimestamp", "IpNotAllowed", "KdfParams", "MissingCredentials", "OkxApiError",
    "PassphraseIncorrect", "PermissionDenied", "RateLimited", "ServerClock", "TimestampExpired",
    "UnexpectedResponse", "Vault", "VaultChanged", "VaultDamaged", "VaultEntry", "VaultError",
    "WebSocketClosed", "WrongEnvironment", "WrongVaultPassword", "check_key",
    "default_vault_path", "error_for", "private_connection", "scan_git_history", "scan_path",
    "ws_login",
]
