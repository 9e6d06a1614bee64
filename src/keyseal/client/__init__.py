"""The key holder's side of Keyseal: sign OKX V5 requests, keep keys in a vault, check them.

Works against OKX itself or any Keyseal server::

    from keyseal.client import Client, Credentials

    with Client(Credentials(api_key, secret_key, passphrase), base_url=url, demo=True) as okx:
        print(okx.balance().total_eq)

Shares ``keyseal.signing`` with the server and nothing else.
"""

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
