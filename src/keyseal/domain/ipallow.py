"""IP allow-lists: IPv4, IPv6 and CIDR entries, as OKX binds them to a key."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from keyseal import errors

MAX_ENTRIES = 20

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class IpAllowlist:
    """An empty allow-list permits every address."""

    entries: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: object, max_entries: int = MAX_ENTRIES) -> IpAllowlist:
        """``"1.2.3.4, 10.0.0.0/8 2001:db8::1"`` → allow-list; separators: commas or spaces;
        duplicates count once. Too many entries, or one that is not an address or network
        (or anything but a string) → 59503."""
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise errors.IP_FORMAT("a comma-separated string is expected")
        raw = list(dict.fromkeys(part for part in text.replace(",", " ").split() if part))
        if len(raw) > max_entries:
            raise errors.TOO_MANY_IPS(max_entries)
        entries: list[str] = []
        networks: list[Network] = []
        for part in raw:
            try:
                network = ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise errors.IP_FORMAT(f"{part[:60]!r} is not one", detail="bad allow-list entry") from None
            entries.append(part)
            networks.append(network)
        return cls(tuple(entries), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def wire(self) -> str:
        """Comma-joined, as OKX returns ``ip``; ``""`` when unbound."""
        return ",".join(self.entries)

    def permits(self, address: str) -> bool:
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)
