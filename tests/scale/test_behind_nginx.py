"""Real nginx (Debian's package) load-balancing two ``keyseal serve`` processes on one
PostgreSQL and one Redis, configured with the README's own block (ports changed), the
processes trusting it (``--trusted-proxy``). Clients connect from 127.0.0.2 and 127.0.0.3:
the processes see each client's own address through nginx, for the IP allow-list, the
last-used IP and the per-IP limit; revocation and the per-key limit hold across both."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keyseal.domain.commands import SetKeyStatus
from keyseal.domain.keys import KeyStatus
from keyseal.services import keys as key_service
from tests.conftest import free_port, make_key, signed_headers
from tests.proxy.conftest import NGINX_MAIN, binary, stop, wait_for_port
from tests.scale.cluster import Cluster, seconds_until, start_cluster

README = Path(__file__).resolve().parents[2] / "README.md"
PENDING = "/api/v5/trade/orders-pending"
INSTRUMENTS = "/api/v5/public/instruments?instType=SPOT"


def readme_nginx_block() -> str:
    section = README.read_text().split("## Several processes and hosts", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"^```nginx\n(.*?)^```$", section, re.S | re.M)
    assert len(blocks) == 1, blocks
    return str(blocks[0])


@pytest.fixture
def behind_nginx(tmp_path: Path, pg_database: str, redis_url: str, prefix: str
                 ) -> Iterator[tuple[Cluster, str]]:
    nginx = binary("nginx")
    made = start_cluster(tmp_path, pg_database, redis_url, prefix, "--trusted-proxy", "127.0.0.1",
                         env={"KEYSEAL_PRIVATE_KEY_RATE": "10/3600",
                              "KEYSEAL_PUBLIC_IP_RATE": "5/3600"})
    run = tmp_path / "nginx"
    run.mkdir()
    port = free_port()
    site = readme_nginx_block()
    for placeholder, node in zip(("127.0.0.1:8401", "127.0.0.1:8402"), made.nodes, strict=True):
        assert placeholder in site
        site = site.replace(placeholder, node.url.removeprefix("http://"))
    site = site.replace("127.0.0.1:8400", f"127.0.0.1:{port}")
    (run / "site.conf").write_text(site)
    (run / "auth-request-only.conf").write_text("")
    (run / "nginx.conf").write_text(NGINX_MAIN.format(run=run))
    log = run / "nginx.out"
    with open(log, "ab") as out:
        process = subprocess.Popen([nginx, "-p", str(run), "-c", str(run / "nginx.conf"),
                                    "-e", str(run / "error.log")], stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for_port(f"127.0.0.1:{port}", process, log)
        yield made, f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        made.close()


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def code(client: httpx.Client, url: str, key: dict[str, str], target: str = PENDING) -> str:
    answer = client.get(url + target, headers=signed_headers(key, "GET", target))
    assert answer.status_code < 500, answer.text
    return str(answer.json()["code"])


def test_client_ip_allow_list_revocation_and_limits_hold_through_nginx(
        behind_nginx: tuple[Cluster, str]) -> None:
    cluster, url = behind_nginx
    with client_from("127.0.0.2") as two, client_from("127.0.0.3") as three:
        # the allow-list sees the client, not nginx (nor a header the client forged)
        bound = make_key(cluster.rt, ip="127.0.0.2")
        assert code(two, url, bound) == "0"
        assert code(three, url, bound) == "50110"
        forged = {**signed_headers(bound, "GET", PENDING), "X-Forwarded-For": "127.0.0.2"}
        assert three.get(url + PENDING, headers=forged).json()["code"] == "50110"
        # the last-used IP is the client's
        seconds_until(lambda: key_service.get_key(cluster.rt, bound["apiKey"]).last_used_ip
                      == "127.0.0.2", 10)

        # 10 per key in all, though nginx spreads the requests over both (round robin)
        key = make_key(cluster.rt)
        codes = [code(two if i % 2 else three, url, key) for i in range(30)]
        assert codes.count("0") == 10 and codes.count("50011") == 20

        # public routes: 5 per client IP in all; the other client has its own 5
        statuses = [two.get(url + INSTRUMENTS).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        assert [three.get(url + INSTRUMENTS).status_code for _ in range(6)] == [200] * 5 + [429]

        # a key disabled through the operator's runtime (as the CLI does) is refused at once,
        # whichever process nginx picks
        live = make_key(cluster.rt, ip="127.0.0.2,127.0.0.3")
        assert {code(two, url, live), code(three, url, live)} == {"0"}
        key_service.set_key_status(cluster.rt, SetKeyStatus(live["apiKey"], KeyStatus.DISABLED))
        seconds_until(lambda: code(two, url, live) == "50100")
        assert [code(c, url, live) for c in (two, three) * 5] == ["50100"] * 10
