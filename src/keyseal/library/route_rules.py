"""Forward-auth's route rules: what each route of the team's API demands of a key, read from a
TOML file or ``--route`` flags, with a default for the routes they do not name.

```toml
default = "method"   # GET and HEAD need read, every other method trade (the default);
                     # or "read", "trade", "withdraw", "public"
rate = "20/2s"       # per account and route unless a route says otherwise; "off": no limit

[routes]
"GET /orders" = "read"
"POST /orders" = { permission = "trade", rate = "60/2s" }
"/payouts/*" = "withdraw"
"/health" = "public"   # passed on without a key, and without X-Keyseal-* headers
```

Paths are matched after the proxy's target is decoded and normalised (``%2F``, ``//``, ``.``
and ``..`` resolved, no trailing ``/``), as an upstream would read them, so ``/orders/../payouts``
is judged as ``/payouts``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from keyseal.gate.ratelimit import Rate
from keyseal.library.access import DEFAULT_RATE, Access, AccessTable, RouteAccess, Rule

READ_METHODS = frozenset({"GET", "HEAD"})
DEFAULTS = ("method", "read", "trade", "withdraw", "public")
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*(\d{1,9}(?:\.\d+)?)\s*s?\s*$")


class RulesError(ValueError):
    """A rules file or flag that cannot be used; the message says which entry and why."""


def parse_rate(text: str) -> Rate | None:
    """``"20/2s"`` (20 requests per 2 seconds) or ``"off"``."""
    if text.strip().lower() == "off":
        return None
    found = _RATE.match(text)
    if not found or int(found.group(1)) == 0 or float(found.group(2)) == 0:
        raise RulesError(f"a rate is N/Ts (e.g. 20/2s) or off, not {text!r}")
    return Rate(int(found.group(1)), float(found.group(2)))


@dataclass
class RouteRules:
    """The demand of every route: a named one (``routes``: ``"METHOD /path"``, ``"/path"``,
    ``"/prefix/*"``, as library mode's table), else ``default``."""

    routes: Mapping[str, Rule]
    default: str = "method"
    rate: Rate | None = DEFAULT_RATE

    def __post_init__(self) -> None:
        if self.default not in DEFAULTS:
            raise RulesError(f"default is one of {', '.join(DEFAULTS)}, not {self.default!r}")
        try:
            self._table = AccessTable(self.routes)
        except ValueError as bad:
            raise RulesError(str(bad)) from None
        self._read = self._default_route("read")
        self._trade = self._default_route("trade")
        self._named = None if self.default in ("method", "public") else \
            self._default_route(self.default)

    def _default_route(self, permission: str) -> RouteAccess:
        access = Access(Access.of(permission).permission, self.rate)
        pattern = f"default {permission}"  # one rate bucket per account for unnamed routes
        return RouteAccess(pattern, access, access.guard(pattern))

    def lookup(self, method: str, path: str) -> RouteAccess | None:
        """The route's demand; ``None``: public, passed on unverified."""
        named, found = self._table.match(method, path)
        if named:
            return found
        if self.default == "public":
            return None
        if self._named is not None:
            return self._named
        return self._read if method in READ_METHODS else self._trade

    @classmethod
    def load(cls, path: Path | None, flags: Iterable[str] = ()) -> RouteRules:
        """The rules of a TOML file (``None``: none), then ``--route 'PATTERN=PERMISSION'``
        flags over them."""
        settings: dict[str, Any] = {}
        if path is not None:
            try:
                settings = tomllib.loads(Path(path).read_text())
            except OSError as failure:
                raise RulesError(f"cannot read {path}: {failure.strerror or failure}") from None
            except tomllib.TOMLDecodeError as bad:
                raise RulesError(f"{path} is not TOML: {bad}") from None
        unknown = set(settings) - {"default", "rate", "routes"}
        if unknown:
            raise RulesError(f"unknown setting(s) {', '.join(sorted(unknown))}: expected "
                             "default, rate and [routes]")
        rate = parse_rate(str(settings.get("rate", "20/2s")))
        entries = dict(settings.get("routes", {}))
        for flag in flags:
            pattern, sep, value = flag.rpartition("=")
            if not sep or not pattern.strip():
                raise RulesError(f"--route is 'PATTERN=PERMISSION', e.g. 'POST /orders=trade', "
                                 f"not {flag!r}")
            entries[pattern.strip()] = value.strip()
        routes = {pattern: _rule(pattern, value, rate) for pattern, value in entries.items()}
        return cls(routes, str(settings.get("default", "method")), rate)


def _rule(pattern: str, value: Any, rate: Rate | None) -> Rule:
    if isinstance(value, str):
        name, value = value, {}
    elif isinstance(value, dict):
        name = value.get("permission", "")
        if set(value) - {"permission", "rate"}:
            raise RulesError(f"route {pattern!r}: expected permission and rate")
    else:
        raise RulesError(f"route {pattern!r}: expected a permission or a table")
    if str(name).strip().lower() == "public":
        return None
    try:
        permission = Access.of(str(name)).permission
    except ValueError:
        raise RulesError(f"route {pattern!r} needs read, trade, withdraw or public, "
                         f"not {name!r}") from None
    own_rate = parse_rate(str(value["rate"])) if "rate" in value else rate
    return Access(permission, own_rate)


def route_path(raw_path: bytes) -> str:
    """The path an upstream would serve: percent-decoded, empty and ``.`` segments dropped,
    ``..`` resolved (never above ``/``), without a trailing ``/``."""
    segments: list[str] = []
    for segment in unquote(raw_path.decode("latin-1"), errors="replace").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)

