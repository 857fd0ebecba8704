"""Deploy, paths, config, credentials, YAML, predict, and messages that name the real cause.

Each case goes through the ``forecast`` command (in this process through
``pricecast.flows.cli.main``, or as a subprocess where start-up or the environment
matters) and checks what a user sees: one line naming the real cause, the exit code, and
that nothing was written where it must not be.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from pricecast.configs.loader import ConfigError, load_config
from pricecast.configs.schema import RunConfig
from pricecast.flows.cli import main
from pricecast.flows.console import one_line
from pricecast.flows.forecast import forecast
from pricecast.flows.home import run_output_dir
from pricecast.flows.predict import predict_ahead
from pricecast.stores.tracking import store

from .conftest import cli_env, one_line_error, run_cli, tiny_config, tiny_dict, write_yaml


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


# --------------------------------------------------------------------------- item 5


def test_deploy_without_a_prefect_api_is_refused(tmp_path):
    home = tmp_path / "home"
    proc = run_cli(["deploy"], cli_env(home), timeout=180)
    assert proc.returncode == 2
    line = one_line_error(proc.stderr)
    assert line.startswith("forecast: forecast deploy needs a Prefect server: ")
    assert "prefect server start" in line and "PREFECT_API_URL" in line
    assert "created work pools" not in proc.stdout
    assert proc.stdout == ""
    # No temporary Prefect API was started: its database would be in the home.
    assert not list((home / "prefect").glob("*.db"))


# --------------------------------------------------------------------------- item 6


@pytest.mark.parametrize("name", ["../../../../escaped", "/tmp/pricecast-escaped", "a/b", ".."])
def test_experiment_name_must_be_a_plain_name(home, tmp_path, capsys, name):
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(experiment=name))
    before = _files(tmp_path)
    code, out, err = _cli(capsys, "run", "--config", str(config))
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"forecast: error: {config}: experiment: ")
    assert "not a plain experiment name" in line
    assert out == ""
    assert _files(tmp_path) - before <= {"home", "home/prefect"}  # nothing else written
    assert not Path("/tmp/pricecast-escaped").exists()


def test_experiment_pattern_is_in_the_form_schema_and_paths_are_confined(
    prefect_api, home, tmp_path
):
    # The Prefect on-demand form is rendered from this schema and checked against it.
    prop = RunConfig.model_json_schema()["properties"]["experiment"]
    assert prop["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._-]*$"
    assert prop["title"] and prop["description"]

    # Paths built from a name are confined even where no schema ran.
    with pytest.raises(ValueError, match="outside the allowed folders"):
        run_output_dir(home, "../../escaped")
    with pytest.raises(ValueError, match="leads outside"):
        store.artifact_folder(home, "../escaped")
    with pytest.raises(ValueError, match="leads outside"):
        store.artifact_folder(home, str(tmp_path / "abs"))

    # A flow run given such a name (a dashboard user's form) is refused, writing nothing.
    bad = tiny_dict(experiment="../../../../escaped")
    state = forecast(config=bad, return_state=True)
    assert state.is_failed()
    assert "experiment" in state.message
    assert not (home / "mlflow.db").exists()
    assert not (home / "outputs").exists()


# --------------------------------------------------------------------------- item 7


def test_a_missing_config_path_is_not_a_bundled_config(home, tmp_path, capsys):
    for ref in (
        str(tmp_path / "configs" / "default.yaml"),
        "configs/nightly.yaml",  # relative to tmp_path (the working directory here)
        "default.yaml",
        "seed_fb.yml",
    ):
        code, out, err = _cli(capsys, "run", "--config", ref)
        assert code == 2, ref
        assert one_line_error(err) == f"forecast: error: config file not found: {ref}"
        assert out == ""
    assert not (home / "mlflow.db").exists()
    assert not (home / "outputs").exists()
    # A bare name is still a bundled config.
    assert load_config("seed_fb").data.tickers == ["FB"]
    with pytest.raises(ConfigError, match="config file not found: weekly .bundled configs"):
        load_config("weekly")


# --------------------------------------------------------------------------- item 8

USER, PASSWORD = "alice", "S3cretPW"


class _BasicAuthHealth(BaseHTTPRequestHandler):
    """Answers ``/health`` only with the right basic-auth credentials; 404 elsewhere."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        auth = self.headers.get("Authorization")
        self.seen.append((self.path, auth))
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if auth != f"Basic {token}":
            self._answer(401, {"error_code": "UNAUTHENTICATED", "message": "who are you?"})
        elif self.path == "/health":
            self._answer(200, None)
        else:
            self._answer(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"})

    do_POST = do_GET  # noqa: N815

    def _answer(self, code: int, body: dict | None) -> None:
        data = b"OK" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if body is None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def auth_server():
    """A real HTTP listener on 127.0.0.1 that wants basic auth; yields its port."""
    _BasicAuthHealth.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BasicAuthHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_in_the_tracking_uri_reach_the_server_and_are_never_printed(
    auth_server, tmp_path
):
    uri = f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_server}"
    # The health check sends the user info as basic auth, not as part of the host name.
    store.check_reachable(uri)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert ("/health", f"Basic {token}") in _BasicAuthHealth.seen

    wrong = f"http://{USER}:nope@127.0.0.1:{auth_server}"
    with pytest.raises(store.TrackingUnavailableError) as info:
        store.check_reachable(wrong)
    assert "answered 401" in str(info.value) and "nope" not in str(info.value)
    assert f"http://{USER}:***@127.0.0.1:{auth_server}" in str(info.value)

    # Through the command: the server is reached (no "unreachable"), the error that
    # follows shows the URI with its password masked, and nothing prints the password.
    home = tmp_path / "home"
    proc = run_cli(
        ["predict", "--ticker", "KO", "--source", "sample"],
        cli_env(home, MLFLOW_TRACKING_URI=uri),
        timeout=180,
    )
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "unreachable" not in line
    assert f"http://{USER}:***@127.0.0.1:{auth_server}" in line
    # MLflow's own client sent the same credentials to the API.
    assert any(p.startswith("/api/") and a == f"Basic {token}" for p, a in _BasicAuthHealth.seen)

    # An unreachable server with credentials: the error line masks them too.
    proc = run_cli(
        ["predict", "--ticker", "KO"],
        cli_env(home, MLFLOW_TRACKING_URI=f"http://{USER}:{PASSWORD}@127.0.0.1:9"),
        timeout=180,
    )
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert PASSWORD not in proc.stdout + proc.stderr
    assert line.startswith(
        f"forecast: error: MLflow tracking server unreachable at http://{USER}:***@"
    )


