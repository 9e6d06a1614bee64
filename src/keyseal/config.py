"""Where each setting comes from: a flag, the environment (``KEYSEAL_*``) or a TOML file
(``--config``), in that order of precedence, validated by pydantic-settings at start.

The rest of the code keeps reading ``keyseal.settings.Settings``; this module only builds one,
and says for ``keyseal config show`` where each value came from. It imports pydantic, so the
CLI loads it only for the commands that need it (``serve``, ``config show``, or any command
when ``$KEYSEAL_CONFIG`` names a file), never for ``--help`` or the key holder's commands.

A wrong value is refused before anything starts, in one line that names the setting, where
it came from and what to write instead (``ConfigInvalid``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from keyseal.scaleout import ScaleOut, parse_rate
from keyseal.settings import ConnectionLimits, GuessingLimits, Settings, shown_db_url

CONFIG_ENV = "KEYSEAL_CONFIG"
ENV_PREFIX = "KEYSEAL_"
HIDDEN = "********"

Seconds = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]


class ConfigInvalid(Exception):
    """A setting's value cannot be used; the message is one line: which setting, from where,
    what is wrong and what to do."""


class KeysealConfig(BaseSettings):
    """Every operator setting, named as its environment variable without ``KEYSEAL_`` and
    lower-cased (``KEYSEAL_KEY_CACHE_SIZE`` is ``key_cache_size``, also in the TOML file)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid",
                                      env_ignore_empty=True, validate_default=True)
    #: the TOML file of this load (set on a subclass per load, see ``load``)
    toml_path: ClassVar[Path | None] = None

    # -- where the data lives ------------------------------------------------------------
    home: Path | None = None
    db: SecretStr | None = None
    #: read by the keyring itself, from the environment only: shown hidden, never from a file
    master_key: SecretStr | None = None
    # -- the server ----------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8400, ge=1, le=65535)
    workers: Count = 1
    log_level: LogLevel = "warning"
    log_format: LogFormat = "text"
    access_log: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: drained for at most this long after SIGTERM, then the connections left are closed
    graceful_timeout_s: Seconds = 10.0
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    rate_limits: bool = True
    # -- the gate ------------------------------------------------------------------------
    timestamp_window_s: Seconds = 30.0
    key_cache_size: Count = 100_000
    unknown_key_ttl_s: Seconds = 5.0
    key_cache_max_age_s: Seconds = 60.0
    unknown_key_catch_up_s: Seconds = 0.05
    refuse_repeated_reads: bool = False
    # -- background work -----------------------------------------------------------------
    usage_flush_interval_s: Seconds = 1.0
    change_poll_interval_s: Seconds = 0.2
    sweep_interval_s: Seconds = 600.0
    # -- keys ----------------------------------------------------------------------------
    rotation_silence_s: int = Field(24 * 3600, ge=1)
    rotation_grace_s: int = Field(7 * 24 * 3600, ge=0, le=90 * 24 * 3600)
    min_kyc_for_keys: int = Field(2, ge=0, le=3)
    min_ipv4_prefix: int = Field(16, ge=1, le=32)
    min_ipv6_prefix: int = Field(48, ge=1, le=128)
    # -- slow and greedy clients (ConnectionLimits) ------------------------------------------
    max_body_bytes: Count = 1 << 20
    header_timeout_s: Seconds = 10.0
    body_timeout_s: Seconds = 20.0
    max_header_bytes: Count = 16 * 1024
    max_headers: Count = 100
    max_target_bytes: Count = 8 * 1024
    max_connections: Count = 1000
    ws_max_frame_bytes: Count = 64 * 1024
    ws_frames_per_s: Count = 100
    ws_logins_per_min: Count = 10
    # -- guessing budgets (GuessingLimits, gate/guessing.py) -------------------------------
    guess_address_failures: Count = 30
    guess_address_window_s: Seconds = 60.0
    guess_address_lockout_s: Seconds = 60.0
    guess_key_failures: Count = 10
    guess_key_window_s: Seconds = 600.0
    guess_key_lockout_s: Seconds = 600.0
    argon2_workers: Count = 1
    # -- several processes (ScaleOut, src/keyseal/scaleout.py) ----------------------------
    #: redis://[:password@]host:port/db shared by several processes; none: all per process
    redis_url: SecretStr | None = None
    redis_prefix: str = Field("keyseal:", min_length=1, max_length=64)
    redis_timeout_s: Seconds = 0.25
    redis_retry_s: Seconds = 0.5
    #: N/SECONDS or off: every public endpoint together per client IP, every private one
    #: together per API key (the seeds' limits, on top of OKX's)
    public_ip_rate: str = "10/1"
    private_key_rate: str = "50/1"

    @field_validator("public_ip_rate", "private_key_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)  # N/SECONDS or off; the message says so
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: "10.0.0.1, 10.1.0.0/16"
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return tuple(sources)


#: the settings only the environment may hold: a secret belongs neither in a file nor a flag
ENV_ONLY = frozenset({"master_key"})
#: the settings only ``keyseal serve`` reads: not part of ``Settings``
SERVE_ONLY = ("workers", "log_level", "log_format", "access_log", "tls_cert", "tls_key",
              "graceful_timeout_s", "master_key")
_LIMITS = {f.name for f in fields(ConnectionLimits)}
_SCALEOUT = {f.name for f in fields(ScaleOut)}
#: GuessingLimits' fields, as the configuration names them
_GUESSING = {("argon2_workers" if f.name == "argon2_workers" else "guess_" + f.name): f.name
             for f in fields(GuessingLimits)}


@dataclass(frozen=True)
class Loaded:
    """The effective configuration and where each value came from."""

    config: KeysealConfig
    #: setting → "flag", "env KEYSEAL_…", "file PATH" or "default"
    sources: dict[str, str]
    file: Path | None

    def settings(self) -> Settings:
        """The ``Settings`` the server and services use."""
        c = self.config
        given: dict[str, Any] = {name: getattr(c, name) for name in KeysealConfig.model_fields
                                 if name not in _LIMITS and name not in SERVE_ONLY
                                 and name not in _SCALEOUT and name not in _GUESSING
                                 and name not in ("home", "db")}
        if c.home is not None:
            given["home"] = c.home
        if c.db is not None:
            given["db_url"] = c.db.get_secret_value()
        try:
            limits = ConnectionLimits(**{name: getattr(c, name) for name in _LIMITS})
            scaleout = ScaleOut(
                redis_url=c.redis_url.get_secret_value() if c.redis_url else "",
                redis_prefix=c.redis_prefix, redis_timeout_s=c.redis_timeout_s,
                redis_retry_s=c.redis_retry_s, public_ip_rate=parse_rate(c.public_ip_rate),
                private_key_rate=parse_rate(c.private_key_rate))
            guessing = GuessingLimits(**{field_name: getattr(c, name)
                                         for name, field_name in _GUESSING.items()})
            return Settings(limits=limits, scaleout=scaleout, guessing=guessing, **given)
        except ValueError as wrong:  # a rule across settings (dataclass __post_init__)
            raise ConfigInvalid(f"{wrong}; fix the setting named") from None

    def shown(self) -> dict[str, dict[str, Any]]:
        """Every setting with its value (secrets hidden) and its source, for ``config show``."""
        rows: dict[str, dict[str, Any]] = {}
        effective = self.settings()
        for name in KeysealConfig.model_fields:
            value = getattr(self.config, name)
            if name == "home":
                value = str(effective.home)
            elif name == "db":  # the URL in use, its password masked
                value = shown_db_url(effective.db_url)
            elif name == "redis_url":  # the URL in use, its password masked
                value = effective.scaleout.shown_redis_url
            elif isinstance(value, SecretStr):
                value = HIDDEN
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            rows[name] = {"value": value, "source": self.sources[name]}
        return rows


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def load(flags: dict[str, Any] | None = None, config_file: Path | None = None, *,
         spelled: dict[str, str] | None = None) -> Loaded:
    """The settings from ``flags`` (only those the operator gave: None means not given), the
    environment and the TOML file (``config_file``, else ``$KEYSEAL_CONFIG``, else none).
    ``spelled``: how a flag was written, for messages (default ``--name-with-dashes``)."""
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    path = config_file or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is not None and not path.is_file():
        raise ConfigInvalid(f"the config file {path} does not exist or is not a file; check "
                            f"--config (or ${CONFIG_ENV})")
    cls: type[KeysealConfig] = type("KeysealConfigLoad", (KeysealConfig,), {"toml_path": path})
    from_env = EnvSettingsSource(cls)()
    from_file = _read_file(cls, path) if path is not None else {}
    for name in ENV_ONLY & from_file.keys():
        raise ConfigInvalid(f"{name} cannot be set in the config file {path}: a secret goes in "
                            f"${env_name(name)}")
    for name in ENV_ONLY & given.keys():  # a flag would show in `ps` and shell history
        raise ConfigInvalid(f"{name} cannot be set by a flag: a secret goes in "
                            f"${env_name(name)}")
    try:
        config = cls(**given)
    except ValidationError as invalid:
        raise ConfigInvalid(_one_line(invalid, given, from_env, path, spelled or {})) from None
    sources = {}
    for name in KeysealConfig.model_fields:
        if name in given:
            sources[name] = "flag " + ((spelled or {}).get(name) or f"--{name.replace('_', '-')}")
        elif name in from_env:
            sources[name] = f"env {env_name(name)}"
        elif name in from_file:
            sources[name] = f"file {path}"
        else:
            sources[name] = "default"
    return Loaded(config, sources, path)


def _read_file(cls: type[KeysealConfig], path: Path) -> dict[str, Any]:
    import tomllib

    try:
        found = TomlConfigSettingsSource(cls, toml_file=path)()
    except tomllib.TOMLDecodeError as broken:
        raise ConfigInvalid(f"the config file {path} is not valid TOML ({broken}); fix it or "
                            "pass another --config") from None
    except OSError as unreadable:
        raise ConfigInvalid(f"cannot read the config file {path} ({unreadable.strerror}); "
                            "check --config") from None
    return dict(found)


def _one_line(invalid: ValidationError, flags: dict[str, Any], env: dict[str, Any],
              path: Path | None, spelled: dict[str, str]) -> str:
    """The first error, as an operator reads it: the setting, its source, what is wrong."""
    error = invalid.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    if name in flags:
        where = spelled.get(name) or f"--{name.replace('_', '-')}"
    elif name in env:
        where = f"${env_name(name)}"
    elif path is not None:
        where = f"{name} in {path}"
    else:
        where = name
    if error["type"] == "extra_forbidden":
        return (f"{where}: there is no setting {name!r}; `keyseal config show` lists them "
                "(names as in the environment, without KEYSEAL_, lower-cased)")
    given = error.get("input")
    shown = "" if name in ("db", "master_key") or isinstance(given, dict) else \
        f", not {str(given)[:40]!r}"
    return f"{where} {_reason(error['msg'])}{shown}; fix it or leave it unset for the default"


def _reason(msg: str) -> str:
    """pydantic's message, as the rest of a sentence that starts with the setting."""
    msg = re.sub(r" for <class '[\w.]+'>", "", msg)  # "a valid path for <class 'Path'>"
    msg = msg[0].lower() + msg[1:] if msg else "is not valid"
    for prefix, replacement in (("input should be", "must be"), ("value error, ", ""),
                                ("input is not", "is not")):
        if msg.startswith(prefix):
            return replacement + msg[len(prefix):]
    return f"is not valid ({msg})"
