"""Which address a request comes from. The socket peer, unless the peer is a configured
trusted proxy: then the nearest ``X-Forwarded-For`` hop that is not itself trusted.

Whatever is returned is an address written canonically (IPv4-mapped IPv6 as IPv4): it is
recorded as a key's last used IP and in the audit trail, so a hop that does not parse as an
address makes the whole header ignored rather than passed on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from keyseal.domain.ipallow import Address, Network, parse_address, unmapped_network

#: (peer, X-Forwarded-For) pairs remembered; past it the memo starts again (bounded memory)
_MEMO_SIZE = 4096


class TrustedProxies:
    def __init__(self, proxies: Iterable[str]) -> None:
        """``proxies``: addresses or CIDR networks (``--trusted-proxy``)."""
        self._networks: tuple[Network, ...] = tuple(
            unmapped_network(ipaddress.ip_network(p, strict=False)) for p in proxies)
        # the answer depends on the two strings alone, and clients come again and again
        # from the same addresses: parsing them with ipaddress is a fifth of a warm request
        self._memo: dict[tuple[str, str | None], str] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        memo = self._memo
        found = memo.get((peer, forwarded_for))
        if found is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            found = memo[(peer, forwarded_for)] = self._client_ip(peer, forwarded_for)
        return found

    def _client_ip(self, peer: str, forwarded_for: str | None) -> str:
        peer_ip = parse_address(peer)
        shown_peer = peer if peer_ip is None else str(peer_ip)
        if not self._networks or not forwarded_for or not self._trusts(peer_ip):
            return shown_peer
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            if not hop:
                continue
            ip = parse_address(hop)
            if ip is None:
                return shown_peer  # a proxy passed on junk: believe none of the header
            if not self._trusts(ip):
                return str(ip)
        return shown_peer

    def trusts_peer(self, peer: str) -> bool:
        """Whether the socket peer is a trusted proxy (its X-Forwarded-* headers count)."""
        return self._trusts(parse_address(peer))

    def _trusts(self, ip: Address | None) -> bool:
        return ip is not None and any(ip in network for network in self._networks)
