"""Which address a request comes from: the socket peer, or X-Forwarded-For when the peer is
a trusted proxy; only ever an address."""

from __future__ import annotations

import pytest

from keyseal.http.client_address import TrustedProxies

PROXY = "10.0.0.5"


@pytest.fixture
def proxies() -> TrustedProxies:
    return TrustedProxies(["10.0.0.0/24", "2001:db8::1"])


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert TrustedProxies([]).client_ip("10.0.0.5", "203.0.113.9") == "10.0.0.5"


def test_a_trusted_proxy_passes_on_the_first_untrusted_hop(proxies: TrustedProxies) -> None:
    assert proxies.client_ip(PROXY, "203.0.113.9") == "203.0.113.9"
    assert proxies.client_ip(PROXY, "198.51.100.1, 203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert proxies.client_ip("2001:db8::1", "203.0.113.9") == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_an_address(proxies: TrustedProxies) -> None:
    assert proxies.client_ip("203.0.113.50", "1.2.3.4") == "203.0.113.50"


@pytest.mark.parametrize("junk", ["junk", "1.2.3.4:8080", "[2001:db8::2]", "1.2.3.4/32",
                                  "fe80::1%eth0", "x" * 10_000, "203.0.113.9 <script>",
                                  "unknown", "1.2.3.999"])
def test_a_hop_that_is_not_an_address_is_ignored_and_the_peer_is_used(
        proxies: TrustedProxies, junk: str) -> None:
    assert proxies.client_ip(PROXY, junk) == PROXY
    assert proxies.client_ip(PROXY, f"203.0.113.9, {junk}") == PROXY


def test_hops_are_unmapped_and_written_canonically(proxies: TrustedProxies) -> None:
    assert proxies.client_ip(PROXY, "::ffff:203.0.113.9") == "203.0.113.9"
    assert proxies.client_ip(PROXY, "2001:DB8:0::9") == "2001:db8::9"
    assert proxies.client_ip(PROXY, "::ffff:10.0.0.9") == PROXY  # a trusted hop, mapped


def test_a_trusted_proxy_matches_when_its_address_is_ipv4_mapped(proxies: TrustedProxies) -> None:
    assert proxies.client_ip("::ffff:10.0.0.5", "203.0.113.9") == "203.0.113.9"
    mapped_config = TrustedProxies(["::ffff:10.0.0.0/120"])
    assert mapped_config.client_ip("10.0.0.5", "203.0.113.9") == "203.0.113.9"


def test_only_trusted_hops_leave_the_peer(proxies: TrustedProxies) -> None:
    assert proxies.client_ip(PROXY, "10.0.0.8, 10.0.0.9") == PROXY
    assert proxies.client_ip(PROXY, " , ") == PROXY
    assert proxies.client_ip(PROXY, None) == PROXY


def test_the_peer_is_unmapped() -> None:
    assert TrustedProxies([]).client_ip("::ffff:127.0.0.1", None) == "127.0.0.1"
