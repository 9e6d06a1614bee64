"""IP allow-lists against real source addresses: a real ``keyseal serve`` listening on ``::``
(dual stack), and clients whose sockets are bound to 127.0.0.2, 127.0.0.3, ... of the
loopback range, or to ``::1``, so the server sees each as its peer (an IPv4 peer arrives as
``::ffff:127.0.0.x`` and is matched as the IPv4 address it is). Single addresses, CIDR
entries, and allow-lists edited while a client stays connected."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keyseal.domain.commands import EditKey
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import make_key, signed_headers, start_server, stop_server

BALANCE = "/api/v5/account/balance"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def dual_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Runtime]]:
    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    home: Path = tmp_path_factory.mktemp("addresses") / "home"
    home.mkdir()
    process, url = start_server(home, "--host", "::")
    rt = open_runtime(Settings(home=home))
    try:
        yield int(url.rsplit(":", 1)[1]), rt
    finally:
        stop_server(process)
        rt.close()


def client(port: int, source: str) -> httpx.Client:
    """A client whose connections leave from ``source``."""
    host = "[::1]" if ":" in source else "127.0.0.1"
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(transport=transport, base_url=f"http://{host}:{port}", timeout=10)


def code(http: httpx.Client, key: dict[str, str]) -> str:
    response = http.get(BALANCE, headers=signed_headers(key, "GET", BALANCE))
    return str(response.json()["code"])


@pytest.mark.parametrize(("allow", "allowed", "refused"), [
    ("127.0.0.2", ["127.0.0.2"], ["127.0.0.3", "127.0.0.1", "::1"]),
    ("127.0.0.0/29", ["127.0.0.2", "127.0.0.7"], ["127.0.0.8", "127.0.0.9", "::1"]),
    ("127.0.0.3,127.0.0.4", ["127.0.0.3", "127.0.0.4"], ["127.0.0.2", "::1"]),
    ("::1", ["::1"], ["127.0.0.2", "127.0.0.1"]),
    ("::1,127.0.0.5", ["::1", "127.0.0.5"], ["127.0.0.6"]),
], ids=["single", "cidr", "two", "ipv6", "mixed"])
def test_the_peer_address_decides(dual_stack: tuple[int, Runtime], allow: str,
                                  allowed: list[str], refused: list[str]) -> None:
    port, rt = dual_stack
    key = make_key(rt, ip=allow)
    for source in allowed + refused:
        with client(port, source) as http:
            assert code(http, key) == ("0" if source in allowed else "50110"), source


def test_an_allow_list_edited_while_a_client_stays_connected(
        dual_stack: tuple[int, Runtime]) -> None:
    """One kept-alive connection from 127.0.0.3: refused, allowed once the list names it,
    refused again once it no longer does, each within the change log's poll."""
    port, rt = dual_stack
    key = make_key(rt, ip="127.0.0.2")
    with client(port, "127.0.0.3") as http:
        assert code(http, key) == "50110"
        for allow, expected in (("127.0.0.2,127.0.0.3", "0"), ("127.0.0.0/30", "0"),
                                ("127.0.0.2", "50110"), ("::1", "50110")):
            key_service.edit_key(rt, EditKey(key["apiKey"], ip=allow))
            deadline = time.monotonic() + 5
            while (seen := code(http, key)) != expected:
                assert time.monotonic() < deadline, (allow, seen)
                time.sleep(0.05)
        # it was one connection all along
        assert len(http._transport._pool.connections) == 1  # type: ignore[attr-defined]
