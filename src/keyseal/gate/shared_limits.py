"""Rate limits shared by every process on one Redis: the same GCRA as ``ratelimit.py``, run
as one Lua script per check, so a check over several buckets is atomic and all-or-none
across processes, exactly as ``RateLimiter.take`` is within one.

Times are Redis's own clock (``TIME``), so hosts whose clocks differ still share one
reckoning; a theoretical arrival time is kept in whole microseconds (exact in Lua's doubles)
with a time to live of its distance from now, so an idle bucket costs no memory. When Redis
is away the check falls back to the process's own limiter (``RedisLink``): requests keep
being served, each process then admitting up to the full limit by itself."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from keyseal.clock import Clock
from keyseal.gate.ratelimit import Charge, Rate, RateLimiter
from keyseal.gate.redis_link import REDIS_ERRORS, RedisLink

# KEYS: the buckets. ARGV: now in µs ("" = Redis's TIME), commit (1/0), then per bucket its
# interval (µs, whole), its period (µs) and its count. Returns 1 when every bucket took its
# count (and, with commit, keeps the new arrival times), 0 changing nothing otherwise.
GCRA = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local pending, order = {}, {}
for i, key in ipairs(KEYS) do
  local at = 3 + (i - 1) * 3
  local interval, period, count = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local tat = pending[key]
  if tat == nil then
    tat = tonumber(redis.call('GET', key) or '0')
    order[#order + 1] = key
  end
  if tat < now then tat = now end
  local new = tat + interval * count
  if new - now > period then return 0 end
  pending[key] = new
end
if ARGV[2] == '1' then
  for _, key in ipairs(order) do
    local tat = pending[key]
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
  end
end
return 1
"""


class SharedLimiter:
    def __init__(self, link: RedisLink, local: RateLimiter, prefix: str,
                 clock: Clock | None = None) -> None:
        self._link = link
        #: used while Redis is away, and for its ``enabled`` switch
        self.local = local
        self._prefix = prefix + "rl:"
        #: None: Redis's clock (serving); a clock: tests that move time by hand
        self._clock = clock
        self._script = link.client.register_script(GCRA)

    async def allow(self, subject: Hashable, rate: Rate) -> bool:
        return await self.take([(subject, rate, 1)])

    async def take(self, charges: Sequence[Charge], *, commit: bool = True) -> bool:
        """As ``RateLimiter.take``, for every process at once (or this one's alone while
        Redis is away)."""
        local = self.local
        if not local.enabled:
            return True
        if not self._link.up:
            return local.take(charges, commit=commit)
        keys: list[str] = []
        args: list[str | int] = ["" if self._clock is None else round(self._clock() * 1e6),
                                 1 if commit else 0]
        for subject, rate, count in charges:
            keys.append(self._prefix + repr(subject))
            args += [int(rate.period_s * 1e6) // rate.limit, round(rate.period_s * 1e6), count]
        try:
            return bool(await self._script(keys=keys, args=args))
        except REDIS_ERRORS as failure:
            self._link.failed(failure)
            return local.take(charges, commit=commit)
