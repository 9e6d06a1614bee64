"""API-key permissions: read_only is always implied; trade and withdraw are granted."""

from __future__ import annotations

import enum

from keyseal import errors


class Permission(enum.IntFlag):
    READ = 1
    TRADE = 2
    WITHDRAW = 4

    @classmethod
    def parse(cls, text: str) -> Permission:
        """``"read_only,trade"`` (commas or spaces) → flags; read is always added.

        Raises ``OkxError`` 51000 for an unknown name, naming it.
        """
        granted = cls.READ
        for name in text.replace(" ", ",").split(","):
            name = name.strip().lower()
            if not name:
                continue
            flag = _BY_NAME.get(name)
            if flag is None:
                raise errors.PARAM_ERROR("perm", detail=f"unknown permission {name!r}")
            granted |= flag
        return granted

    def wire(self) -> str:
        """The OKX wire form, e.g. ``read_only,trade,withdraw`` (read first)."""
        return ",".join(name for name, flag in _WIRE_ORDER if flag in self)


_BY_NAME = {"read_only": Permission.READ, "read": Permission.READ,
            "trade": Permission.TRADE, "withdraw": Permission.WITHDRAW}
_WIRE_ORDER = (("read_only", Permission.READ), ("trade", Permission.TRADE),
               ("withdraw", Permission.WITHDRAW))