def test_mlflow_prints_no_run_links_with_credentials(auth_server, tmp_path, monkeypatch):
    from mlflow.environment_variables import MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT

    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    store.open_experiment("rel-links", tmp_path)
    assert not MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.get()  # no password: links stay
    store.open_store(tmp_path, f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_server}")
    assert MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT.get()


def test_redact_masks_every_password_in_a_text():
    bob, pw, token = "bob", "pw", "tok"
    text = (
        f"a http://{USER}:{PASSWORD}@h:1/x and postgresql://{bob}:{pw}@db/x and https://{token}@h"
    )
    assert store.redact(text) == (
        f"a http://{USER}:***@h:1/x and postgresql://{bob}:***@db/x and https://***@h"
    )
    assert store.redact("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


# --------------------------------------------------------------------------- item 9


def _alias_bomb(levels: int = 8) -> str:
    """About 500 bytes whose aliases expand to 9**levels values under ``data.source``."""
    lines = [
        "experiment: bomb",
        "data:",
        "  tickers: [KO]",
        "  source:",
        "    l0: &l0 [x,x,x,x,x,x,x,x,x]",
    ]
    for i in range(1, levels + 1):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"    l{i}: &l{i} [{refs}]")
    lines.append("variants: [{name: rnn, cell: rnn}]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_quickly_in_one_short_line(home, tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    assert bomb.stat().st_size < 600
    t0 = time.perf_counter()
    code, out, err = _cli(capsys, "run", "--config", str(bomb))
    assert time.perf_counter() - t0 < 10
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"forecast: error: {bomb}: its YAML anchors and aliases expand to ")
    assert len(line) < 400
    assert out == ""
    assert not (home / "mlflow.db").exists()

    # A self-referencing alias is refused too.
    loop = write_yaml(tmp_path / "loop.yaml", tiny_dict())
    loop.write_text(loop.read_text() + "extra: &me [*me]\n")
    code, _, err = _cli(capsys, "run", "--config", str(loop))
    assert code == 2
    assert "refers to itself through an alias" in one_line_error(err)


def test_a_huge_rejected_value_is_echoed_in_a_few_characters(home, tmp_path, capsys):
    # Under the alias limit, but a big value: the message quotes a bounded part of it.
    config = write_yaml(tmp_path / "big.yaml", tiny_dict(source="ftp" + "x" * 200_000))
    code, out, err = _cli(capsys, "run", "--config", str(config))
    assert code == 2
    line = one_line_error(err)
    assert "data.source: Input should be 'auto'" in line
    assert len(line) < 600
    assert out == ""

    # Thousands of invalid values: the first 20 are listed, with the count.
    many = tiny_dict()
    many["data"].update({f"key{i}": i for i in range(5000)})
    config = write_yaml(tmp_path / "many.yaml", many)
    code, out, err = _cli(capsys, "run", "--config", str(config))
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"forecast: error: {config}: 5000 invalid values; the first 20: ")
    assert line.count("unknown key") == 20
    assert len(line) < 3000


