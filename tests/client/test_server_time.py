"""A Keyseal server's time header and 50102 skew, as the client reads them (issue 11, item 4)."""

from __future__ import annotations

import httpx
import pytest

from keyseal.client import Client, TimestampExpired, check_key
from tests.client.okx_fake import FakeOkx

BASE = "https://okx.test"


def client_for(okx: FakeOkx, **kwargs: object) -> Client:
    kwargs.setdefault("clock", okx.time)
    kwargs.setdefault("sleep", okx.time.sleep)
    return Client(okx.creds, base_url=BASE, transport=httpx.MockTransport(okx),
                  **kwargs)  # type: ignore[arg-type]


def test_a_50102_says_by_how_much_the_timestamp_was_off(okx: FakeOkx, skewed) -> None:
    okx.keyseal = True
    with client_for(okx, clock=skewed(45), auto_sync_clock=False) as client, \
            pytest.raises(TimestampExpired) as refused:
        client.balance()
    assert refused.value.skew_ms == 45_000
    assert "45.0 s ahead" in str(refused.value)


def test_without_a_skew_field_the_error_says_none(okx: FakeOkx, skewed) -> None:
    with client_for(okx, clock=skewed(45), auto_sync_clock=False) as client, \
            pytest.raises(TimestampExpired) as refused:
        client.balance()
    assert refused.value.skew_ms is None


def test_every_response_tells_the_client_the_server_time(okx: FakeOkx, skewed) -> None:
    okx.keyseal = True
    with client_for(okx, clock=skewed(-7)) as client:
        assert client.server_reading is None
        client.balance()
        reading = client.server_reading
    assert reading is not None and reading.offset == pytest.approx(7)


def test_after_a_50102_the_header_corrects_the_clock_without_asking_public_time(
        okx: FakeOkx, skewed) -> None:
    okx.keyseal = True
    with client_for(okx, clock=skewed(120)) as client:
        client.balance()
        assert client.clock_offset == pytest.approx(-120)
    assert [r.url.path for r in okx.requests] == ["/api/v5/account/balance"] * 2


def test_vault_check_reports_the_skew_the_server_saw(okx: FakeOkx, skewed) -> None:
    okx.keyseal = True
    okx.results["/api/v5/account/config"] = [
        {"uid": "1001", "mainUid": "1001", "label": "bot", "perm": "read_only", "ip": "10.0.0.1"}]
    report = check_key(okx.creds, base_url=BASE, clock=skewed(-3.5),
                       transport=httpx.MockTransport(okx))
    assert report.ok and report.server_skew_ms == pytest.approx(3500)
    assert report.to_json()["server_skew_ms"] == pytest.approx(3500)


def test_a_refused_check_still_reports_the_skew_of_its_50102(okx: FakeOkx, skewed) -> None:
    okx.keyseal = True

    def no_public_time(request: httpx.Request) -> httpx.Response:
        """The server's clock cannot be read, so the check cannot re-sync and retry."""
        if request.url.path == "/api/v5/public/time":
            return httpx.Response(502, text="bad gateway")
        return okx(request)

    report = check_key(okx.creds, base_url=BASE, clock=skewed(40),
                       transport=httpx.MockTransport(no_public_time))
    assert report.refusal is not None and report.refusal.code == "50102"
    assert report.server_skew_ms == pytest.approx(-40_000)
