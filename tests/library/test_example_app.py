"""examples/own_api served by uvicorn on a free port, called as its users would: with
Keyseal's client, and with ``requests`` + ``hmac`` written by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import requests

from keyseal.client import Client, Credentials, OkxApiError
from keyseal.domain.commands import SetKeyStatus
from keyseal.domain.keys import KeyStatus
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import free_port, make_account, make_key

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Example:
    url: str
    rt: Runtime  # this test process: a different process from the example's

    def key(self, perm: str = "read_only") -> tuple[dict[str, str], str]:
        email = make_account(self.rt)
        return make_key(self.rt, email, perm=perm), account_service.account_by_email(
            self.rt, email).uid


def wait_until(check: object, seconds: float = 10.0) -> None:
    """Poll a real server process (its loops run on its own clock) until ``check()``."""
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the example app did not catch up"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    home = tmp_path_factory.mktemp("own-api-home")
    rt = open_runtime(Settings(home=home))
    port = free_port()
    env = {**os.environ, "KEYSEAL_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    log = open(home / "example.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.own_api.app:app", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, (home / "example.log").read_text()
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 30)
        yield Example(url, rt)
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        rt.close()


def test_keyseal_client_calls_the_example(example: Example) -> None:
    key, uid = example.key(perm="read_only,trade")
    credentials = Credentials(key["apiKey"], key["secretKey"], key["passphrase"])
    with Client(credentials, base_url=example.url) as client:
        [me] = client.get("/api/v1/whoami")
        assert me["uid"] == uid and me["apiKey"] == key["apiKey"]
        assert me["perm"] == "read_only,trade" and me["environment"] == "live"
        [order] = client.post("/api/v1/orders", {"instId": "BTC-USDT", "sz": "0.01"})
        assert order == {"uid": uid, "instId": "BTC-USDT", "sz": "0.01", "state": "accepted"}


def test_keyseal_client_sees_the_gate_codes(example: Example) -> None:
    key, _ = example.key()
    credentials = Credentials(key["apiKey"], key["secretKey"], key["passphrase"])
    with Client(credentials, base_url=example.url) as client:
        with pytest.raises(OkxApiError) as refused:
            client.post("/api/v1/orders", {"instId": "BTC-USDT", "sz": "1"})
        assert refused.value.code == "50120"
        with pytest.raises(OkxApiError) as refused:
            client.post("/api/v1/admin/payouts", {})
        assert refused.value.code == "50120"


def okx_headers(api_key: str, secret: str, passphrase: str, method: str, path: str,
                body: str = "") -> dict[str, str]:
    """What a user writes from OKX's docs: base64(HMAC-SHA256(ts + METHOD + path + body))."""
    ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    mac = hmac.new(secret.encode(), (ts + method + path + body).encode(), hashlib.sha256)
    return {"OK-ACCESS-KEY": api_key, "OK-ACCESS-SIGN": base64.b64encode(mac.digest()).decode(),
            "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": passphrase,
            "Content-Type": "application/json"}


def test_a_plain_requests_and_hmac_snippet_calls_the_example(example: Example) -> None:
    key, uid = example.key(perm="read_only,trade")
    body = json.dumps({"instId": "ETH-USDT", "sz": "2"})
    headers = okx_headers(key["apiKey"], key["secretKey"], key["passphrase"], "POST",
                          "/api/v1/orders", body)
    reply = requests.post(example.url + "/api/v1/orders", data=body, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"code": "0", "msg": "",
                            "data": [{"uid": uid, "instId": "ETH-USDT", "sz": "2",
                                      "state": "accepted"}]}
    query = "/api/v1/whoami?verbose=1"
    reply = requests.get(example.url + query, timeout=10,
                         headers=okx_headers(key["apiKey"], key["secretKey"], key["passphrase"],
                                             "GET", query))
    assert reply.json()["data"][0]["uid"] == uid


def test_a_wrong_secret_is_refused_with_50113_and_http_401(example: Example) -> None:
    key, _ = example.key()
    headers = okx_headers(key["apiKey"], "not-the-secret", key["passphrase"], "GET",
                          "/api/v1/whoami")
    reply = requests.get(example.url + "/api/v1/whoami", headers=headers, timeout=10)
    assert reply.status_code == 401
    assert reply.json() == {"code": "50113", "msg": "Invalid Sign", "data": []}


def test_the_example_follows_changes_and_records_usage(example: Example) -> None:
    key, _ = example.key()

    def whoami() -> requests.Response:
        return requests.get(example.url + "/api/v1/whoami", timeout=10, headers=okx_headers(
            key["apiKey"], key["secretKey"], key["passphrase"], "GET", "/api/v1/whoami"))

    assert whoami().status_code == 200
    # the usage writer of the example's process writes the key's last use
    wait_until(lambda: key_service.get_key(example.rt, key["apiKey"]).last_used_ms is not None)
    # disabled by this process, a different one: the example's change follower hears of it
    key_service.set_key_status(example.rt, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    wait_until(lambda: whoami().json()["code"] == "50100")
