"""Key changes pushed to every serving process through Redis pub/sub, so a key disabled,
deleted, restricted or re-bound anywhere (any process, the CLI) is refused everywhere within
milliseconds, not at the next poll of the change log.

The push only hurries what the change log already guarantees: it is published after the
transaction that wrote the change-log row has committed, each process drops what it cached
about the changed keys as soon as the message arrives, and a process that missed a message
(Redis away, not yet subscribed) still finds the change in the log (``ChangeFollower``), which
stays the truth. A message carries no secret: the kind of change, the key id, the account.

Why Redis and not PostgreSQL's LISTEN/NOTIFY: the processes that need the push are those
that share Redis for their limits already, Redis fans out without holding a database
connection per process open for it, and SQLite, which has no NOTIFY, works the same. Without
Redis the processes rely on the change log alone (polled every 0.2 s)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from keyseal.services.runtime import Runtime
from keyseal.store.changes import Change

log = logging.getLogger("keyseal.redis")
CHANNEL = "changes"
_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def channel(prefix: str) -> str:
    return prefix + CHANNEL


def encode(changes: list[Change], published_ms: int) -> bytes:
    return orjson.dumps({"at": published_ms,
                         "changes": [[c.kind, c.api_key, c.account_id] for c in changes]})


def decode(data: bytes) -> tuple[list[Change], int | None]:
    """The changes of one message and when it was published (epoch ms); whatever is not one
    is ignored (the log has the truth)."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return [], None
    if not isinstance(message, dict) or not isinstance(rows := message.get("changes"), list):
        return [], None
    at = message.get("at")
    changes = [Change(0, kind, key, account) for row in rows
               if isinstance(row, list) and len(row) == 3
               for kind, key, account in [row]
               if isinstance(kind, str) and (key is None or isinstance(key, str))
               and (account is None or isinstance(account, int))]
    return changes, at if isinstance(at, int) and not isinstance(at, bool) else None


class ChangePublisher:
    """An after-commit listener (``Runtime.after_commit``): publishes each committed unit of
    work's changes. A failure is logged once, until a publish succeeds again; the change is
    committed whatever happens here."""

    def __init__(self, url: str, prefix: str, timeout_s: float) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s,
                                            socket_connect_timeout=timeout_s)
        self._channel = channel(prefix)
        self._failing = False

    def __call__(self, changes: list[Any]) -> None:
        try:
            self._client.publish(self._channel, encode(changes, int(time.time() * 1000)))
        except _FAILURES as failure:
            if not self._failing:
                self._failing = True
                log.warning("could not push key changes through Redis (%s); other processes "
                            "see them at their next read of the change log",
                            type(failure).__name__)
            return
        if self._failing:
            self._failing = False
            log.warning("key changes are pushed through Redis again")

    def close(self) -> None:
        self._client.close()


def install_publisher(rt: Runtime) -> None:
    """Push this runtime's committed changes when Redis is configured."""
    scaleout = rt.settings.scaleout
    if scaleout.redis_url:
        rt.after_commit.append(ChangePublisher(scaleout.redis_url, scaleout.redis_prefix,
                                               scaleout.redis_timeout_s))


async def follow(rt: Runtime, apply: Callable[[list[Change]], None],
                 catch_up: Callable[[], Awaitable[None]],
                 lag: Callable[[float], None] | None = None) -> None:
    """Subscribe and ``apply`` every pushed change as it arrives, for as long as the process
    serves; after each (re)subscription ``catch_up`` reads the log for what was pushed while
    not subscribed. Redis away: retried every ``redis_retry_s``. ``lag`` is told, for each
    message, the seconds from its publication to its application here (by the two hosts'
    clocks: across hosts it is as exact as their clocks agree)."""
    scaleout = rt.settings.scaleout
    # no read timeout: a subscriber waits for messages; a stopped Redis closes the socket
    client = aioredis.Redis.from_url(scaleout.redis_url,
                                     socket_connect_timeout=scaleout.redis_timeout_s)
    away = False
    try:
        while True:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel(scaleout.redis_prefix))
                if away:
                    away = False
                    log.warning("following pushed key changes through Redis again")
                try:
                    await catch_up()
                except Exception:  # the database away too: the follower's poll retries
                    log.exception("could not read the change log after subscribing")
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        changes, published_ms = decode(message["data"])
                        apply(changes)
                        if lag is not None and published_ms is not None:
                            lag(max(0.0, time.time() - published_ms / 1000))
            except _FAILURES as failure:
                if not away:
                    away = True
                    log.warning("lost the push of key changes from Redis (%s); following "
                                "the change log alone until it is back", type(failure).__name__)
            finally:
                with contextlib.suppress(*_FAILURES):
                    await pubsub.aclose()
            await asyncio.sleep(scaleout.redis_retry_s)
    finally:
        await client.aclose()
