"""How a credential is shown to people: enough to recognise it, never enough to use it."""

from __future__ import annotations


def mask(value: str, head: int = 6, tail: int = 4) -> str:
    """``22582B…286D`` for a long value; ``****`` when showing ends would reveal too much."""
    if len(value) < head + tail + 8:
        return "****"
    return f"{value[:head]}…{value[-tail:]}"


def mask_secret(value: str) -> str:
    """``…286d``: a secret shows at most its last 4 characters, and only when long."""
    return f"…{value[-4:]}" if len(value) >= 16 else "****"
