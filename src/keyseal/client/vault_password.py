"""Where the vault password comes from: the environment, the OS keyring, or a prompt."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from keyseal.client.vault import VaultError

ENV_PASSWORD = "KEYSEAL_VAULT_PASSWORD"
#: ``keyring set keyseal-vault <absolute vault path>`` stores a password this module finds.
KEYRING_SERVICE = "keyseal-vault"


class PasswordSource(StrEnum):
    ENV = "env"
    KEYRING = "keyring"
    PROMPT = "prompt"


@dataclass(frozen=True, slots=True)
class VaultPassword:
    value: str = field(repr=False)
    source: PasswordSource


def keyring_password(path: Path) -> str | None:
    """The password stored for this vault in the OS keyring, if ``keyring`` and a backend exist."""
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]  # optional: [vault]
    except ImportError:
        return None
    try:
        found: str | None = keyring.get_password(KEYRING_SERVICE, str(path.resolve()))
        return found
    except Exception:  # no backend, locked keyring, D-Bus missing: all mean "not from here"
        return None


def prompt_password(path: Path, *, creating: bool, ask: Callable[[str], str] | None = None,
                    interactive: bool | None = None) -> str:
    """Ask on the terminal; a new vault asks twice. Never reads a password from piped stdin."""
    ask = ask or getpass.getpass
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise VaultError(f"No password for the vault {path}: set {ENV_PASSWORD}, store it with "
                         f"`keyring set {KEYRING_SERVICE} {path.resolve()}`, or run in a terminal.")
    if not creating:
        return ask(f"Password for {path}: ")
    first = ask(f"New password for the vault {path}: ")
    if len(first) < 8:
        raise VaultError("Choose a vault password of at least 8 characters.")
    if ask("Repeat the password: ") != first:
        raise VaultError("The two passwords differ; nothing was created.")
    return first


def resolve_password(path: Path, *, creating: bool, environ: Mapping[str, str] | None = None,
                     from_keyring: Callable[[Path], str | None] | None = None,
                     ask: Callable[[str], str] | None = None,
                     interactive: bool | None = None) -> VaultPassword:
    """The first of ``$KEYSEAL_VAULT_PASSWORD``, the OS keyring, and a prompt."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_PASSWORD):
        return VaultPassword(environ[ENV_PASSWORD], PasswordSource.ENV)
    stored = (from_keyring or keyring_password)(path)
    if stored:
        return VaultPassword(stored, PasswordSource.KEYRING)
    return VaultPassword(prompt_password(path, creating=creating, ask=ask,
                                         interactive=interactive), PasswordSource.PROMPT)
