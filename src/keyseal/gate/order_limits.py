"""OKX's order rate limits, counted as OKX counts them (okx-v5-spec.md §4):

- placing: 60 requests per 2 s per account and instrument; a batch is counted per order,
  300 orders per 2 s per instrument, and a batch of one order is charged to the single-order
  limit;
- cancelling: likewise, 60 per 2 s per instrument;
- a sub-account places at most 1,000 orders per 2 s in all (50061).

The route cannot say this alone: the instruments are in the body, so the handler names them
once parsed and these rules charge them, all or nothing, before anything is placed. A
request refused before that (a body that does not parse) is charged to the unknown
instrument's bucket, so malformed requests are limited too. Demo and live trading count
apart: a demo bot cannot spend the live account's limits. With Redis, every process counts
in the same buckets (``SharedLimiter``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from keyseal import errors
from keyseal.gate.ratelimit import Charge, Rate, RateLimiter
from keyseal.gate.shared_limits import SharedLimiter
from keyseal.gate.verifier import Principal

PLACE = Rate(60, 2)
BATCH_PLACE = Rate(300, 2)
CANCEL = Rate(60, 2)
SUB_ACCOUNT_ORDERS = Rate(1000, 2)


class OrderLimiter:
    """The process's limiter, or the one every process shares when Redis is configured."""

    def __init__(self, local: RateLimiter, shared: SharedLimiter | None = None) -> None:
        self.local = local
        self.shared = shared

    async def take(self, charges: Sequence[Charge], *, commit: bool = True) -> bool:
        if self.shared is None:
            return self.local.take(charges, commit=commit)
        return await self.shared.take(charges, commit=commit)


async def charge_placements(limiter: OrderLimiter, caller: Principal, inst_ids: list[str]
                            ) -> None:
    """Refuse (50061 for the sub-account limit, else 50011) unless every order fits."""
    account = (caller.key.account_id, caller.environment.value)
    if caller.key.is_sub:
        overall: Charge = ((account, "sub-account-orders"), SUB_ACCOUNT_ORDERS, len(inst_ids))
        if not await limiter.take([overall], commit=False):
            raise errors.SUB_ACCOUNT_ORDER_LIMIT(detail=f"account {caller.key.uid}")
    if len(inst_ids) == 1:
        charges = [((account, "place", inst_ids[0]), PLACE, 1)]
    else:
        charges = [((account, "batch-place", inst), BATCH_PLACE, count)
                   for inst, count in Counter(inst_ids).items()]
    if not await limiter.take(charges):
        raise errors.RATE_LIMITED(detail=f"account {caller.key.uid}: orders per instrument")
    if caller.key.is_sub:
        await limiter.take([overall])


async def charge_cancel(limiter: OrderLimiter, caller: Principal, inst_id: str) -> None:
    account = (caller.key.account_id, caller.environment.value)
    if not await limiter.take([((account, "cancel", inst_id), CANCEL, 1)]):
        raise errors.RATE_LIMITED(detail=f"account {caller.key.uid}: cancels per instrument")
