"""What a team would write instead of Keyseal: ``GET /api/v5/account/balance`` as a plain
FastAPI app whose dependency checks an OKX-style HMAC signature against keys held in memory
(no database, no permissions, no rate limits, no IP lists: less than Keyseal does). Served by
uvicorn, one worker, for the comparison in benchmarks/run.py.

``KEYSEAL_PEER_KEYS`` is a JSON object ``{api_key: [secret, passphrase]}``;
``KEYSEAL_PEER_BODY`` the response body to send (the size of Keyseal's)."""

from __future__ import annotations

import base64
import hmac
import json
import os
import time
from datetime import datetime

from fastapi import Depends, FastAPI, HTTPException, Request, Response

KEYS: dict[str, tuple[str, str]] = {k: (s, p) for k, (s, p) in json.loads(
    os.environ.get("KEYSEAL_PEER_KEYS", "{}")).items()}
BODY = os.environ.get("KEYSEAL_PEER_BODY", '{"code":"0","msg":"","data":[]}').encode()
app = FastAPI()


async def signed(request: Request) -> str:
    h = request.headers
    key, sign = h.get("ok-access-key", ""), h.get("ok-access-sign", "")
    ts, passphrase = h.get("ok-access-timestamp", ""), h.get("ok-access-passphrase", "")
    found = KEYS.get(key)
    if found is None or not hmac.compare_digest(found[1], passphrase):
        raise HTTPException(401, "invalid key")
    sent = datetime.fromisoformat(ts).timestamp()
    if abs(time.time() - sent) > 30:
        raise HTTPException(401, "expired")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    expected = base64.b64encode(hmac.digest(found[0].encode(), (
        ts + request.method + target).encode() + body, "sha256")).decode()
    if not hmac.compare_digest(expected, sign):
        raise HTTPException(401, "invalid sign")
    return key


@app.get("/api/v5/account/balance")
async def balance(key: str = Depends(signed)) -> Response:
    return Response(BODY, media_type="application/json")
