"""Sealing under versioned master keys, the key file, argon2id hashes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from keyseal.crypto.keyring import (
    KeyFileExposed,
    MasterKeyring,
    SealError,
    create_key_file,
    load_keyring,
    new_keyring,
    save_keyring,
)
from keyseal.crypto.passwords import hash_secret, new_api_secret, verify_hash


def test_seal_round_trip_and_context_binding() -> None:
    ring = MasterKeyring({1: b"k" * 32})
    sealed = ring.seal(b"SECRET", b"key-a")
    assert b"SECRET" not in sealed
    assert ring.open(sealed, b"key-a") == b"SECRET"
    with pytest.raises(SealError):
        ring.open(sealed, b"key-b")  # a sealed secret cannot be moved to another key's row


def test_tampering_and_truncation_are_detected() -> None:
    ring = MasterKeyring({1: b"k" * 32})
    sealed = bytearray(ring.seal(b"SECRET", b"c"))
    sealed[-1] ^= 1
    with pytest.raises(SealError):
        ring.open(bytes(sealed), b"c")
    with pytest.raises(SealError):
        ring.open(bytes(sealed[:10]), b"c")


def test_newest_version_seals_and_every_version_opens() -> None:
    old = MasterKeyring({1: b"a" * 32})
    sealed_old = old.seal(b"x", b"c")
    new = old.with_new_version()
    assert new.current_version == 2
    assert new.version_of(new.seal(b"x", b"c")) == 2
    assert new.open(sealed_old, b"c") == b"x"
    with pytest.raises(SealError, match="v2"):
        old.open(new.seal(b"x", b"c"), b"c")


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    assert load_keyring(tmp_path, environ={}) is None  # never made by reading
    first = new_keyring()
    create_key_file(tmp_path, first)
    mode = stat.S_IMODE((tmp_path / "master.key").stat().st_mode)
    assert mode == 0o600
    with pytest.raises(FileExistsError):
        create_key_file(tmp_path, new_keyring())  # O_EXCL: an existing key is never replaced
    loaded = load_keyring(tmp_path, environ={})
    assert loaded is not None and loaded.keys == first.keys


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    save_keyring(tmp_path, new_keyring())
    (tmp_path / "master.key").chmod(0o640)
    with pytest.raises(KeyFileExposed):
        load_keyring(tmp_path, environ={})


def test_fingerprints_name_a_version_without_revealing_it() -> None:
    ring = MasterKeyring({1: b"a" * 32, 2: b"b" * 32})
    prints = ring.fingerprints()
    assert prints == MasterKeyring({1: b"a" * 32, 2: b"b" * 32}).fingerprints()
    assert prints[1] != prints[2] and len(prints[1]) == 64
    assert (b"a" * 32).hex() not in prints[1]


def test_environment_overrides_the_key_file(tmp_path: Path) -> None:
    ring = MasterKeyring({3: b"e" * 32})
    loaded = load_keyring(tmp_path, environ={"KEYSEAL_MASTER_KEY": ring.to_text()})
    assert loaded.keys == {3: b"e" * 32}
    assert not (tmp_path / "master.key").exists()
    with pytest.raises(ValueError, match="base64"):
        MasterKeyring.from_text("1:not-base64!")


def test_argon2id_hashes() -> None:
    stored = hash_secret("Passw0rd!")
    assert stored.startswith("$argon2id$") and "Passw0rd!" not in stored
    assert verify_hash(stored, "Passw0rd!")
    assert not verify_hash(stored, "Passw0rd?")
    assert not verify_hash("garbage", "Passw0rd!")


def test_api_secrets_look_like_okx_secrets() -> None:
    secret = new_api_secret()
    assert len(secret) == 32 and secret == secret.upper() and int(secret, 16) >= 0
    assert new_api_secret() != secret


def test_a_new_home_is_private_to_its_owner(tmp_path: Path) -> None:
    from keyseal.services.runtime import open_runtime
    from keyseal.settings import Settings

    runtime = open_runtime(Settings(home=tmp_path / "new-home"))
    runtime.close()
    assert stat.S_IMODE((tmp_path / "new-home").stat().st_mode) == 0o700
