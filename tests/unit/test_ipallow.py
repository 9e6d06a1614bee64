"""IP allow-lists mean what they say: strict entries, no list wider than the minimum prefix,
IPv4-mapped entries and peers read as IPv4."""

from __future__ import annotations

import pytest

from keyseal import errors
from keyseal.domain.ipallow import AllowlistRules, IpAllowlist


def refusal(text: object, rules: AllowlistRules | None = None) -> errors.OkxError:
    with pytest.raises(errors.OkxError) as refused:
        IpAllowlist.parse(text) if rules is None else IpAllowlist.parse(text, rules)
    return refused.value


@pytest.mark.parametrize("entry", ["1.2.3.4/0", "10.0.0.1/24", "1.2.3.4/024", "1.2.3.0/255.255.255.0",
                                   "1.2.3.4/ 24", "fe80::1%eth0", "2001:db8::1/64"])
def test_an_entry_with_host_bits_or_odd_notation_is_an_error(entry: str) -> None:
    refused = refusal(f"10.0.0.1, {entry}")
    assert refused.code == "70013" and entry[:8] in refused.message


def test_a_host_bits_error_says_which_network_was_meant() -> None:
    assert "10.0.0.0/24" in refusal("10.0.0.1/24").message
    # but never suggests a network that admits every address
    slash_zero = refusal("1.2.3.4/0").message
    assert "0.0.0.0/0" not in slash_zero and "single address 1.2.3.4" in slash_zero


@pytest.mark.parametrize("entry", ["0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"])
def test_an_entry_admitting_every_address_is_refused(entry: str) -> None:
    refused = refusal(entry)
    assert refused.code == "70014" and "admits every address" in refused.message


@pytest.mark.parametrize("entry", ["10.0.0.0/8", "10.0.0.0/15", "2001:db8::/32", "2001:db8::/47",
                                   "0.0.0.0/1", "::ffff:10.0.0.0/104"])
def test_an_entry_wider_than_the_minimum_prefix_is_refused(entry: str) -> None:
    refused = refusal(entry)
    assert refused.code == "70014" and "/16" in refused.message and "/48" in refused.message


def test_the_minimum_prefix_is_a_setting() -> None:
    assert IpAllowlist.parse("10.0.0.0/8", AllowlistRules(min_ipv4_prefix=8)).bound
    assert refusal("10.1.0.0/16", AllowlistRules(min_ipv4_prefix=24)).code == "70014"
    assert refusal("2001:db8::/56", AllowlistRules(min_ipv6_prefix=64)).code == "70014"
    with pytest.raises(ValueError, match="min_ipv4_prefix"):
        AllowlistRules(min_ipv4_prefix=0)


def test_the_narrowest_allowed_networks_are_accepted() -> None:
    allowlist = IpAllowlist.parse("10.1.0.0/16 2001:db8:1::/48")
    assert allowlist.bound and allowlist.wire() == "10.1.0.0/16,2001:db8:1::/48"
    assert allowlist.permits("10.1.200.3") and not allowlist.permits("10.2.0.1")


def test_ipv4_mapped_entries_are_unmapped() -> None:
    allowlist = IpAllowlist.parse("::ffff:1.2.3.4, ::ffff:10.1.2.0/120")
    assert allowlist.wire() == "1.2.3.4,10.1.2.0/24"
    assert allowlist.permits("1.2.3.4") and allowlist.permits("::ffff:1.2.3.4")
    assert allowlist.permits("10.1.2.77") and not allowlist.permits("10.1.3.1")
    assert IpAllowlist.parse("1.2.3.4 ::ffff:1.2.3.4").wire() == "1.2.3.4"  # one entry


def test_an_ipv6_network_spanning_mapped_addresses_is_refused() -> None:
    assert refusal("::/64").code == "70013"


def test_an_empty_list_is_no_binding() -> None:
    assert not IpAllowlist.parse("").bound and not IpAllowlist.parse(None).bound


@pytest.mark.parametrize("legacy", ["1.2.3.4/0", "0.0.0.0/0", "10.0.0.0/8", "10.0.0.1, ::/0"])
def test_a_stored_list_from_before_still_loads_but_is_no_binding(legacy: str) -> None:
    allowlist = IpAllowlist.stored(legacy)
    assert allowlist.wire() == legacy.replace(" ", "") and not allowlist.bound


def test_a_stored_narrow_list_is_a_binding() -> None:
    stored = IpAllowlist.stored("10.0.0.1,::ffff:10.0.0.2")
    assert stored.bound and stored.permits("10.0.0.2")
