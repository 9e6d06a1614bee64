"""JSON that means one thing: orjson's strict parse, then a refusal of any object that names
a key twice (RFC 8259 leaves such an object's meaning to the reader; most keep the last value,
some the first, so two services behind one proxy could act on different orders)."""

from __future__ import annotations

import json
from typing import Any

import orjson

from keyseal import errors


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise errors.AMBIGUOUS(f'the JSON key "{name[:40]}" appears twice in one object')
        found[name] = value
    return found


def loads(data: bytes | str) -> Any:
    """The parsed value; ``orjson.JSONDecodeError`` when it is not JSON (or not UTF-8), and
    70016 when an object repeats a key (nesting deeper than the second pass can follow is a
    ``JSONDecodeError`` too, never a ``RecursionError``). The second pass runs only over text that has an
    object with more than one key, and costs a few microseconds on an OKX-sized body."""
    value = orjson.loads(data)
    text = data if isinstance(data, str) else data.decode("utf-8")
    if "{" in text and "," in text:
        try:
            json.loads(text, object_pairs_hook=_refuse_repeats)
        except RecursionError:  # orjson allows 1,024 levels; Python's stack may not
            raise orjson.JSONDecodeError("nested too deeply", text, 0) from None
    return value
