"""Every setting from a flag, the environment or a TOML file; checked at start; shown with
where it came from and secrets hidden."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ops.conftest import keyseal


def shown(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    result = keyseal("config", "show", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["settings"]


def test_each_source_named_and_flags_win(tmp_path: Path) -> None:
    file = tmp_path / "keyseal.toml"
    file.write_text('port = 9001\nkey_cache_size = 500\nworkers = 3\n'
                    'trusted_proxies = ["10.0.0.1"]\n')
    env = {"KEYSEAL_HOME": str(tmp_path / "h"), "KEYSEAL_KEY_CACHE_SIZE": "700",
           "KEYSEAL_HEADER_TIMEOUT_S": "2.5", "KEYSEAL_TRUSTED_PROXIES": "10.0.0.2, 10.1.0.0/16"}
    rows = shown("--config", str(file), "--set", "workers=4", env=env)
    assert rows["port"] == {"value": 9001, "source": f"file {file}"}
    assert rows["key_cache_size"] == {"value": 700, "source": "env KEYSEAL_KEY_CACHE_SIZE"}
    assert rows["workers"] == {"value": 4, "source": "flag --set workers"}
    assert rows["header_timeout_s"]["value"] == 2.5
    assert rows["trusted_proxies"]["value"] == ["10.0.0.2", "10.1.0.0/16"]
    assert rows["home"] == {"value": str(tmp_path / "h"), "source": "env KEYSEAL_HOME"}
    assert rows["host"] == {"value": "127.0.0.1", "source": "default"}


def test_the_config_file_from_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "keyseal.toml"
    file.write_text("log_format = 'json'\n")
    rows = shown(env={"KEYSEAL_CONFIG": str(file)})
    assert rows["log_format"] == {"value": "json", "source": f"file {file}"}


def test_secrets_are_never_printed(tmp_path: Path) -> None:
    env = {"KEYSEAL_MASTER_KEY": "1:c2VjcmV0LW1hc3Rlci1rZXktbWF0ZXJpYWwtMzItYnl0ZXM=",
           "KEYSEAL_DB": "postgresql://keyseal:hunter2-pw@db.internal/keyseal"}
    for args in ((), ("--json",)):
        result = keyseal("config", "show", *args, env=env)
        assert result.returncode == 0, result.stderr
        assert "hunter2" not in result.stdout and "c2VjcmV0" not in result.stdout
    rows = shown(env=env)
    assert rows["master_key"] == {"value": "********", "source": "env KEYSEAL_MASTER_KEY"}
    assert rows["db"]["value"] == "postgresql+psycopg://keyseal:***@db.internal/keyseal"


def one_line_error(result: object) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_wrong_value_is_one_line_naming_the_setting_and_its_source(tmp_path: Path) -> None:
    line = one_line_error(keyseal("config", "show", env={"KEYSEAL_PORT": "eighty"}))
    assert line.startswith("error: $KEYSEAL_PORT must be a valid integer") and "'eighty'" in line
    line = one_line_error(keyseal("config", "show", "--set", "workers=0"))
    assert "--set workers must be greater than or equal to 1" in line
    file = tmp_path / "k.toml"
    file.write_text("key_cache_sise = 5\n")
    line = one_line_error(keyseal("config", "show", "--config", str(file)))
    assert f"key_cache_sise in {file}: there is no setting 'key_cache_sise'" in line
    file.write_text("max_target_bytes = 99999\n")  # a rule across two settings
    line = one_line_error(keyseal("config", "show", "--config", str(file)))
    assert "KEYSEAL_MAX_TARGET_BYTES cannot be more than KEYSEAL_MAX_HEADER_BYTES" in line


def test_a_broken_or_missing_file_and_a_secret_in_a_file(tmp_path: Path) -> None:
    line = one_line_error(keyseal("config", "show", "--config", str(tmp_path / "nope.toml")))
    assert "does not exist" in line and "--config" in line
    file = tmp_path / "k.toml"
    file.write_text("port = \n")
    assert "is not valid TOML" in one_line_error(keyseal("config", "show", "--config", str(file)))
    file.write_text("master_key = '1:abc'\n")
    line = one_line_error(keyseal("config", "show", "--config", str(file)))
    assert "$KEYSEAL_MASTER_KEY" in line and "abc" not in line
    line = one_line_error(keyseal("config", "show", "--set", "master_key=1:abc"))
    assert "cannot be set by a flag" in line and "abc" not in line


def test_serve_refuses_a_wrong_setting_before_making_anything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = keyseal("serve", "--home", str(home), "--port", "0")
    assert one_line_error(result).startswith("error: --port must be greater than or equal to 1")
    assert not home.exists()
    result = keyseal("serve", "--home", str(home), "--log-format", "xml")
    assert "--log-format must be 'text' or 'json'" in one_line_error(result)


def test_the_file_sets_the_server_up(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    file = tmp_path / "keyseal.toml"
    file.write_text("rate_limits = false\n")
    served = serve("--config", str(file))
    codes = {httpx.get(served.url + "/api/v5/public/time").json()["code"] for _ in range(25)}
    assert codes == {"0"}  # 10 per 2 s per IP when limits are on


def test_every_command_reads_the_file_named_by_keyseal_config(tmp_path: Path) -> None:
    home = tmp_path / "from-file"
    file = tmp_path / "keyseal.toml"
    file.write_text(f"home = '{home}'\n")
    assert keyseal("init", env={"KEYSEAL_CONFIG": str(file)}).returncode == 0
    assert (home / "master.key").is_file()
    file.write_text("home = 5\n")
    line = one_line_error(keyseal("init", env={"KEYSEAL_CONFIG": str(file)}))
    assert line == f"error: home in {file} is not a valid path, not '5'; fix it or leave it unset for the default"
