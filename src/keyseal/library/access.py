"""What each of the host application's routes demands of a key: a permission (read, trade
or withdraw) and a rate limit — the team's own route table, read like Keyseal's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.gate.verifier import Guard

#: OKX's most common private-endpoint limit, per account and route
DEFAULT_RATE = Rate(20, 2.0)
_PERMISSIONS = {"read": Permission.READ, "read_only": Permission.READ,
                "trade": Permission.TRADE, "withdraw": Permission.WITHDRAW}


def permission_named(name: str | Permission) -> Permission:
    """``"read"`` / ``"read_only"``, ``"trade"`` or ``"withdraw"`` as a permission."""
    if isinstance(name, Permission):
        return name
    try:
        return _PERMISSIONS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"a route needs read, trade or withdraw, not {name!r}") from None


@dataclass(frozen=True, slots=True)
class Access:
    """What a route demands: ``permission`` and, per account, at most ``rate`` requests
    (``None``: no limit)."""

    permission: Permission
    rate: Rate | None = DEFAULT_RATE

    @classmethod
    def of(cls, value: str | Permission | Access) -> Access:
        return value if isinstance(value, Access) else cls(permission_named(value))

    def guard(self, rate_group: str) -> Guard:
        return Guard(self.permission, self.rate, rate_group)


Rule = str | Permission | Access | None  # None: the route is public, nothing is verified


@dataclass(frozen=True, slots=True)
class RouteAccess:
    """A route's demand and the gate's guard for it, built once."""

    pattern: str
    access: Access
    guard: Guard


@dataclass
class AccessTable:
    """Maps ``"METHOD /path"`` or ``"/path"`` (any method) to a rule; a pattern ending in
    ``/*`` covers everything under that prefix. The most specific entry wins: method and
    exact path, then exact path, then the longest prefix. A request no entry covers gets
    ``default`` (``None``: passed on unverified, for public routes and routes guarded by a
    ``require_key`` dependency)."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    default: Rule = None
    _exact: dict[tuple[str | None, str], RouteAccess | None] = field(init=False)
    _prefixes: list[tuple[str | None, str, RouteAccess | None]] = field(init=False)
    _default: RouteAccess | None = field(init=False)

    def __post_init__(self) -> None:
        self._exact = {}
        self._prefixes = []
        for pattern, rule in self.rules.items():
            method, _, path = pattern.strip().rpartition(" ")
            method_key = method.strip().upper() or None
            if not path.startswith("/"):
                raise ValueError(f"a route pattern is '/path' or 'METHOD /path', not {pattern!r}")
            found = _route_access(pattern.strip(), rule)
            if path.endswith("/*"):
                self._prefixes.append((method_key, path[:-1], found))
            else:
                self._exact[(method_key, path)] = found
        self._prefixes.sort(key=lambda entry: (-len(entry[1]), entry[0] is None))
        self._default = _route_access("*", self.default)

    def lookup(self, method: str, path: str) -> RouteAccess | None:
        named, found = self.match(method, path)
        return found if named else self._default

    def match(self, method: str, path: str) -> tuple[bool, RouteAccess | None]:
        """Whether an entry covers the request, and its demand (``None``: public)."""
        exact = self._exact
        for key in ((method, path), (None, path)):
            if key in exact:
                return True, exact[key]
        for prefix_method, prefix, found in self._prefixes:
            if path.startswith(prefix) and prefix_method in (None, method):
                return True, found
        return False, None


def _route_access(pattern: str, rule: Rule) -> RouteAccess | None:
    if rule is None:
        return None
    access = Access.of(rule)
    return RouteAccess(pattern, access, access.guard(pattern))
