"""The connection limits come from KEYSEAL_* variables, and nonsense is refused at start."""

from __future__ import annotations

import pytest

from keyseal.settings import ConnectionLimits, Settings


def test_defaults() -> None:
    limits = ConnectionLimits()
    assert (limits.header_timeout_s, limits.body_timeout_s) == (10.0, 20.0)
    assert (limits.max_header_bytes, limits.max_headers, limits.max_target_bytes) == (16384, 100, 8192)
    assert limits.max_connections == 1000
    assert (limits.ws_max_frame_bytes, limits.ws_frames_per_s, limits.ws_logins_per_min) == (
        65536, 100, 10)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSEAL_HEADER_TIMEOUT_S", "0.3")
    monkeypatch.setenv("KEYSEAL_MAX_CONNECTIONS", "20")
    monkeypatch.setenv("KEYSEAL_MAX_BODY_BYTES", "4096")
    settings = Settings()
    assert settings.limits.header_timeout_s == 0.3 and settings.limits.max_connections == 20
    assert settings.max_body_bytes == 4096


@pytest.mark.parametrize(("name", "value", "says"), [
    ("KEYSEAL_HEADER_TIMEOUT_S", "soon", "a number of seconds"),
    ("KEYSEAL_BODY_TIMEOUT_S", "0", "more than 0"),
    ("KEYSEAL_MAX_HEADERS", "0", "1 or more"),
    ("KEYSEAL_MAX_TARGET_BYTES", "65536", "cannot be more than KEYSEAL_MAX_HEADER_BYTES"),
])
def test_nonsense_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                             says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=says):
        ConnectionLimits()


async def test_a_body_cut_short_by_a_disconnect_is_refused_not_handed_to_a_route() -> None:
    from keyseal import errors
    from keyseal.http.app import read_body

    messages = iter([{"type": "http.request", "body": b'{"instId":', "more_body": True},
                     {"type": "http.disconnect"}])

    async def receive() -> dict[str, object]:
        return next(messages)

    with pytest.raises(errors.OkxError) as refused:
        await read_body(receive, {"content-length": "100"}, 1 << 20)
    assert refused.value.error is errors.MALFORMED_HTTP
