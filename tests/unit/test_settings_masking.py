"""A password in a database or Redis URL is masked wherever the URL is shown (the start-up
line, ``config show``, logs, reprs), whether it sits before the host or in the query."""

from __future__ import annotations

import pytest

from keyseal.scaleout import ScaleOut
from keyseal.settings import shown_db_url


@pytest.mark.parametrize("url", [
    "postgresql://keyseal:hunter2@db.internal/keys",
    "postgresql://keyseal@db.internal/keys?password=hunter2",
    "postgresql://keyseal@db.internal/keys?sslmode=require&PASSWORD=hunter2&application_name=ks",
    "postgresql://keyseal@db.internal/keys?sslpassword=hunter2",
])
def test_a_database_password_is_never_shown(url: str) -> None:
    shown = shown_db_url(url)
    assert "hunter2" not in shown and "db.internal" in shown


@pytest.mark.parametrize("url", [
    "redis://:hunter2@cache:6379/0",
    "redis://default:hunter2@cache:6379/0",
    "redis://cache:6379/0?password=hunter2",
])
def test_a_redis_password_is_never_shown(url: str) -> None:
    shown = ScaleOut(redis_url=url).shown_redis_url
    assert "hunter2" not in shown and "cache:6379" in shown
    assert "hunter2" not in repr(ScaleOut(redis_url=url))
