"""X-Forwarded-For through a real ``keyseal serve`` behind a trusted proxy (here, the test
itself on 127.0.0.1): junk never becomes a key's last used IP."""

from __future__ import annotations

from pathlib import Path

import httpx

from keyseal.services import keys as key_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import envelope, make_key, signed_headers, start_server, stop_server

CONFIG = "/api/v5/account/config"


def test_a_junk_forwarded_for_leaves_the_peer_as_last_used_ip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rt = open_runtime(Settings(home=home))
    try:
        junk_key, real_key = make_key(rt), make_key(rt)
        process, url = start_server(home, "--trusted-proxy", "127.0.0.1")
        try:
            for key, forwarded in ((junk_key, "not-an-ip <script>" + "x" * 300),
                                   (real_key, "203.0.113.9")):
                response = httpx.get(url + CONFIG, headers={
                    **signed_headers(key, "GET", CONFIG), "X-Forwarded-For": forwarded})
                assert envelope(response)["code"] == "0"
        finally:
            stop_server(process)  # writes the usage it holds
        assert key_service.get_key(rt, junk_key["apiKey"]).last_used_ip == "127.0.0.1"
        assert key_service.get_key(rt, real_key["apiKey"]).last_used_ip == "203.0.113.9"
    finally:
        rt.close()
