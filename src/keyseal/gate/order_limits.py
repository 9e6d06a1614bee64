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
apart: a demo bot cannot spend the live account's limits.
"""

from __future__ import annotations

from collections import Counter

from keyseal import errors
from keyseal.gate.ratelimit import Charge, Rate, RateLimiter
from keyseal.gate.verifier import Principal

PLACE = Rate(60, 2)
BATCH_PLACE = Rate(300, 2)
CANCEL = Rate(60, 2)
SUB_ACCOUNT_ORDERS = Rate(1000, 2)


def charge_placements(limiter: RateLimiter, caller: Principal, inst_ids: list[str]) -> None:
    """Refuse (50061 for the sub-account limit, else 50011) unless every order fits."""
    account = (caller.key.account_id, caller.environment.value)
    if caller.key.is_sub:
        overall: Charge = ((account, "sub-account-orders"), SUB_ACCOUNT_ORDERS, len(inst_ids))
        if not limiter.take([overall], commit=False):
            raise errors.SUB_ACCOUNT_ORDER_LIMIT(detail=f"account {caller.key.uid}")
    if len(inst_ids) == 1:
        charges = [((account, "place", inst_ids[0]), PLACE, 1)]
    else:
        charges = [((account, "batch-place", inst), BATCH_PLACE, count)
                   for inst, count in Counter(inst_ids).items()]
    if not limiter.take(charges):
        raise errors.RATE_LIMITED(detail=f"account {caller.key.uid}: orders per instrument")
    if caller.key.is_sub:
        limiter.take([overall])


def charge_cancel(limiter: RateLimiter, caller: Principal, inst_id: str) -> None:
    account = (caller.key.account_id, caller.environment.value)
    if not limiter.take([((account, "cancel", inst_id), CANCEL, 1)]):
        raise errors.RATE_LIMITED(detail=f"account {caller.key.uid}: cancels per instrument")
