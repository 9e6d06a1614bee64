"""Fixtures for the client tests (the doubles live in ``okx_fake``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keyseal.client import Credentials
from tests.client.okx_fake import FakeOkx, FakeTime, new_credentials


@pytest.fixture
def creds() -> Credentials:
    return new_credentials()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def okx(creds: Credentials, fake_time: FakeTime) -> FakeOkx:
    return FakeOkx(creds, fake_time)


@pytest.fixture
def skewed(fake_time: FakeTime) -> Callable[[float], Callable[[], float]]:
    """A local clock that is ``offset`` seconds off the true time."""
    return lambda offset: (lambda: fake_time.now + offset)
