"""Effective settings: defaults < TOML file < environment variables.

One `Settings` object is built at start-up and passed down; nothing else reads the
environment. A bad value becomes a `ConfigError` whose message names the key and what is
allowed, so the CLI can print one line and exit with status 2.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from oneclick_tui.stores.retention import RetentionSettings

APP_NAME = "oneclick"
ENV_PREFIX = "ONECLICK_"
Network = Literal["sim", "testnet", "mainnet"]
KeyringBackendName = Literal["auto", "secretservice", "macos", "windows", "cryptfile"]


def user_config_dir() -> Path:
    """Where the user's config.toml lives (XDG on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME))


def user_data_dir() -> Path:
    """Where the embedded SQLite database and logs live."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    return user_config_dir() / "config.toml"


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{user_data_dir() / 'oneclick.db'}"


class AptosSettings(BaseModel):
    """Where the Aptos read and write sides connect when the network is not `sim`."""

    fullnode_url: str | None = None
    """Fullnode REST API base, e.g. https://api.mainnet.aptoslabs.com/v1 (default per network)."""
    indexer_url: str | None = None
    """Indexer GraphQL endpoint (default per network)."""
    api_key: SecretStr | None = None
    """API key sent as a bearer token to the fullnode, the indexer and Decibel."""
    decibel_url: str | None = None
    """Decibel REST API base, e.g. https://api.mainnet.aptoslabs.com/decibel (default per
    network); live order books are snapshotted from it."""
    decibel_ws_url: str | None = None
    """Decibel WebSocket, e.g. wss://api.mainnet.aptoslabs.com/decibel/ws (default per
    network); live order books are kept current from it."""
    decibel_markets: dict[str, str] = Field(
        default_factory=lambda: {"APT/USDC": "APT/USD", "APT/USDT": "APT/USD"}
    )
    """Our pair -> the Decibel market (its name, or its 0x address) whose order book copies
    are paper-filled against. These pairs are what the live engine copies; a lead trade on
    any other pair is skipped and counted."""
    poll_interval_s: float = Field(default=2.0, gt=0, le=3600)
    """How often each followed trader's account is polled for new transactions."""
    max_lead_age_s: float = Field(default=120.0, gt=0, le=86_400)
    """A lead trade seen later than this after it traded (engine was down, node behind) is
    recorded but not copied: each follower gets a `lead_too_old` skip."""
    execution: Literal["paper", "chain"] = "paper"
    """paper: copies fill against the live books and nothing is submitted; chain: copies are
    signed with the followers' keyring keys and submitted to the fullnode (real money)."""

    @field_validator("decibel_url", "decibel_ws_url")
    @classmethod
    def _decibel_scheme(cls, value: str | None, info: Any) -> str | None:
        schemes = ("http", "https") if info.field_name == "decibel_url" else ("ws", "wss")
        if value is not None and urlsplit(value).scheme not in schemes:
            raise ValueError(f"must be a URL with scheme {' or '.join(schemes)}, got {value!r}")
        return value


class SimSettings(BaseModel):
    """The built-in simulated exchange."""

    seed: int = 7
    """Same seed, same market."""
    speed: float = Field(default=1.0, gt=0, le=100_000)
    """Simulated seconds per real second (1 = real time)."""


class Settings(BaseSettings):
    """Every setting OneClick reads, with its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    database_url: str = Field(default_factory=default_database_url)
    """SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db."""
    redis_url: str | None = None
    """redis://host:port/db; unset means the in-process cache and bus."""
    influx_url: str | None = None
    """InfluxDB 2.x base URL; unset means time series live in the relational store."""
    influx_token: SecretStr | None = None
    influx_org: str | None = None
    influx_bucket: str = "oneclick"
    network: Network = "sim"
    """sim (built-in simulated exchange), testnet or mainnet."""
    keyring_backend: KeyringBackendName = "auto"
    """auto picks the OS store; cryptfile is an opt-in passphrase-encrypted file."""
    keyring_passphrase_file: Path | None = None
    """cryptfile only: a file (mode 600) holding its passphrase, for services that cannot be
    asked (a headless engine under systemd); otherwise the terminal or the console asks."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    aptos: AptosSettings = Field(default_factory=AptosSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """How long each data type is kept before `oneclick db retention` archives it."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id -> keys, applied to the console (e.g. {"app.follow" = "F"})."""

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme = value.split(":", 1)[0]
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ValueError(
                f"must start with sqlite+aiosqlite:/// or postgresql+asyncpg://, got {scheme!r}"
            )
        return value

    @field_validator("redis_url", "influx_url")
    @classmethod
    def _url_scheme(cls, value: str | None, info: Any) -> str | None:
        allowed = {"redis_url": ("redis", "rediss", "unix"), "influx_url": ("http", "https")}
        schemes = allowed[info.field_name]
        if value is not None and urlsplit(value).scheme not in schemes:
            raise ValueError(f"must be a URL with scheme {' or '.join(schemes)}, got {value!r}")
        return value

    @property
    def full_stack(self) -> bool:
        """True when any store points at a server rather than the embedded default."""
        return not self.database_url.startswith("sqlite") or bool(self.redis_url)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _ACTIVE_TOML.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


# The TOML path for the settings being built; pydantic-settings asks for sources on the class.
_ACTIVE_TOML: dict[str, Path | None] = {}


class ConfigError(Exception):
    """A setting has a value that is not allowed; the message is one line for the user."""


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings, or raise `ConfigError` naming the bad key."""
    path = config_path or default_config_path()
    if config_path is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        _check_toml(path)
    _ACTIVE_TOML["path"] = path if path.is_file() else None
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    finally:
        _ACTIVE_TOML.pop("path", None)


def _check_toml(path: Path) -> None:
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _describe(exc: ValidationError, toml_path: Path) -> str:
    """One line: which key (as the user wrote it), what is wrong, what is allowed."""
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    env_name = ENV_PREFIX + "__".join(loc).upper()
    where = env_name if env_name in os.environ else f"'{'.'.join(loc)}' in {toml_path}"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown setting"
    return f"config error: {where}: {message}"


def mask_url(url: str | None) -> str | None:
    """Hide the password of a URL, keep everything else readable."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def public_view(settings: Settings) -> dict[str, Any]:
    """The effective settings with every secret masked, for `oneclick config show`."""
    data = settings.model_dump(mode="json")
    for key in ("database_url", "redis_url", "influx_url"):
        data[key] = mask_url(data[key])
    data["influx_token"] = "***" if settings.influx_token else None
    data["aptos"]["api_key"] = "***" if settings.aptos.api_key else None
    return data
