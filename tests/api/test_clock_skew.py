"""Clock skew made visible: every response says the server's time, and a 50102 says by how
much the request's timestamp was off (issue 11, item 4)."""

from __future__ import annotations

import pytest

from keyseal.signing import format_timestamp
from tests.api.conftest import Api
from tests.conftest import envelope

BALANCE = "/api/v5/account/balance"
TIME_HEADER = "x-keyseal-server-time"


def server_ms(api: Api) -> str:
    return str(int(api.clock() * 1000))


async def test_public_private_refused_and_unknown_responses_carry_the_server_time(api: Api
                                                                                  ) -> None:
    api.clock.advance(12.345)
    key = api.key()
    responses = {
        "public": await api.client.get("/api/v5/public/time"),
        "private": await api.get(key, BALANCE),
        "refusal": await api.get(key, BALANCE, passphrase="Wrong-Pass1"),
        "404": await api.client.get("/api/v5/no/such/route"),
        "405": await api.client.delete(BALANCE),
        "openapi": await api.client.get("/openapi.json"),
    }
    for kind, response in responses.items():
        assert response.headers.get(TIME_HEADER) == server_ms(api), kind


@pytest.mark.parametrize(("offset_s", "skew"), [(-41.234, "-41234"), (31, "31000")])
async def test_an_expired_timestamp_says_how_far_off_it_was(api: Api, offset_s: float,
                                                            skew: str) -> None:
    response = await api.get(api.key(), BALANCE,
                             timestamp=format_timestamp(api.clock() + offset_s))
    body = envelope(response)
    assert (response.status_code, body["code"], body["msg"]) == (
        401, "50102", "Timestamp request expired")
    assert body["skewMs"] == skew


async def test_only_an_expired_timestamp_carries_a_skew(api: Api) -> None:
    response = await api.get(api.key(), BALANCE, timestamp=format_timestamp(api.clock() - 20))
    assert "skewMs" not in envelope(response)
