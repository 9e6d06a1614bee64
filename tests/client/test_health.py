"""The key health check against a scripted OKX: verdicts, hints, warnings and expiry risk."""

from __future__ import annotations

import re

import httpx
import pytest

from keyseal.client import check_key
from keyseal.client.health import HINTS, hint_for, parse_permission_list
from tests.client.okx_fake import FakeOkx, envelope


def check(okx: FakeOkx, perm: str = "read_only", ip: str = "", extra: dict | None = None,
          **kwargs):
    okx.results["/api/v5/account/config"] = [
        {"uid": "1001", "mainUid": "1001", "label": "bot", "perm": perm, "ip": ip,
         **(extra or {})}]
    kwargs.setdefault("clock", okx.time)
    return check_key(okx.creds, base_url="https://okx.test", demo=okx.demo,
                     transport=httpx.MockTransport(okx), **kwargs)


def test_a_working_ip_bound_key_is_ok_and_described(okx: FakeOkx) -> None:
    report = check(okx, perm="read_only,trade", ip="10.0.0.1,10.0.0.2", name="bot",
                   require={"read_only", "trade"}, forbid={"withdraw"})
    assert report.ok and report.works and report.refusal is None
    assert report.perms == ["read_only", "trade"] and report.ips == ["10.0.0.1", "10.0.0.2"]
    assert (report.uid, report.label) == ("1001", "bot")
    assert report.clock_skew_ms == 0 and report.idle_expiry_days is None
    assert report.warnings == [] and report.failures == []
    assert okx.creds.api_key not in str(report.to_json())


def test_require_and_forbid_fail_the_check(okx: FakeOkx) -> None:
    report = check(okx, perm="read_only,trade,withdraw", ip="10.0.0.1",
                   require={"read_only"}, forbid={"withdraw"})
    assert report.works and not report.ok
    assert report.failures == ["Forbidden permission withdraw is granted to this key."]
    assert any("trade and withdraw" in w for w in report.warnings)
    missing = check(okx, perm="read_only", ip="10.0.0.1", require={"trade"})
    assert not missing.ok and "trade is missing" in missing.failures[0]


def test_a_key_without_ip_allow_list_risks_idle_deletion(okx: FakeOkx) -> None:
    report = check(okx, perm="read_only,withdraw", idle_days=14)
    assert report.ok, "warnings alone do not fail a check"
    assert report.idle_expiry_days == 14
    text = " ".join(report.warnings)
    assert "No IP allow-list" in text and "14 days" in text and "move funds out" in text


def test_okx_deletes_only_trade_and_withdraw_keys_when_idle(okx: FakeOkx) -> None:
    """OKX's rule, as OKX states it: a read-only key without an allow-list is not deleted."""
    reader = check(okx, perm="read_only")
    assert reader.idle_expiry_days is None
    assert not any("deleted after" in w for w in reader.warnings)
    trader = check(okx, perm="read_only,trade")
    assert trader.idle_expiry_days == 14 and "OKX's rule" in (trader.expiry_rule or "")


def test_a_keyseal_servers_own_expiry_rule_wins(okx: FakeOkx) -> None:
    rule = "live keys without an IP allow-list are deleted after 7 idle days"
    said = check(okx, perm="read_only", extra={"keysealIdleExpiryDays": "7",
                                               "keysealExpiryRule": rule})
    assert said.idle_expiry_days == 7 and rule in (said.expiry_rule or "")
    assert any("deleted after 7 days" in w for w in said.warnings)
    never = check(okx, perm="read_only,trade", extra={"keysealIdleExpiryDays": "",
                                                      "keysealExpiryRule": "keys never expire"})
    assert never.idle_expiry_days is None


def test_demo_keys_do_not_expire(okx: FakeOkx) -> None:
    okx.demo = True
    report = check(okx, perm="read_only,trade")
    assert report.ok and report.environment == "demo" and report.idle_expiry_days is None


@pytest.mark.parametrize("code", ["50113", "50105", "50110", "50101", "50111", "50100"])
def test_each_refusal_is_reported_with_its_hint(okx: FakeOkx, code: str) -> None:
    okx.refuse.append(envelope(code, f"message {code}", status=401))
    report = check(okx)
    assert not report.ok and not report.works and report.perms is None
    assert report.refusal.code == code and report.refusal.msg == f"message {code}"
    assert report.refusal.http_status == 401 and report.refusal.hint == HINTS[code]


def test_hints_say_what_to_do() -> None:
    assert "swapped" in hint_for("50113")
    assert "passphrase" in hint_for("50105")
    assert "clock" in hint_for("50102")
    assert "allow-list" in hint_for("50110")
    assert "demo" in hint_for("50101")
    assert "deleted" in hint_for("50111")
    assert "disabled" in hint_for("50100")
    assert hint_for("59999").startswith("Read the server's message")


def test_a_skewed_clock_is_reported_but_the_key_still_checked(okx: FakeOkx, skewed) -> None:
    report = check(okx, ip="10.0.0.1", clock=skewed(60))
    assert report.ok
    assert report.clock_skew_ms == pytest.approx(-60_000)
    assert any("-60.0 s off" in w and "50102" in w for w in report.warnings)


def test_small_skew_is_a_warning_only_past_five_seconds(okx: FakeOkx, skewed) -> None:
    assert check(okx, ip="10.0.0.1", clock=skewed(2)).warnings == []
    [warning] = check(okx, ip="10.0.0.1", clock=skewed(-12)).warnings
    assert "+12.0 s off" in warning


def test_permission_lists_are_validated() -> None:
    assert parse_permission_list("read,trade") == {"read_only", "trade"}
    assert parse_permission_list("") == frozenset()
    with pytest.raises(ValueError, match="unknown permission admin"):
        parse_permission_list("trade,admin")


def test_hints_name_only_commands_and_options_that_exist() -> None:
    """A hint that sends a user to a page or a command that does not exist is worse than
    none: every `keyseal …` command and every --option a hint names is real."""
    from typer.testing import CliRunner

    from keyseal.cli import app

    runner = CliRunner()
    add_help = runner.invoke(app, ["vault", "add", "--help"], env={"COLUMNS": "200"}).stdout
    for code, hint in HINTS.items():
        assert "dashboard" not in hint, code  # there is none yet
        for command in re.findall(r"`keyseal ((?:[a-z][a-z-]* ?)+)", hint):
            result = runner.invoke(app, [*command.split(), "--help"])
            assert result.exit_code == 0, (code, command)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]+", hint):
            assert option in add_help, (code, option)
