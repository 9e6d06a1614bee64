"""Two real ``keyseal serve`` processes sharing the machine's PostgreSQL (a database of the
test's own) and Redis (a prefix of the test's own, or a Redis of its own where it is
stopped): revocation pushed to the other process, limits exact across both, Redis stopped
and restarted mid-run, PostgreSQL cut mid-run."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from keyseal.domain.commands import DeleteKey, EditKey, SetKeyStatus, SetRestricted
from keyseal.domain.keys import KeyStatus
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime
from tests.conftest import make_account, make_key, signed_headers
from tests.scale.cluster import Cluster, Node, code_of, seconds_until, start_cluster
from tests.scale.conftest import CuttableProxy, OwnRedis


@pytest.fixture
def cluster(tmp_path: Path, pg_database: str, redis_url: str, prefix: str) -> Iterator[Cluster]:
    made = start_cluster(tmp_path, pg_database, redis_url, prefix, "--rate-limits", "off")
    yield made
    made.close()


def _disable(rt: Runtime, key: dict[str, str], email: str) -> None:
    key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))


def _rebind(rt: Runtime, key: dict[str, str], email: str) -> None:
    key_service.edit_key(rt, EditKey(key["apiKey"], ip="10.9.9.9"))


def _restrict(rt: Runtime, key: dict[str, str], email: str) -> None:
    account_service.set_restricted(rt, SetRestricted(email, True))


def _delete(rt: Runtime, key: dict[str, str], email: str) -> None:
    key_service.delete_key(rt, DeleteKey(key["apiKey"]))


BALANCE = "/api/v5/account/balance"
#: a private read whose own OKX limit (60 per 2 s) is wider than the per-key limits here
PENDING = "/api/v5/trade/orders-pending"
REVOCATIONS: dict[str, tuple[Callable[[Runtime, dict[str, str], str], None], str]] = {
    "disabled": (_disable, "50100"), "re-bound": (_rebind, "50110"),
    "restricted": (_restrict, "50100"), "deleted": (_delete, "50111"),
}


@pytest.mark.parametrize("kind", list(REVOCATIONS))
def test_a_revocation_reaches_every_process_at_once(cluster: Cluster, kind: str) -> None:
    change, refusal = REVOCATIONS[kind]
    lags: list[float] = []
    with httpx.Client(timeout=5) as client:
        for _ in range(5):
            email = make_account(cluster.rt)
            key = make_key(cluster.rt, email)
            assert [code_of(client, node, key) for node in cluster.nodes] == ["0", "0"]  # cached
            change(cluster.rt, key, email)
            for node in cluster.nodes:
                lags.append(seconds_until(lambda n=node: code_of(client, n, key) == refusal))
    # the poll of the change log alone takes up to 0.2 s; figures: benchmarks/revocation_lag.py
    print(f"\n{kind}: lag p50 {statistics.median(lags) * 1000:.1f} ms, "
          f"max {max(lags) * 1000:.1f} ms over {len(lags)}")


def test_a_key_disabled_with_the_cli_is_refused_by_both_processes(cluster: Cluster) -> None:
    key = make_key(cluster.rt)
    with httpx.Client(timeout=5) as client:
        assert [code_of(client, node, key) for node in cluster.nodes] == ["0", "0"]
        cluster.cli("key", "disable", key["apiKey"])
        for node in cluster.nodes:
            seconds_until(lambda n=node: code_of(client, n, key) == "50100")
        for node in cluster.nodes:  # each process says how late the push reached it
            metrics = client.get(node.url + "/metrics").text
            lag = [line for line in metrics.splitlines()
                   if line.startswith("keyseal_revocation_lag_seconds ")]
            assert lag and 0 <= float(lag[0].split()[1]) < 1.0, metrics[-800:]
            assert "keyseal_redis_fallback 0.0" in metrics


def _hammer(nodes: list[Node], key: dict[str, str], count: int,
            local_address: str = "127.0.0.1") -> list[str]:
    transport = {node.url: httpx.HTTPTransport(local_address=local_address) for node in nodes}
    clients = {url: httpx.Client(transport=t, timeout=10) for url, t in transport.items()}
    try:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(
                lambda i: code_of(clients[nodes[i % len(nodes)].url], nodes[i % len(nodes)], key,
                                  PENDING),
                range(count)))
    finally:
        for client in clients.values():
            client.close()


def test_limits_are_exact_across_processes(tmp_path: Path, pg_database: str, redis_url: str,
                                           prefix: str) -> None:
    """10 requests per hour per key, and per IP on public routes, hammered through both."""
    made = start_cluster(tmp_path, pg_database, redis_url, prefix, env={
        "KEYSEAL_PRIVATE_KEY_RATE": "10/3600", "KEYSEAL_PUBLIC_IP_RATE": "10/3600"})
    try:
        key = make_key(made.rt)
        codes = _hammer(made.nodes, key, 40)
        assert codes.count("0") == 10 and codes.count("50011") == 30
        other = make_key(made.rt)  # another key has its own 10
        assert _hammer(made.nodes, other, 12).count("0") == 10

        def public(i: int, client: httpx.Client) -> int:
            return client.get(made.nodes[i % 2].url + "/api/v5/public/instruments?instType=SPOT"
                              ).status_code
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
            statuses = [public(i, client) for i in range(30)]
        assert statuses.count(200) == 10 and statuses.count(429) == 20
    finally:
        made.close()


def _wait_for_log(node: Node, text: str, timeout_s: float = 10.0) -> None:
    seconds_until(lambda: text in node.log(), timeout_s)


def test_limits_fall_back_while_redis_is_stopped_and_are_shared_again_after(
        tmp_path: Path, pg_database: str, own_redis: OwnRedis, prefix: str) -> None:
    made = start_cluster(tmp_path, pg_database, own_redis.url, prefix,
                         env={"KEYSEAL_PRIVATE_KEY_RATE": "10/3600", "KEYSEAL_REDIS_RETRY_S": "0.2"})
    try:
        key, spare = make_key(made.rt), make_key(made.rt)
        with httpx.Client(timeout=5) as client:
            for node in made.nodes:  # both processes know the spare key before Redis stops
                assert code_of(client, node, spare) == "0"
            assert _hammer(made.nodes, key, 6).count("0") == 6  # 6 of the shared 10
            own_redis.stop()
            # per process now: each admits its own 10, so nothing within the limit is refused
            codes = {node.url: [code_of(client, node, key, PENDING) for _ in range(11)]
                     for node in made.nodes}
            for node in made.nodes:
                assert codes[node.url] == ["0"] * 10 + ["50011"], codes
                _wait_for_log(node, "is unreachable")
                assert node.log().count("is unreachable") == 1  # said once, not per request
            # a change while Redis is away still reaches both, through the change log
            key_service.set_key_status(made.rt, SetKeyStatus(spare["apiKey"], KeyStatus.DISABLED))
            for node in made.nodes:
                seconds_until(lambda n=node: code_of(client, n, spare) == "50100")
            own_redis.start()  # empty: the shared bucket of the key starts again
            for node in made.nodes:
                _wait_for_log(node, "answers again")
                _wait_for_log(node, "following pushed key changes through Redis again")
            fresh = make_key(made.rt)
            codes = _hammer(made.nodes, fresh, 30)
            assert codes.count("0") == 10 and codes.count("50011") == 20
            assert all(c in ("0", "50011") for c in codes)
            # and the push works again: a revocation is seen through it
            assert [code_of(client, node, fresh, PENDING) for node in made.nodes] == ["50011"] * 2
            key_service.set_key_status(made.rt, SetKeyStatus(fresh["apiKey"], KeyStatus.DISABLED))
            for node in made.nodes:
                seconds_until(lambda n=node: code_of(client, n, fresh) == "50100")
    finally:
        made.close()


def test_cached_keys_verify_while_postgresql_is_unreachable(
        tmp_path: Path, pg_database: str, redis_url: str, prefix: str) -> None:
    """The processes reach PostgreSQL through a proxy the test cuts; the operator does not."""
    where = urlsplit(pg_database)
    proxy = CuttableProxy((where.hostname or "127.0.0.1", where.port or 5432))
    proxy.start()
    via_proxy = where._replace(netloc=f"{where.username}@127.0.0.1:{proxy.port}").geturl()
    made = start_cluster(tmp_path, pg_database, redis_url, prefix, "--rate-limits", "off",
                         node_db_url=via_proxy)
    try:
        warm, uncached = make_key(made.rt), make_key(made.rt)
        with httpx.Client(timeout=10) as client:
            for node in made.nodes:
                assert code_of(client, node, warm) == "0"
            proxy.cut()
            for node in made.nodes:
                assert [code_of(client, node, warm) for _ in range(20)] == ["0"] * 20
                # a key the process knows of but has not cached, and an id it has never seen
                assert code_of(client, node, uncached) == "50001"
                assert code_of(client, node, {**warm, "apiKey": str(uuid.uuid4())}) == "50001"
                balance = client.get(node.url + BALANCE,
                                     headers=signed_headers(uncached, "GET", BALANCE))
                assert (balance.status_code, balance.json()["code"]) == (503, "50001")
                assert client.get(node.url + "/api/v5/public/time").status_code == 200
            proxy.mend()
            for node in made.nodes:
                seconds_until(lambda n=node: code_of(client, n, uncached) == "0", 20)
            later = make_key(made.rt)
            for node in made.nodes:
                seconds_until(lambda n=node: code_of(client, n, later) == "0", 20)
                assert "unhandled error" not in node.log()  # no 50026 (500) on the way
    finally:
        made.close()
        proxy.cut()


def test_a_signed_order_replayed_to_the_other_process_is_refused(cluster: Cluster) -> None:
    """Replay memory shared through Redis: an exact repeat of a state-changing request is
    refused (70017) by the process it did not reach first; reads may repeat."""
    key = make_key(cluster.rt, perm="trade", credit={"USDT": "1000"})
    order = '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"1",' \
            '"tgtCcy":"quote_ccy","clOrdId":"replay1"}'
    headers = signed_headers(key, "POST", "/api/v5/trade/order", order)
    first, other = cluster.nodes
    with httpx.Client(timeout=10) as client:
        placed = client.post(first.url + "/api/v5/trade/order", content=order, headers=headers)
        assert placed.json()["code"] != "70017"
        again = client.post(other.url + "/api/v5/trade/order", content=order, headers=headers)
        assert (again.status_code, again.json()["code"]) == (401, "70017")
        read = signed_headers(key, "GET", PENDING)
        assert [client.get(node.url + PENDING, headers=read).json()["code"]
                for node in cluster.nodes] == ["0", "0"]


def test_a_forged_push_cannot_make_a_live_key_unknown(cluster: Cluster, redis_url: str,
                                                       prefix: str) -> None:
    """Whoever can publish on the Redis channel can forge a "deleted": each process takes a
    push as a hint (drop the cached key, read the log), so the key, alive in the log, keeps
    verifying everywhere (it got 50111 until a restart when the push was taken as the truth)."""
    import orjson
    import redis

    from keyseal.services import change_push

    key = make_key(cluster.rt)
    with httpx.Client(timeout=5) as client:
        assert [code_of(client, node, key) for node in cluster.nodes] == ["0", "0"]
        forged = orjson.dumps({"at": int(time.time() * 1000),
                               "changes": [["deleted", key["apiKey"], None],
                                           ["restricted", None, 1]]})
        with redis.Redis.from_url(redis_url) as publisher:
            assert publisher.publish(change_push.channel(prefix), forged) == 2  # both heard it
        for node in cluster.nodes:  # each has applied it once it reports a push's lag
            seconds_until(lambda n=node: "keyseal_revocation_lag_seconds " in client.get(
                n.url + "/metrics").text)
            assert [code_of(client, node, key) for _ in range(3)] == ["0"] * 3