# --------------------------------------------------------------------------- items 13, 14


def _crown(home: Path) -> str:
    """Register a small (untrained) KO forecaster as champion; returns its version."""
    from pricecast.models.forecaster import Forecaster, ForecastSpec
    from pricecast.models.variant import build_variant_model
    from pricecast.stores import price_files
    from pricecast.stores.tracking import registry
    from pricecast.tasks.dataset import build_dataset
    from pricecast.tasks.validate import validate_prices

    config = tiny_config()
    tracker = store.open_experiment("rel-round2", home)
    store.use_store(tracker)
    frame = validate_prices(price_files.read_sample("KO"), "KO").frame.loc[
        config.data.start : config.data.end
    ]
    data = build_dataset(frame, "KO", config.features, config.split, config.data.target)
    model = build_variant_model(
        config.variants[0], config.training, data.window, len(data.features), data.horizon
    )
    spec = ForecastSpec(
        "KO",
        "adj_close",
        data.features,
        data.window,
        data.horizon,
        data.transform,
        "rnn",
        str(config.data.end),
    )
    run_id = tracker.client.create_run(tracker.experiment_id).info.run_id
    uri = registry.log_forecaster(
        tracker, run_id, Forecaster(model, data.scaler, spec), frame.tail(20).reset_index()
    )
    tracker.client.set_terminated(run_id)
    version = registry.register(tracker, "KO", uri, run_id, {"variant": "rnn"})
    registry.set_champion(tracker, "KO", version)
    return version


@pytest.fixture
def champion(home) -> str:
    return _crown(home)


def test_offline_predict_says_its_source_and_warns_on_stale_prices(
    champion, home, tmp_path, capsys, yahoo
):
    def down(symbol, kwargs, n):
        raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")

    yahoo(down)
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(source="auto", end=None))
    out_dir = tmp_path / "pred"
    code, out, err = _cli(
        capsys, "predict", "--ticker", "KO", "--config", str(config), "--output", str(out_dir)
    )
    assert code == 0, err
    source_line = next(line for line in out.splitlines() if line.startswith("source: "))
    assert source_line.startswith("source: sample, because ")
    assert "using the bundled sample" in source_line
    warning = [line for line in err.splitlines() if line.startswith("WARNING: ")]
    assert len(warning) == 1, err
    last = pd.read_csv(out_dir / "forecast.csv")["date"].iloc[0]
    assert "KO's last price (2020-12-11, from sample) is " in warning[0]
    assert f"this forecast is for {last} onwards" in warning[0]

    # A forced source says so, and the same stale prices still warn.
    code, out, err = _cli(capsys, "predict", "--ticker", "KO", "--source", "sample")
    assert code == 0, err
    assert "source: sample, because data.source is sample" in out
    assert "WARNING: " in err


@pytest.mark.parametrize("horizon", ["0", "-1"])
def test_a_bad_horizon_is_refused_before_any_store_lookup(home, capsys, horizon):
    # A fresh home (no store, no champion): the horizon is what is reported.
    code, out, err = _cli(capsys, "predict", "--ticker", "KO", "--horizon", horizon)
    assert code == 2
    line = one_line_error(err)
    assert line == f"forecast: --horizon must be 1 or more days ahead, got {horizon}"
    assert out == ""
    assert not home.exists()
    with pytest.raises(ValueError, match=f"horizon must be 1 or more days ahead, got {horizon}"):
        predict_ahead("KO", int(horizon), tiny_config().data, home=home)
    assert not home.exists()


def test_horizon_zero_with_a_champion_is_refused_not_read_as_default(champion, home, capsys):
    code, _, err = _cli(capsys, "predict", "--ticker", "KO", "--horizon", "0", "--source", "sample")
    assert code == 2
    assert "--horizon must be 1 or more days ahead, got 0" in one_line_error(err)
    assert not (home / "predictions").exists()


def test_horizon_past_the_champions_is_refused_naming_its_horizon(champion, home, capsys):
    code, out, err = _cli(capsys, "predict", "--ticker", "KO", "--horizon", "3")
    assert code == 1
    line = one_line_error(err)
    assert line.startswith(
        f"forecast: KO's champion (v{champion}, rnn) was trained to forecast 1 step(s) ahead, "
        "so --horizon 3 is out of its reach: ask for at most 1"
    )
    assert "features.horizon: 3" in line
    assert out == ""
    assert not (home / "predictions").exists()


# --------------------------------------------------------------------------- wrong causes


