"""/metrics in Prometheus text: requests by route and result code, the gate's verification
times, the key cache, rate-limit refusals."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from keyseal.services.runtime import Runtime
from tests.conftest import make_key, signed_headers

BALANCE = "/api/v5/account/balance"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def requests_of(found: dict, route: str, code: str) -> float:  # type: ignore[type-arg]
    return sum(v for (name, labels), v in found.items() if name == "keyseal_requests_total"
               and ("route", route) in labels and ("code", code) in labels)


def test_requests_verifications_cache_and_refusals(serve, home_rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    key = make_key(home_rt, credit={"USDT": "5"})
    served = serve()
    with httpx.Client(base_url=served.url) as client:
        for _ in range(3):
            assert client.get(BALANCE, headers=signed_headers(key, "GET", BALANCE)).json()[
                "code"] == "0"
        bad = signed_headers(key, "GET", BALANCE, passphrase="Wrong-Pass1")
        assert client.get(BALANCE, headers=bad).json()["code"] == "50105"
        codes = [client.get("/api/v5/public/time").json()["code"] for _ in range(15)]
        client.get("/api/v5/no/such/route")  # an OKX path; others are the dashboard's
    refused = codes.count("50011")
    assert refused >= 4  # 10 per 2 s per IP (start_server asked once too): the rest refused
    found = scrape(served.url)
    assert requests_of(found, BALANCE, "0") == 3
    assert requests_of(found, BALANCE, "50105") == 1
    assert requests_of(found, "/api/v5/public/time", "0") == 1 + codes.count("0")
    assert requests_of(found, "other", "50005") == 1  # unknown paths share one series
    assert found[("keyseal_rate_limited_total", (("route", "/api/v5/public/time"),))] == refused
    assert found[("keyseal_verification_seconds_count", ())] == 4
    assert found[("keyseal_verification_seconds_bucket", (("le", "+Inf"),))] == 4
    assert found[("keyseal_key_cache_misses_total", ())] == 1  # loaded once
    assert found[("keyseal_key_cache_hits_total", ())] == 3
    # the wrong passphrase was counted against the guessing budgets, nothing refused for it
    assert found[("keyseal_guessing_failures_total", (("kind", "passphrase"),))] == 1
    assert found[("keyseal_guessing_failures_total", (("kind", "signature"),))] == 0
    assert found[("keyseal_guessing_refused_total", (("budget", "key"),))] == 0
    assert found[("keyseal_keys_locked_out_total", ())] == 0
    assert found[("process_resident_memory_bytes", ())] > 0
    assert not any(name == "keyseal_redis_fallback" for name, _ in found)  # no Redis here


def test_redis_fallback_and_revocation_lag_when_the_state_has_them() -> None:
    from types import SimpleNamespace

    from keyseal.clock import ManualClock
    from keyseal.gate.cache import KeyCache
    from keyseal.gate.redis_link import RedisFallback
    from keyseal.http.metrics import RequestCounts, exposition

    fallback = RedisFallback(active=True, episodes=1)
    state = SimpleNamespace(key_cache=KeyCache(ManualClock(0.0)), redis_fallback=fallback,
                            redis=object(), revocation_lag_s=0.042)
    text = exposition(state, RequestCounts()).decode()  # type: ignore[arg-type]
    found = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert found["keyseal_redis_fallback"] == 1
    assert found["keyseal_revocation_lag_seconds"] == 0.042
    fallback.active = False
    text = exposition(state, RequestCounts()).decode()  # type: ignore[arg-type]
    assert "keyseal_redis_fallback 0.0" in text
