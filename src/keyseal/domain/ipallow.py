"""IP allow-lists: IPv4, IPv6 and CIDR entries, as OKX binds them to a key.

An entry means what it says: ``1.2.3.4/0`` is a mistake, not ``0.0.0.0/0``, and a list that
would admit every address (or a network wider than the minimum prefix) is refused, so that a
key which looks bound to IPs really is.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from keyseal import errors

MAX_ENTRIES = 20

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


@dataclass(frozen=True, slots=True)
class AllowlistRules:
    """How wide an entry may be: a network shorter than these prefixes is refused."""

    min_ipv4_prefix: int = 16
    min_ipv6_prefix: int = 48
    max_entries: int = MAX_ENTRIES

    def __post_init__(self) -> None:
        if not 1 <= self.min_ipv4_prefix <= 32:
            raise ValueError(f"min_ipv4_prefix must be 1 to 32, not {self.min_ipv4_prefix}")
        if not 1 <= self.min_ipv6_prefix <= 128:
            raise ValueError(f"min_ipv6_prefix must be 1 to 128, not {self.min_ipv6_prefix}")

    def min_prefix(self, network: Network) -> int:
        return self.min_ipv4_prefix if network.version == 4 else self.min_ipv6_prefix


DEFAULT_RULES = AllowlistRules()


def unmapped(ip: Address) -> Address:
    """``::ffff:1.2.3.4`` is the IPv4 address 1.2.3.4 (a dual-stack socket reports it so)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_address(text: str) -> Address | None:
    """One plain address, unmapped; None for anything else (a name, a network, a scoped
    address, garbage)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        return None
    return unmapped(ip)


def unmapped_network(network: Network) -> Network:
    """``::ffff:10.0.0.0/104`` is the IPv4 network 10.0.0.0/8; any other network is itself."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        base = network.network_address.ipv4_mapped
        assert base is not None
        return ipaddress.IPv4Network(f"{base}/{network.prefixlen - 96}")
    return network


@dataclass(frozen=True, slots=True)
class IpAllowlist:
    """An empty allow-list permits every address."""

    entries: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()
    #: every entry was at least as narrow as the minimum prefix when the list was read;
    #: only such a list counts as a binding (for the expiry rule and for 50035)
    narrow: bool = True

    @classmethod
    def parse(cls, text: object, rules: AllowlistRules = DEFAULT_RULES) -> IpAllowlist:
        """``"1.2.3.4, 10.0.0.0/24 2001:db8::1"`` → allow-list; separators: commas or spaces;
        duplicates count once. Too many entries (59503), an entry that is not exactly an
        address or a network with its host bits clear, or anything but a string (70013), or
        one wider than the rules allow (70014), is refused."""
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise errors.IP_FORMAT("a comma-separated string is expected")
        raw = list(dict.fromkeys(part for part in text.replace(",", " ").split() if part))
        if len(raw) > rules.max_entries:
            raise errors.TOO_MANY_IPS(rules.max_entries)
        found: dict[Network, str] = {}
        for part in raw:
            network = _parse_entry(part)
            _check_width(part, network, rules)
            network = _unmapped_entry(part, network)
            _check_width(part, network, rules)
            found.setdefault(network, _canonical(network))
        return cls(tuple(found.values()), tuple(found))

    @classmethod
    def stored(cls, text: str, rules: AllowlistRules = DEFAULT_RULES) -> IpAllowlist:
        """A list as the database holds it. Rows written before entries were read strictly
        may hold ``1.2.3.4/0`` or ``10.0.0.0/8``: they load as they always matched, but a list
        with an entry wider than ``rules`` does not count as ``bound``."""
        entries: list[str] = []
        networks: list[Network] = []
        for part in dict.fromkeys(text.replace(",", " ").split()):
            try:
                network = ipaddress.ip_network(part, strict=False)
            except ValueError:
                continue  # matches nothing, as before
            entries.append(part)
            networks.append(unmapped_network(network))
        narrow = all(n.prefixlen >= rules.min_prefix(n) for n in networks)
        return cls(tuple(entries), tuple(networks), narrow)

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def bound(self) -> bool:
        """A real binding: some entries, and none that admits far more than it names."""
        return bool(self.networks) and self.narrow

    def wire(self) -> str:
        """Comma-joined, as OKX returns ``ip``; ``""`` when unbound."""
        return ",".join(self.entries)

    def permits(self, address: str) -> bool:
        if not self.networks:
            return True
        ip = parse_address(address)
        return ip is not None and any(ip in network for network in self.networks)


def _parse_entry(part: str) -> Network:
    """Exactly ``ADDRESS`` or ``ADDRESS/PREFIX`` (decimal, host bits clear)."""
    address, slash, prefix = part.partition("/")
    if slash and not (prefix.isascii() and prefix.isdigit() and str(int(prefix)) == prefix):
        raise errors.IP_FORMAT(f"{_shown(part)}: the prefix length must be a number such as /24",
                               detail="bad allow-list entry")
    if "%" in address:
        raise errors.IP_FORMAT(f"{_shown(part)}: a scoped IPv6 address cannot be bound",
                               detail="bad allow-list entry")
    try:
        return ipaddress.ip_network(part, strict=True)
    except ValueError as why:
        problem = "is not an address or network"
        if "host bits set" in str(why):
            loose = ipaddress.ip_network(part, strict=False)
            problem = (f"has host bits set: write the single address {address}"
                       if loose.prefixlen == 0 else  # never suggest "every address"
                       f"has host bits set: write the network {loose}, or the single address "
                       f"{address}")
        raise errors.IP_FORMAT(f"{_shown(part)} {problem}", detail="bad allow-list entry") from None


def _check_width(part: str, network: Network, rules: AllowlistRules) -> None:
    if network.prefixlen < rules.min_prefix(network):
        how = ("admits every address" if network.prefixlen == 0
               else f"is wider than /{rules.min_prefix(network)}")
        raise errors.IP_TOO_WIDE(_shown(part), how, rules.min_ipv4_prefix,
                                 rules.min_ipv6_prefix, detail="allow-list entry too wide")


def _unmapped_entry(part: str, network: Network) -> Network:
    """An IPv4-mapped IPv6 entry is the IPv4 one it names; one that spans mapped and other
    addresses says nothing clear about IPv4 peers, so it is refused."""
    if not isinstance(network, ipaddress.IPv6Network) or not network.overlaps(_MAPPED):
        return network
    if not network.subnet_of(_MAPPED):
        raise errors.IP_FORMAT(f"{_shown(part)} spans IPv4-mapped addresses; bind IPv4 "
                               "networks as IPv4", detail="bad allow-list entry")
    return unmapped_network(network)


def _canonical(network: Network) -> str:
    """``1.2.3.4`` for a single address, ``10.0.0.0/24`` for a network."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _shown(part: str) -> str:
    return repr(part[:60])
