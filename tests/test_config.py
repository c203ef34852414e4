"""Settings precedence and the one-line errors a user sees for bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oneclick_tui.config import ConfigError, load_settings, mask_url, public_view


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_embedded_store_and_the_simulator() -> None:
    settings = load_settings()
    assert settings.network == "sim"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url is None
    assert not settings.full_stack


def test_toml_overrides_defaults_and_env_overrides_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _write(tmp_path / "c.toml", 'network = "testnet"\nredis_url = "redis://h:1/0"\n')
    assert load_settings(cfg).network == "testnet"
    monkeypatch.setenv("ONECLICK_NETWORK", "mainnet")
    settings = load_settings(cfg)
    assert settings.network == "mainnet"
    assert settings.redis_url == "redis://h:1/0"
    assert settings.full_stack


def test_default_config_file_in_user_config_dir_is_read(tmp_path: Path) -> None:
    config_home = Path(os.environ["XDG_CONFIG_HOME"]) / "oneclick"
    config_home.mkdir(parents=True)
    _write(config_home / "config.toml", "[sim]\nseed = 42\n")
    assert load_settings().sim.seed == 42


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"ONECLICK_NETWORK": "devnet"},
            "ONECLICK_NETWORK: Input should be 'sim', 'testnet' or 'mainnet'",
        ),
        ({"ONECLICK_DATABASE_URL": "mysql://x"}, "ONECLICK_DATABASE_URL: must start with"),
        ({"ONECLICK_REDIS_URL": "http://x"}, "ONECLICK_REDIS_URL: must be a URL with scheme redis"),
        ({"ONECLICK_SIM__SPEED": "0"}, "ONECLICK_SIM__SPEED: Input should be greater than 0"),
    ],
)
def test_bad_env_value_names_the_variable(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_toml_value_names_the_key_and_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "c.toml", '[sim]\nseed = "many"\n')
    with pytest.raises(
        ConfigError, match=r"'sim\.seed' in .*c\.toml: Input should be a valid integer"
    ):
        load_settings(cfg)


def test_unknown_key_and_broken_toml_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'netwrk' .*unknown setting"):
        load_settings(_write(tmp_path / "a.toml", 'netwrk = "sim"\n'))
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(_write(tmp_path / "b.toml", "network = \n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_secrets_are_masked_in_the_public_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONECLICK_DATABASE_URL", "postgresql+asyncpg://app:s3cret@db:5432/oneclick")
    monkeypatch.setenv("ONECLICK_INFLUX_TOKEN", "tok-123")
    monkeypatch.setenv("ONECLICK_APTOS__API_KEY", "aptoslabs_key")
    view = public_view(load_settings())
    flat = repr(view)
    assert "s3cret" not in flat and "tok-123" not in flat and "aptoslabs_key" not in flat
    assert view["database_url"] == "postgresql+asyncpg://app:***@db:5432/oneclick"
    assert view["influx_token"] == "***"
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def _oneclick(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "oneclick_tui", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def test_cli_bad_value_is_one_line_exit_2_no_traceback() -> None:
    result = _oneclick("config", "show", env={"ONECLICK_NETWORK": "devnet"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "oneclick: config error: ONECLICK_NETWORK: Input should be 'sim', 'testnet' or 'mainnet'"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_config_show_prints_effective_settings_masked() -> None:
    result = _oneclick(
        "config",
        "show",
        env={"ONECLICK_NETWORK": "testnet", "ONECLICK_REDIS_URL": "redis://:pw@127.0.0.1:6379/0"},
    )
    assert result.returncode == 0, result.stderr
    assert 'network = "testnet"' in result.stdout
    assert 'redis_url = "redis://:***@127.0.0.1:6379/0"' in result.stdout
    assert "pw@" not in result.stdout