def test_unknown_tracking_scheme_is_refused_before_prefect_starts(tmp_path):
    home = tmp_path / "home"
    config = write_yaml(tmp_path / "c.yaml", tiny_dict())
    t0 = time.perf_counter()
    proc = run_cli(
        ["run", "--config", str(config)],
        cli_env(home, MLFLOW_TRACKING_URI=f"foo://{USER}:{PASSWORD}@somewhere/x"),
        timeout=180,
    )
    took = time.perf_counter() - t0
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert line.startswith(
        f"forecast: error: MLflow tracking URI foo://{USER}:***@somewhere/x has an unsupported "
        "scheme 'foo' (MLflow accepts: "
    )
    assert PASSWORD not in proc.stderr
    assert not list((home / "prefect").rglob("*.db"))  # no Prefect API was started
    assert took < 25


def _blocked_home(tmp_path: Path) -> Path:
    """A FORECAST_HOME that cannot be written, for root too (below a regular file)."""
    if os.geteuid() == 0:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a regular file\n")
        return blocker / "home"
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "home"


def test_unwritable_home_with_output_elsewhere_names_the_home(tmp_path, monkeypatch, capsys):
    home = _blocked_home(tmp_path)
    monkeypatch.setenv("FORECAST_HOME", str(home))
    config = write_yaml(tmp_path / "c.yaml", tiny_dict())
    out = tmp_path / "out"
    try:
        t0 = time.perf_counter()
        code, stdout, err = _cli(capsys, "run", "--config", str(config), "--output", str(out))
        assert time.perf_counter() - t0 < 30
    finally:
        home.parent.chmod(0o700)
    assert code == 1
    line = one_line_error(err)
    assert line.startswith(
        f"forecast: error: FORECAST_HOME is not writable: cannot write to {home}"
    )
    assert "set FORECAST_HOME to a writable folder" in line
    assert stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_output_files_follow_the_umask(champion, home, tmp_path, capsys, umask, mode):
    from pricecast.stores import price_files

    out_dir = tmp_path / f"pred-{umask:o}"
    frame = price_files.read_sample("KO").iloc[:30]
    saved = os.umask(umask)
    try:
        code, _, err = _cli(
            capsys, "predict", "--ticker", "KO", "--source", "sample", "--output", str(out_dir)
        )
        first, last = frame.index[0].date(), frame.index[-1].date()
        cache = price_files.write_cache(tmp_path / "cache", "KO", frame, first, last)
    finally:
        os.umask(saved)
    assert code == 0, err
    for name in ("forecast.csv", "forecast.png"):
        assert (out_dir / name).stat().st_mode & 0o777 == mode, name
    assert sorted(p.name for p in out_dir.iterdir()) == ["forecast.csv", "forecast.png"]
    assert cache.stat().st_mode & 0o777 == mode  # the price cache, on a shared home too
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]


@pytest.fixture
def full_mlflow_db(home):
    """Cap ``mlflow.db`` at its size once created: SQLite's own "full".

    Every SQLite connection this process opens to ``home/mlflow.db`` gets
    ``PRAGMA max_page_count``, so writes fail with SQLITE_FULL ("database or disk is
    full") exactly as on a full disk, without needing a small file system.
    """
    import sqlalchemy as sa

    db = home / "mlflow.db"
    # Created by another process: this one must open its own (capped) connections.
    create = "import sys; from pathlib import Path; from pricecast.stores.tracking import store; "
    create += "store.open_experiment('rel-full', Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", create, str(home)], check=True, timeout=120)
    with closing(sqlite3.connect(db)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]

    def cap(dbapi_connection, _record) -> None:
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
        if str(db) in files:
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    sa.event.listen(sa.engine.Engine, "connect", cap)
    try:
        yield db
    finally:
        sa.event.remove(sa.engine.Engine, "connect", cap)


@pytest.mark.slow
def test_a_full_mlflow_db_is_named_as_the_cause(prefect_api, full_mlflow_db, tmp_path, capsys):
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(experiment="rel-full"))
    code, _, err = _cli(capsys, "run", "--config", str(config), "--output", str(tmp_path / "o"))
    assert code == 1
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("forecast: ")
    assert "database or disk is full" in last, err[-3000:]
    assert "did not run" not in last


def test_the_one_line_error_keeps_the_database_cause_not_sqlalchemys_notes():
    # As a full mlflow.db ends a run whose first write is an autoflush (seen on a full
    # tmpfs): SQLAlchemy's notes come first, the cause on the line after.
    message = (
        "flow ended Failed before writing a summary: Flow run encountered an exception: "
        "MlflowException: (raised as a result of Query-invoked autoflush; consider using a "
        "session.no_autoflush block if this flush is occurring prematurely)\n"
        "(sqlite3.OperationalError) database or disk is full\n"
        '[SQL: INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)]\n'
        "[parameters: [('ticker', 'KO', 'e2334a9a')]]\n"
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)"
    )
    assert one_line(message) == (
        "flow ended Failed before writing a summary: Flow run encountered an exception: "
        "MlflowException: (sqlite3.OperationalError) database or disk is full"
    )
    assert one_line("first\nsecond") == "first (more with --debug)"
