"""The OKX envelope, on every status: ``{"code": "<string>", "msg": "...", "data": [...]}``.

A refusal may add top-level fields of Keyseal's own after those three (``skewMs`` on 50102,
``explain`` on 50113): OKX clients read ``code`` and ``msg`` and ignore the rest."""

from __future__ import annotations

from typing import Any

import orjson

from keyseal.errors import OkxError


def encode(code: str, msg: str, data: Any) -> bytes:
    return orjson.dumps({"code": code, "msg": msg, "data": data})


def success(data: Any) -> tuple[int, bytes]:
    return 200, encode("0", "", data)


def failure(error: OkxError) -> tuple[int, bytes]:
    if error.extra:
        return error.http_status, orjson.dumps(
            {"code": error.code, "msg": error.message, "data": [], **error.extra})
    return error.http_status, encode(error.code, error.message, [])
