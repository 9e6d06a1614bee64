"""Hardware security keys (WebAuthn) as a second factor at login, with the ``webauthn``
package. Only each credential's public key is stored. Every ceremony answers a challenge
that this server gave that very session, once: the challenge is kept in the session's row
and cleared as it is checked, whatever the outcome."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import webauthn
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from keyseal import errors
from keyseal.services import web_sessions
from keyseal.services.accounts import (
    SECURITY_KEY_GRANT_PREFIX,
    grant_hash,
    require_existing_factor,
    second_factor_attempt,
)
from keyseal.services.runtime import Runtime
from keyseal.services.unit_of_work import unit_of_work
from keyseal.services.web_sessions import WebSession
from keyseal.store import security_keys as key_rows

MAX_KEYS = 10
RP_NAME = "Keyseal"
#: how long the code a security key's answer earns stays good for one key change
GRANT_MS = 120_000


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser must believe it talks to: the dashboard's host and origin."""

    rp_id: str
    origin: str


def _challenge(rt: Runtime, session: WebSession) -> bytes:
    challenge = secrets.token_bytes(32)
    web_sessions.set_challenge(rt, session, bytes_to_base64url(challenge))
    return challenge


def _take_challenge(rt: Runtime, session: WebSession) -> bytes:
    """The session's pending challenge, cleared now so that no answer is accepted twice."""
    if session.challenge is None or not web_sessions.take_challenge(rt, session):
        raise errors.SECURITY_KEY_FAILED("no security-key request is pending; try again")
    return webauthn.base64url_to_bytes(session.challenge)


def registration_options(rt: Runtime, session: WebSession, rp: RelyingParty) -> str:
    """The options for ``navigator.credentials.create``, as JSON."""
    with rt.db.read() as conn:
        existing = key_rows.for_account(conn, session.account.id)
    if len(existing) >= MAX_KEYS:
        raise errors.SECURITY_KEY_FAILED(f"at most {MAX_KEYS} security keys per account")
    options = webauthn.generate_registration_options(
        rp_id=rp.rp_id, rp_name=RP_NAME, user_name=session.actor_name,
        user_id=session.account.uid.encode(), challenge=_challenge(rt, session),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(
            k.credential_id)) for k in existing])
    return webauthn.options_to_json(options)


def register(rt: Runtime, session: WebSession, credential: str, rp: RelyingParty,
             label: str, ip: str | None, code: str | None = None) -> None:
    """Keep the new credential's public key, once its answer to our challenge checks out.
    An account that already has a second factor must give it (``code``: a TOTP or recovery
    code), so a stolen session cannot add a key of its own and approve key changes with it."""
    with second_factor_attempt(rt, session.account), unit_of_work(rt) as work:
        require_existing_factor(work, session.account, code)
    challenge = _take_challenge(rt, session)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.rp_id,
            expected_origin=rp.origin)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise errors.SECURITY_KEY_FAILED("the registration was not accepted",
                                         detail=str(exc)[:200]) from None
    name = (label.strip() or "Security key")[:50]
    with unit_of_work(rt) as work:
        key_rows.insert_key(work.conn, account_id=session.account.id,
                            credential_id=bytes_to_base64url(verified.credential_id),
                            public_key=verified.credential_public_key,
                            sign_count=verified.sign_count, label=name,
                            created_ms=rt.now_ms())
        work.audit(web_sessions.user_actor(session, ip), "security_key_added",
                   account_id=session.account.id, label=name)


def login_options(rt: Runtime, session: WebSession, rp: RelyingParty) -> str:
    """The options for ``navigator.credentials.get`` at the second login step, as JSON."""
    if session.stage != web_sessions.SECOND_FACTOR:
        raise errors.SESSION_ENDED()
    return assertion_options(rt, session, rp)


def assertion_options(rt: Runtime, session: WebSession, rp: RelyingParty) -> str:
    """The options for ``navigator.credentials.get``, as JSON: any of the account's keys."""
    with rt.db.read() as conn:
        existing = key_rows.for_account(conn, session.account.id)
    if not existing:
        raise errors.SECURITY_KEY_FAILED("this account has no security key")
    options = webauthn.generate_authentication_options(
        rp_id=rp.rp_id, challenge=_challenge(rt, session),
        allow_credentials=[PublicKeyCredentialDescriptor(
            id=webauthn.base64url_to_bytes(k.credential_id)) for k in existing],
        user_verification=UserVerificationRequirement.DISCOURAGED)
    return webauthn.options_to_json(options)


def log_in(rt: Runtime, session: WebSession, credential: str, rp: RelyingParty,
           ip: str | None) -> WebSession:
    """The second login step answered by a security key; throttled like codes. A signature
    counter that does not move forward (a cloned key) is refused."""
    if session.stage != web_sessions.SECOND_FACTOR:
        raise errors.SESSION_ENDED()
    _check_assertion(rt, session, credential, rp)
    return web_sessions.finish_with_security_key(rt, session, ip)




def approve_action(rt: Runtime, session: WebSession, credential: str, rp: RelyingParty,
                   ip: str | None) -> str:
    """A security key's answer in place of an authenticator code for one key change: a
    one-time code, good for ``GRANT_MS``, that the use case accepts as its second factor."""
    if session.stage != web_sessions.FULL:
        raise errors.SESSION_ENDED()
    _check_assertion(rt, session, credential, rp)
    code = SECURITY_KEY_GRANT_PREFIX + secrets.token_urlsafe(12)
    with unit_of_work(rt) as work:
        key_rows.insert_grant(work.conn, account_id=session.account.id, code_hash=grant_hash(code),
                              expires_ms=rt.now_ms() + GRANT_MS)
        work.audit(web_sessions.user_actor(session, ip), "security_key_used",
                   account_id=session.account.id, purpose="action")
    return code


def _check_assertion(rt: Runtime, session: WebSession, credential: str, rp: RelyingParty
                     ) -> None:
    """The answer to this session's pending challenge, by one of the account's keys, with a
    signature counter that moves forward (a cloned key does not); throttled like codes."""
    challenge = _take_challenge(rt, session)
    account = session.account
    with second_factor_attempt(rt, account):
        with rt.db.read() as conn:
            known = {k.credential_id: k for k in key_rows.for_account(conn, account.id)}
        try:
            parsed = webauthn.helpers.parse_authentication_credential_json(credential)
            stored = known.get(parsed.id)
            if stored is None:
                raise errors.SECURITY_KEY_FAILED("this key is not registered to the account")
            verified = webauthn.verify_authentication_response(
                credential=parsed, expected_challenge=challenge, expected_rp_id=rp.rp_id,
                expected_origin=rp.origin, credential_public_key=stored.public_key,
                credential_current_sign_count=stored.sign_count)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise errors.SECURITY_KEY_FAILED("the answer was not accepted",
                                             detail=str(exc)[:200]) from None
        with rt.db.write() as conn:
            key_rows.used(conn, stored.id, verified.new_sign_count, rt.now_ms())
