"""Passwords in a database URL stay out of reprs, so a logged settings object leaks nothing."""

from __future__ import annotations

from pathlib import Path

from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings

URL = "postgresql://u:pw-s3cret@h/db"


def test_settings_hide_the_database_password(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, db_url=URL)
    for shown in (repr(settings), str(settings)):
        assert "pw-s3cret" not in shown
        assert "u:***@h/db" in shown
    assert settings.db_url.endswith("u:pw-s3cret@h/db")  # the real URL is still there to use


def test_runtime_hides_the_database_password(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    rt = open_runtime(settings)
    try:
        rt.settings.db_url = URL
        assert "pw-s3cret" not in repr(rt) and "pw-s3cret" not in str(rt)
        assert "pw-s3cret" not in repr(rt.db)
    finally:
        rt.close()
