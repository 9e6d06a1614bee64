"""``/metrics``: Prometheus text, from plain counters the request path keeps.

A request costs a dict increment and, on signed routes, one histogram bucket: no
prometheus_client call runs per request. The collector reads the counters (and the state's
caches) only when Prometheus scrapes; see benchmarks/run.py for what the counting costs.

Metrics (all ``keyseal_``): ``requests_total{route,code,status}`` (``route`` is the OKX path,
or ``other`` for paths that are not routes, so that scanners cannot blow up the series),
``verification_seconds`` (histogram of the gate's check of a signed request, refusals
included), ``key_cache_hits_total`` / ``key_cache_misses_total`` (a miss is a load from the
store), ``key_cache_entries``, ``rate_limited_total{route}`` (50011 refusals), the guessing
budgets' ``guessing_failures_total{kind}``, ``guessing_refused_total{budget}`` and
``keys_locked_out_total``, and when the
state has them ``revocation_lag_seconds`` and ``redis_fallback`` (1 while rate limits are
per-process because Redis is away)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from keyseal.http.state import ServerState

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
#: seconds; a warm verification is ~10 µs, a cold one (store load + argon2) tens of ms
BUCKETS = (0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
           0.05, 0.1, 0.25, 0.5, 1.0)
RATE_LIMITED = "50011"


class RequestCounts:
    """What the request path counts: requests by (route, code, status), and the gate's
    verification times in histogram buckets."""

    __slots__ = ("requests", "verify_buckets", "verify_sum")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.verify_buckets = [0] * (len(BUCKETS) + 1)  # the last: above every bound
        self.verify_sum = 0.0

    def request(self, route: str, code: str, status: int) -> None:
        key = (route, code, status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1

    def verified(self, seconds: float) -> None:
        self.verify_buckets[bisect_left(BUCKETS, seconds)] += 1
        self.verify_sum += seconds


class KeysealCollector(Collector):
    def __init__(self, state: ServerState, counts: RequestCounts) -> None:
        self.state = state
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        counts, state = self.counts, self.state
        requests = CounterMetricFamily("keyseal_requests", "HTTP requests by route and result",
                                       labels=["route", "code", "status"])
        limited = CounterMetricFamily("keyseal_rate_limited", "Requests refused by a rate "
                                      "limit (50011)", labels=["route"])
        refused: dict[str, int] = {}
        for (route, code, status), n in list(counts.requests.items()):
            requests.add_metric([route, code, str(status)], n)
            if code == RATE_LIMITED:
                refused[route] = refused.get(route, 0) + n
        for route, n in refused.items():
            limited.add_metric([route], n)
        yield requests
        yield limited
        cumulative, buckets = 0, []
        for bound, n in zip((*BUCKETS, float("inf")), counts.verify_buckets, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily("keyseal_verification_seconds", "The gate's check of a "
                                    "signed request", buckets=buckets, sum_value=counts.verify_sum)
        cache = state.key_cache
        yield CounterMetricFamily("keyseal_key_cache_hits", "Keys served from the cache",
                                  value=cache.hits)
        yield CounterMetricFamily("keyseal_key_cache_misses", "Keys loaded from the store",
                                  value=cache.misses)
        yield GaugeMetricFamily("keyseal_key_cache_entries", "Keys and unknown ids cached",
                                value=len(cache))
        gate = getattr(state, "gate", None)
        guessing = getattr(gate, "guessing", None)  # the guessing budgets (gate/guessing.py)
        if guessing is not None:
            failures = CounterMetricFamily("keyseal_guessing_failures", "Failed signatures "
                                           "and passphrases counted against the budgets",
                                           labels=["kind"])
            failures.add_metric(["signature"], guessing.failed_signatures)
            failures.add_metric(["passphrase"], guessing.failed_passphrases)
            yield failures
            budget = CounterMetricFamily("keyseal_guessing_refused", "Requests refused for a "
                                         "spent guessing budget (70080 address, 70081 key)",
                                         labels=["budget"])
            budget.add_metric(["address"], guessing.refused_addresses)
            budget.add_metric(["key"], guessing.refused_keys)
            yield budget
            yield CounterMetricFamily("keyseal_keys_locked_out", "Keys whose passphrase "
                                      "budget ran out (each also an audit event)",
                                      value=guessing.keys_locked_out)
        lag = getattr(state, "revocation_lag_s", None)  # set by the change push, if any
        if isinstance(lag, int | float):
            yield GaugeMetricFamily("keyseal_revocation_lag_seconds", "From a key change's "
                                    "commit to this process applying it, the last one", value=lag)
        fallback = getattr(state, "redis_fallback", None)
        if fallback is not None and getattr(state, "redis", None) is not None:  # Redis named
            yield GaugeMetricFamily("keyseal_redis_fallback", "1 while rate limits are "
                                    "per-process because Redis cannot be reached",
                                    value=1 if fallback.active else 0)
            yield CounterMetricFamily("keyseal_redis_fallback_episodes", "Times Redis went "
                                      "away since the process started", value=fallback.episodes)


def exposition(state: ServerState, counts: RequestCounts) -> bytes:
    """The Prometheus text of this process (with the process's CPU and memory)."""
    from prometheus_client import ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(KeysealCollector(state, counts))
    ProcessCollector(registry=registry)
    return generate_latest(registry)
