"""The OKX error catalogue: code, message and HTTP status, as clients see them on the wire.

Messages follow the wire forms real clients have logged where they differ from the docs
(``Invalid Sign``, ``Timestamp request expired``); clients key off ``code``, people read ``msg``.
Every refusal in Keyseal, from the gate, a service or an HTTP route, is an ``OkxError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    message: str
    http_status: int = 200

    def __call__(self, *params: object, detail: str = "",
                 extra: Mapping[str, Any] | None = None) -> OkxError:
        """An ``OkxError`` of this code; ``params`` fill ``{0}``, ``{1}``… in the message."""
        return OkxError(self, tuple(str(p) for p in params), detail, extra)


class OkxError(Exception):
    """A refusal that becomes ``{"code": ..., "msg": ..., "data": []}`` on the wire.

    ``detail`` is for logs and the audit trail only (which check refused, and why); it never
    holds a secret and is not sent to the caller. ``extra`` is sent: top-level fields beside
    ``code``, ``msg`` and ``data`` that help the caller (``skewMs``, ``explain``), which OKX
    clients ignore; only what the caller sent or may know goes there, never a secret.
    """

    def __init__(self, error: ErrorCode, params: tuple[str, ...] = (), detail: str = "",
                 extra: Mapping[str, Any] | None = None) -> None:
        self.error = error
        self.params = params
        self.detail = detail
        self.extra: Mapping[str, Any] = extra or {}
        super().__init__(f"{error.code} {self.message}" + (f" ({detail})" if detail else ""))

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def http_status(self) -> int:
        return self.error.http_status

    @property
    def message(self) -> str:
        return self.error.message.format(*self.params) if self.params else self.error.message


# General class
OPERATION_FAILED = ErrorCode("1", "Operation failed.")
PARTIAL_SUCCESS = ErrorCode("2", "Bulk operation partially succeeded.")
BODY_EMPTY = ErrorCode("50000", "Body for POST request cannot be empty.", 400)
SERVICE_UNAVAILABLE = ErrorCode("50001", "Service temporarily unavailable. Please try again later.", 503)
JSON_SYNTAX = ErrorCode("50002", "JSON syntax error", 400)
ENDPOINT_UNAVAILABLE = ErrorCode("50005", "API endpoint is inactive or unavailable.", 404)
USER_NOT_FOUND = ErrorCode("50008", "User doesn't exist.")
RATE_LIMITED = ErrorCode("50011", "Too Many Requests", 429)
PARAM_EMPTY = ErrorCode("50014", "Parameter {0} can not be empty.", 400)
SYSTEM_ERROR = ErrorCode("50026", "System error. Try again later", 500)
NO_ENDPOINT_PERMISSION = ErrorCode("50030", "You don't have permission to use this API endpoint")
IP_BINDING_REQUIRED = ErrorCode("50035", "This endpoint requires that APIKey must be bound to IP", 403)
DEMO_UNAVAILABLE = ErrorCode("50038", "This feature is unavailable in demo trading")
SUB_ACCOUNT_ORDER_LIMIT = ErrorCode(
    "50061", "You've reached the maximum order rate limit for this account.")
BODY_TOO_LARGE = ErrorCode("50002", "Request body too large (limit {0} bytes)", 413)

# API class (authentication)
API_FROZEN = ErrorCode("50100", "API frozen, please contact customer service.", 400)
WRONG_ENVIRONMENT = ErrorCode("50101", "APIKey does not match current environment.", 401)
TIMESTAMP_EXPIRED = ErrorCode("50102", "Timestamp request expired", 401)
KEY_HEADER_EMPTY = ErrorCode("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
PASSPHRASE_HEADER_EMPTY = ErrorCode(
    "50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
PASSPHRASE_INCORRECT = ErrorCode("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
SIGN_HEADER_EMPTY = ErrorCode("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
TIMESTAMP_HEADER_EMPTY = ErrorCode(
    "50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
IP_NOT_ALLOWED = ErrorCode(
    "50110", "Your IP {0} is not included in your API key's IP whitelist.", 401)
INVALID_KEY = ErrorCode("50111", "Invalid OK-ACCESS-KEY", 401)
INVALID_TIMESTAMP = ErrorCode("50112", "Invalid OK-ACCESS-TIMESTAMP", 401)
INVALID_SIGN = ErrorCode("50113", "Invalid Sign", 401)
INVALID_METHOD = ErrorCode("50115", "Invalid request method.", 405)
NO_PERMISSION = ErrorCode("50120", "This API key doesn't have permission to use this function")

# Trade and funding
PARAM_ERROR = ErrorCode("51000", "Parameter {0} error")
#: OKX's 51000 too, saying why: a client sees the message, never the detail
ORDER_TYPE_UNSUPPORTED = ErrorCode(
    "51000", "Parameter ordType error: {0} orders are not supported in the sandbox (it has no "
    "matching engine); use limit or post_only")
INSTRUMENT_UNKNOWN = ErrorCode("51001", "Instrument ID does not exist")
INSUFFICIENT_BALANCE = ErrorCode("51008", "Order failed. Insufficient {0} balance in account.")
BELOW_MIN_SIZE = ErrorCode("51020", "Your order should meet or exceed the minimum order amount.")
DUPLICATE_CLORDID = ErrorCode("51016", "Duplicated clOrdId")
BATCH_TOO_LARGE = ErrorCode("51004", "Order count exceeds the limit of {0} orders per request")
CANCEL_FAILED = ErrorCode(
    "51400", "Order cancellation failed as the order has been filled, canceled or does not exist")
ORDER_NOT_FOUND = ErrorCode("51603", "Order does not exist")
WITHDRAW_INSUFFICIENT = ErrorCode("58350", "Insufficient balance")
CURRENCY_UNKNOWN = ErrorCode("58004", "Unsupported currency {0}")

# Account class (key management)
ONLY_MAIN_ACCOUNT = ErrorCode("59500", "Only the API key of the main account has permission.")
TOO_MANY_KEYS = ErrorCode("59501", "Each account can create up to {0} API keys")
LABEL_TAKEN = ErrorCode("59502", "This note name already exists. Enter a unique API key note name")
TOO_MANY_IPS = ErrorCode("59503", "Each API key can bind up to {0} IP addresses")
SUB_NO_WITHDRAW = ErrorCode(
    "59504", "Sub-accounts don't support withdrawals. Please use your main account for withdrawals.")
PASSPHRASE_FORMAT = ErrorCode("59505", "The passphrase format is incorrect.")
KEY_NOT_FOUND = ErrorCode("59506", "API key doesn't exist.")
SUB_NOT_FOUND = ErrorCode("59510", "Sub-account does not exist")

# Keyseal's own codes, for rules OKX enforces in its web UI rather than its API, and for
# format errors. They sit in 70000-70999, a range OKX does not use, so no client mistakes them
# for one of OKX's (docs/decisions/0002 and 0004).
KYC_REQUIRED = ErrorCode(
    "70001", "Identity verification level {0} or higher is required to create API keys")
ACCOUNT_RESTRICTED = ErrorCode(
    "70002", "This account is under a security restriction; API keys cannot be created or "
    "edited until it is lifted")
TWO_FA_REQUIRED = ErrorCode("70003", "A two-factor authentication code is required")
TWO_FA_INVALID = ErrorCode("70004", "The two-factor authentication code is invalid or was already used")
IMMUTABLE_FIELD = ErrorCode(
    "70005", "The {0} of an API key cannot be changed; create a new key with the settings you need")
LOGIN_FAILED = ErrorCode("70006", "User not found or password invalid")
LOGIN_THROTTLED = ErrorCode(
    "70007", "Too many failed logins; try again in {0} seconds")
SUB_NAME_TAKEN = ErrorCode("70009", "This sub-account name already exists")
NO_SUB_ACCOUNT_ACCESS = ErrorCode(
    "70010", "This API key was created without sub-account access")
TWO_FA_NOT_ENROLLED = ErrorCode("70011", "Two-factor authentication is not enrolled for this account")
# Format and range errors (70012-70019): OKX's 59502 and 59503 mean "note name taken" and "too many
# IPs", so a malformed label or IP entry gets a code that says what is actually wrong.
LABEL_FORMAT = ErrorCode("70012", "An API key note name is 1 to 50 letters or digits")
IP_FORMAT = ErrorCode(
    "70013", "An IP allow-list is up to 20 IPv4/IPv6 addresses or networks, separated by commas: {0}")
IP_TOO_WIDE = ErrorCode(
    "70014", "The IP allow-list entry {0} {1}: bind addresses, or networks of /{2} or narrower "
    "for IPv4 and /{3} or narrower for IPv6")
BALANCE_TOO_LARGE = ErrorCode(
    "70015", "This would take the {0} balance past what the ledger keeps exactly: {1} digits "
    "before the decimal point")
#: a request two readers could read two ways: a repeated auth header, JSON key or parameter
AMBIGUOUS = ErrorCode("70016", "Ambiguous request: {0}", 400)
#: an exact repeat of a signed state-changing request inside the timestamp window
REPLAYED = ErrorCode(
    "70017", "This signed request was already received; sign each request anew, with a fresh "
    "OK-ACCESS-TIMESTAMP", 401)
# Forward-auth, 70030-70039: a proxy asks Keyseal to verify a request it holds. The proxy's
# configuration states the original request; when it does not, or cannot pass on the body the
# client signed, the request is refused rather than passed on unverified (docs/decisions/0008).
FORWARD_AUTH_MISCONFIGURED = ErrorCode(
    "70030", "The proxy in front of this API did not send {0} to Keyseal's verifier; its "
    "forward-auth configuration is incomplete (see Keyseal's README)", 500)
BODY_NOT_FORWARDED = ErrorCode(
    "70031", "This request has a body, and this route's proxy does not pass bodies to Keyseal, "
    "so its signature cannot be verified; send it to a route configured to verify bodies", 400)
# Rotation under one key id, 70020-70029 (docs/decisions/0007).
ROTATE_DISABLED_KEY = ErrorCode(
    "70020", "This API key is disabled; enable it before rotating its secret")
ROTATION_IN_PROGRESS = ErrorCode(
    "70021", "The previous secret of this API key still verifies (until {0} at the latest); "
    "finish that overlap first, or force the rotation, which stops that previous secret now")
NO_PREVIOUS_SECRET = ErrorCode(
    "70022", "This API key has no previous secret that still verifies; nothing to finish")
# Slow and greedy clients, 70050-70059: refused by the HTTP layer before any route sees the
# request (src/keyseal/http/protocols.py), each with the HTTP status that names the problem.
HEADERS_TIMEOUT = ErrorCode(
    "70050", "The request headers were not received within {0} seconds", 408)
BODY_TIMEOUT = ErrorCode("70051", "The request body was not received within {0} seconds", 408)
HEADERS_TOO_LARGE = ErrorCode(
    "70052", "Request headers too large: at most {0} bytes and {1} header fields", 431)
TARGET_TOO_LONG = ErrorCode("70053", "Request target too long (limit {0} bytes)", 414)
MALFORMED_HTTP = ErrorCode("70054", "Malformed HTTP request: {0}", 400)
# Operations, 70075-70079: /readyz (src/keyseal/http/ops.py).
NOT_READY = ErrorCode("70075", "Keyseal is not ready: {0}", 503)
# The dashboard, 70060-70069: what a browser can get wrong that an API client cannot.
CSRF_REFUSED = ErrorCode(
    "70060", "This form is out of date or was sent from another site; reload the page and try again", 403)
SESSION_ENDED = ErrorCode("70061", "Your session has ended; please log in again", 401)
REVEAL_GONE = ErrorCode(
    "70062", "These credentials were shown once and cannot be shown again; if you did not store "
    "them, regenerate the key", 410)
SECURITY_KEY_FAILED = ErrorCode("70063", "The security key could not be verified: {0}")
PASSWORDS_DIFFER = ErrorCode("70064", "The two passwords are not the same")
# Hardening, 70080-70089: guessing budgets (gate/guessing.py) and faults of the store.
TOO_MANY_FAILURES_FROM_ADDRESS = ErrorCode(
    "70080", "Too many failed signatures or passphrases from this address; retry in {0} seconds",
    429)
TOO_MANY_FAILURES_FOR_KEY = ErrorCode(
    "70081", "Too many failed passphrases for this API key; retry in {0} seconds", 429)
STORAGE_FULL = ErrorCode(
    "70082", "The server's storage is full; nothing was changed. Try again later", 503)
# Master keys, 70040-70049: each message names where the keys were looked for (a home or
# $KEYSEAL_MASTER_KEY) and what to do. See docs/decisions/0005-master-key-fingerprints.md.
MASTER_KEYS_FROM_ENVIRONMENT = ErrorCode(
    "70040", "The master keys come from $KEYSEAL_MASTER_KEY; {0}")
MASTER_KEY_MISSING = ErrorCode(
    "70041", "There is no master key in {0}, but this database already has one; run with the "
    "--home (or $KEYSEAL_MASTER_KEY) whose master key sealed its secrets")
MASTER_KEY_MISMATCH = ErrorCode(
    "70042", "The master key in {0} is not the one this database was sealed with (v{1} "
    "differs); run with the --home (or $KEYSEAL_MASTER_KEY) whose master key sealed it")
MASTER_KEY_VERSION_MISSING = ErrorCode(
    "70043", "The master keys in {0} lack v{1}, which this database uses; restore the key "
    "file from a backup, or run with the --home (or $KEYSEAL_MASTER_KEY) that holds it")
MASTER_KEY_FILE_EXPOSED = ErrorCode(
    "70044", "The master key file {0} can be read by other users; run `chmod 600 {0}` and retry")
MASTER_KEY_UNREADABLE = ErrorCode(
    "70045", "The master keys in {0} cannot be read ({1}); restore them from a backup")
MASTER_KEY_UNKNOWN = ErrorCode(
    "70046", "This database has no master key v{0}; `keyseal master-key list` shows its versions")
MASTER_KEY_NEWEST = ErrorCode(
    "70047", "Master key v{0} is the newest and seals new secrets; run `keyseal master-key "
    "rotate` first, then retire it")
MASTER_KEY_IN_USE = ErrorCode(
    "70048", "Master key v{0} still seals {1} secret(s); run `keyseal master-key reseal` first")

# WebSocket
WS_INVALID_TIMESTAMP = ErrorCode("60004", "Invalid timestamp")
WS_INVALID_KEY = ErrorCode("60005", "Invalid apiKey")
WS_TIMESTAMP_EXPIRED = ErrorCode("60006", "Timestamp request expired")
WS_INVALID_SIGN = ErrorCode("60007", "Invalid sign")
WS_LOGIN_FAILED = ErrorCode("60009", "Login failed.")
WS_PLEASE_LOGIN = ErrorCode("60011", "Please log in")
WS_INVALID_REQUEST = ErrorCode("60012", "Invalid request: {0}")
WS_INVALID_ARGS = ErrorCode("60013", "Invalid args")
WS_TOO_FREQUENT = ErrorCode("60014", "Requests too frequent")
WS_CHANNEL_UNKNOWN = ErrorCode(
    "60018", "Wrong URL or {0} doesn't exist. Please use the correct URL, channel and parameters "
    "referring to API document.")
WS_INVALID_OP = ErrorCode("60019", "Invalid op: {0}")
WS_WRONG_PASSPHRASE = ErrorCode("60024", "Wrong passphrase")
WS_KEY_NOT_FOUND = ErrorCode("60032", "API key doesn't exist.")
