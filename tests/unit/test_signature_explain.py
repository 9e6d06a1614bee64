"""``signing.explain``: the prehash part by part, shared by the server and the client."""

from __future__ import annotations

import hashlib

from keyseal.signing import differing_parts, explain, prehash


def test_explain_lists_the_parts_and_the_exact_prehash() -> None:
    parts = explain("2020-12-08T09:08:57.715Z", "get", "/api/v5/x?a=b%2Cc", b'{"k":1}')
    assert parts == {
        "timestamp": "2020-12-08T09:08:57.715Z", "method": "GET",
        "target": "/api/v5/x?a=b%2Cc", "decodedTarget": "/api/v5/x?a=b,c",
        "bodyLength": "7", "bodySha256": hashlib.sha256(b'{"k":1}').hexdigest(),
        "prehash": prehash("2020-12-08T09:08:57.715Z", "GET", "/api/v5/x?a=b%2Cc",
                           b'{"k":1}').decode(),
    }


def test_bytes_that_are_not_utf8_stay_readable() -> None:
    parts = explain("t", "POST", b"/p", b"\xff")
    assert parts["prehash"] == "tPOST/p\\xff" and parts["bodyLength"] == "1"


def test_differing_parts_compares_what_each_side_hashed() -> None:
    server = explain("t1", "GET", "/p?q=1")
    assert differing_parts(server, explain("t1", "GET", "/p?q=1")) == []
    assert differing_parts(server, explain("t1", "GET", "/p")) == ["target"]
    assert differing_parts(server, explain("t2", "POST", "/p?q=1", "{}")) == [
        "timestamp", "method", "body"]
