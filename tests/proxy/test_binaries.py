"""Without nginx or Caddy the proxy tests skip, saying so; CI, which sets
KEYSEAL_REQUIRE_SERVICES, fails instead."""

from __future__ import annotations

import shutil

import pytest

from tests.proxy.conftest import binary


def test_a_missing_proxy_skips_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.delenv("KEYSEAL_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install caddy"):
        binary("caddy")


def test_a_missing_proxy_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.setenv("KEYSEAL_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="nginx is not installed"):
        binary("nginx")
