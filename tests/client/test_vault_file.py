"""The vault file: round trip, permissions, and every way it can go wrong."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from keyseal.client import (
    EntryExists,
    EntryNotFound,
    KdfParams,
    Vault,
    VaultChanged,
    VaultDamaged,
    VaultEntry,
    VaultError,
    WrongVaultPassword,
    vault_lock,
)
from keyseal.client.errors import VaultHeaderRefused, VaultLocked
from keyseal.client.vault import backup_path
from keyseal.client.vault_password import PasswordSource, resolve_password
from tests.client.okx_fake import new_credentials

FAST = KdfParams(time_cost=1, memory_cost=8 * 1024, parallelism=1)
PASSWORD = "correct horse battery"


def entry(name: str, **overrides: str) -> VaultEntry:
    creds = new_credentials()
    return VaultEntry(name, creds.api_key, creds.secret_key, creds.passphrase, **overrides)


def saved_vault(path: Path, *entries: VaultEntry) -> Vault:
    vault = Vault.open(path, PASSWORD, kdf=FAST)
    for item in entries:
        vault.add(item)
    vault.save()
    return vault


def test_round_trip_keeps_every_field_and_encrypts_them(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "vault"
    demo = entry("bot-demo", base_url="http://127.0.0.1:8080", environment="demo",
                 purpose="grid bot")
    saved_vault(path, entry("okx-main"), demo)
    reopened = Vault.open(path, PASSWORD)
    assert [e.name for e in reopened] == ["bot-demo", "okx-main"]
    assert reopened.get("bot-demo") == demo and reopened.get("bot-demo").demo
    raw = path.read_bytes()
    assert demo.secret_key.encode() not in raw and demo.passphrase.encode() not in raw
    assert demo.api_key.encode() not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header = json.loads(raw)
    assert header["kdf"]["name"] == "argon2id" and header["kdf"]["memory_cost"] == 8 * 1024


def test_entry_repr_hides_secret_and_passphrase() -> None:
    item = entry("x")
    shown = repr(item) + str(item)
    assert item.secret_key not in shown and item.passphrase not in shown
    assert item.api_key not in shown


def test_wrong_password_is_told_apart_from_damage(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    saved_vault(path, entry("a"))
    before = path.read_bytes()
    with pytest.raises(WrongVaultPassword, match="Wrong password"):
        Vault.open(path, "not the password")
    assert path.read_bytes() == before


def test_truncated_file_says_so_and_points_at_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    vault = saved_vault(path, entry("a"))
    vault.add(entry("b"))
    vault.save()
    path.write_bytes(path.read_bytes()[:150])
    with pytest.raises(VaultDamaged) as damaged:
        Vault.open(path, PASSWORD)
    message = str(damaged.value)
    assert "truncated" in message and str(backup_path(path)) in message
    assert [e.name for e in Vault.open(backup_path(path), PASSWORD)] == ["a"]


def test_empty_file_is_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    path.write_bytes(b"")
    with pytest.raises(VaultDamaged, match="empty"):
        Vault.open(path, PASSWORD)


def test_tampered_ciphertext_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    saved_vault(path, entry("a"))
    document = json.loads(path.read_bytes())
    text = document["ciphertext"]
    document["ciphertext"] = text[:10] + ("A" if text[10] != "A" else "B") + text[11:]
    path.write_text(json.dumps(document))
    with pytest.raises(VaultDamaged, match="modified"):
        Vault.open(path, PASSWORD)


def test_a_failed_write_leaves_the_previous_vault_intact(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vault"
    vault = saved_vault(path, entry("kept"))
    before = path.read_bytes()
    vault.add(entry("lost"))

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        vault.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [e.name for e in Vault.open(path, PASSWORD)] == ["kept"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault", "vault.lock"], "no temp file"


def test_each_save_keeps_the_previous_version_as_backup(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    vault = saved_vault(path, entry("one"))
    vault.add(entry("two"))
    vault.save()
    vault.remove("one")
    vault.save()
    assert [e.name for e in Vault.open(path, PASSWORD)] == ["two"]
    assert [e.name for e in Vault.open(backup_path(path), PASSWORD)] == ["one", "two"]
    assert stat.S_IMODE(backup_path(path).stat().st_mode) == 0o600


def test_two_open_vaults_saving_in_turn_keep_both_entries(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    saved_vault(path, entry("base"))
    first, second = Vault.open(path, PASSWORD), Vault.open(path, PASSWORD)
    first.add(entry("from-first"))
    first.save()
    second.add(entry("from-second"))
    second.save()
    assert [e.name for e in Vault.open(path, PASSWORD)] == ["base", "from-first", "from-second"]
    assert [e.name for e in second] == ["base", "from-first", "from-second"]


def test_a_conflicting_change_by_another_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    saved_vault(path, entry("base"))
    first, second = Vault.open(path, PASSWORD), Vault.open(path, PASSWORD)
    first.remove("base")
    first.save()
    second.rename("base", "renamed")
    with pytest.raises(VaultChanged, match="another keyseal process") as changed:
        second.save()
    assert "'base'" in str(changed.value) and "Nothing was written" in str(changed.value)
    assert [e.name for e in Vault.open(path, PASSWORD)] == []


def test_a_save_waits_for_the_lock_and_names_its_holder(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vault"
    vault = saved_vault(path, entry("base"))
    before = path.read_bytes()
    vault.add(entry("blocked"))
    monkeypatch.setattr(vault_lock, "WAIT_SECONDS", 0.0)
    with vault_lock.locked(path), pytest.raises(VaultLocked, match="Another keyseal process") \
            as locked:
        vault.save()
    assert f"(pid {os.getpid()})" in str(locked.value) and "Nothing was written" in str(locked.value)
    assert path.read_bytes() == before
    vault.save()
    assert [e.name for e in Vault.open(path, PASSWORD)] == ["base", "blocked"]


def test_two_vaults_created_at_once_end_up_as_one(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    first = Vault.open(path, PASSWORD, kdf=FAST)
    second = Vault.open(path, PASSWORD, kdf=FAST)
    first.add(entry("one"))
    second.add(entry("two"))
    first.save()
    second.save()
    assert [e.name for e in Vault.open(path, PASSWORD)] == ["one", "two"]


def _with_kdf(path: Path, **kdf: object) -> None:
    document = json.loads(path.read_bytes())
    document["kdf"].update(kdf)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(("field", "value", "said"), [
    ("memory_cost", 64 * 1024 * 1024, "memory cost of 64 GiB"),
    ("memory_cost", 4, "memory cost of 4 KiB"),
    ("time_cost", 0, "time cost of 0"),
    ("time_cost", 10**9, "time cost of 1000000000"),
    ("parallelism", 2**24 - 1, "parallelism of 16777215"),
    ("salt", "AAAA", "salt of 3 bytes"),
])
def test_a_header_asking_for_absurd_kdf_costs_is_refused_untried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: object,
        said: str) -> None:
    path = tmp_path / "vault"
    saved_vault(path, entry("a"))
    _with_kdf(path, **{field: value})

    def never(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("argon2 ran on a hostile header")

    monkeypatch.setattr("keyseal.client.vault.hash_secret_raw", never)
    with pytest.raises(VaultHeaderRefused) as refused:
        Vault.open(path, PASSWORD)
    message = str(refused.value)
    assert str(path) in message and said in message and "damaged or hostile" in message
    assert isinstance(refused.value, VaultDamaged)


def test_a_new_vault_cannot_be_given_costs_it_could_not_reopen(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="memory cost of 64 GiB"):
        Vault.open(tmp_path / "vault", PASSWORD, kdf=KdfParams(memory_cost=64 * 1024 * 1024))
    assert not (tmp_path / "vault").exists()


def test_entry_names_are_unique_and_checked(tmp_path: Path) -> None:
    vault = saved_vault(tmp_path / "vault", entry("a"), entry("b"))
    with pytest.raises(EntryExists):
        vault.add(entry("a"))
    with pytest.raises(EntryExists):
        vault.rename("a", "b")
    with pytest.raises(EntryNotFound, match="vault list"):
        vault.get("missing")
    with pytest.raises(VaultError, match="not a usable entry name"):
        vault.add(entry("has space"))
    vault.rename("a", "c")
    assert [e.name for e in vault] == ["b", "c"]


def test_password_comes_from_env_then_keyring_then_prompt(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    env = {"KEYSEAL_VAULT_PASSWORD": "from-env-123"}
    got = resolve_password(path, creating=False, environ=env, from_keyring=lambda p: "kr")
    assert (got.value, got.source) == ("from-env-123", PasswordSource.ENV)
    got = resolve_password(path, creating=False, environ={}, from_keyring=lambda p: "kr-pass")
    assert (got.value, got.source) == ("kr-pass", PasswordSource.KEYRING)
    answers = iter(["typed-pass-1", "typed-pass-1"])
    got = resolve_password(path, creating=True, environ={}, from_keyring=lambda p: None,
                           ask=lambda prompt: next(answers), interactive=True)
    assert (got.value, got.source) == ("typed-pass-1", PasswordSource.PROMPT)
    assert repr(got).count("typed-pass-1") == 0


def test_no_password_source_without_a_terminal_explains_the_options(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="KEYSEAL_VAULT_PASSWORD"):
        resolve_password(tmp_path / "vault", creating=False, environ={},
                         from_keyring=lambda p: None, interactive=False)


def test_a_new_vault_password_must_be_typed_twice(tmp_path: Path) -> None:
    answers = iter(["first-password", "second-password"])
    with pytest.raises(VaultError, match="differ"):
        resolve_password(tmp_path / "vault", creating=True, environ={},
                         from_keyring=lambda p: None, ask=lambda prompt: next(answers),
                         interactive=True)
