"""deploy/docker-compose.yml is well formed: Docker cannot run on the build machine and
`docker compose config` is not installed, so the YAML is parsed and checked here instead.
Needs PyYAML (a test-only dependency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

COMPOSE = Path(__file__).resolve().parents[1] / "deploy" / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def test_services_images_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "influxdb"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["influxdb"]["image"] == "influxdb:2.7"
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check["interval"] and check["retries"] >= 3, name


def test_ports_are_bound_to_localhost_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name} exposes {port}"


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = {
        mount.split(":", 1)[0]
        for service in compose["services"].values()
        for mount in service.get("volumes", [])
    }
    assert used == declared
    assert all(not name.startswith((".", "/")) for name in used)  # named, not bind mounts


def test_influxdb_initial_setup(compose: dict[str, Any]) -> None:
    env = compose["services"]["influxdb"]["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for key in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert env[f"DOCKER_INFLUXDB_INIT_{key}"], key
