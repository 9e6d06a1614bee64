"""The OKX envelope, on every status: ``{"code": "<string>", "msg": "...", "data": [...]}``."""

from __future__ import annotations

from typing import Any

import orjson

from keyseal.errors import OkxError


def encode(code: str, msg: str, data: Any) -> bytes:
    return orjson.dumps({"code": code, "msg": msg, "data": data})


def success(data: Any) -> tuple[int, bytes]:
    return 200, encode("0", "", data)


def failure(error: OkxError) -> tuple[int, bytes]:
    return error.http_status, encode(error.code, error.message, [])
