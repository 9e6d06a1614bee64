"""SIGTERM: the server stops accepting, lets the request under way finish, and writes the
usage it holds (last used) before it exits."""

from __future__ import annotations

import json
import signal
import socket

from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime
from tests.conftest import make_key, signed_headers
from tests.hardening.wire import read_answer

ORDER = "/api/v5/trade/order"


def test_sigterm_during_a_request_finishes_it_and_writes_last_used(  # type: ignore[no-untyped-def]
        serve, home_rt: Runtime) -> None:
    key = make_key(home_rt, perm="read_only,trade", credit={"USDT": "1000"})
    # a long flush interval: only the shutdown can write this use
    served = serve("--log-level", "info", env={"KEYSEAL_USAGE_FLUSH_INTERVAL_S": "3600"})
    body = json.dumps({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                       "ordType": "limit", "px": "100", "sz": "0.001"})
    headers = signed_headers(key, "POST", ORDER, body)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head_bytes = (f"POST {ORDER} HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n"
                  "Expect: 100-continue\r\n\r\n").encode()
    port = int(served.url.rsplit(":", 1)[1])
    served.wait_for_log("Application startup complete")
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head_bytes)
        # the server asks for the body once the app reads it: the request is under way
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(1024)
            assert chunk, interim
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        served.process.send_signal(signal.SIGTERM)
        served.wait_for_log("Shutting down")  # the server is stopping, the request under way
        sock.sendall(body.encode())
        answer = read_answer(sock)
    assert answer.status == 200, answer
    assert json.loads(answer.body)["code"] == "0"
    assert served.process.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    used = key_service.get_key(home_rt, key["apiKey"])
    assert used.last_used_ms is not None and used.last_used_ip == "127.0.0.1"


def test_sigterm_when_idle_exits_at_once(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(10) in (0, -signal.SIGTERM)
    assert "Traceback" not in served.log
