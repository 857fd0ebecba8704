"""The temporary Prefect API a command starts when no API is configured."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from prefect import flow, get_client
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_HOME,
    PREFECT_SERVER_DATABASE_CONNECTION_URL,
    temporary_settings,
)

from pricecast.flows import temporary_api

pytestmark = pytest.mark.slow


@flow(name="temporary-api-probe")
def _probe() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id)


def _sqlite(home) -> str:
    return f"sqlite+aiosqlite:///{home}/prefect.db"


def test_a_flow_runs_on_the_temporary_api_and_its_new_database(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    home = tmp_path / "prefect"
    # As a command's PREFECT_HOME, set before Prefect reads its settings, places it.
    where = {PREFECT_HOME: home, PREFECT_SERVER_DATABASE_CONNECTION_URL: _sqlite(home)}
    with temporary_settings(updates=where, restore_defaults={PREFECT_API_URL}):
        api = temporary_api.start_temporary_api(verbose=False)
        assert api is not None
        try:
            with temporary_api.served(api):
                assert os.environ["PREFECT_API_URL"] == api.url == PREFECT_API_URL.value()
                run_id = _probe()
                with get_client(sync_client=True) as client:
                    assert client.read_flow_run(run_id).state_name == "Completed"
            assert "PREFECT_API_URL" not in os.environ  # the command's setting only
        finally:
            api.stop()
        assert api.process.poll() is not None
    # The new home's database started from the packaged one, and holds the run.
    with sqlite3.connect(f"file:{home / 'prefect.db'}?mode=ro", uri=True) as db:
        names = db.execute("select name from flow_run where id = ?", (run_id,)).fetchall()
    assert len(names) == 1


def test_a_configured_api_is_used_instead(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert temporary_api.start_temporary_api(verbose=False) is None
    monkeypatch.delenv("PREFECT_API_URL")
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert temporary_api.start_temporary_api(verbose=False) is None  # a profile's


def test_a_server_that_dies_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    old_log = tmp_path / "temporary-api.log"
    old_log.write_bytes(b"x" * (temporary_api.LOG_LIMIT + 1))  # earlier commands' output
    where = {PREFECT_HOME: tmp_path, PREFECT_SERVER_DATABASE_CONNECTION_URL: _sqlite(tmp_path)}
    with temporary_settings(updates=where, restore_defaults={PREFECT_API_URL}):
        api = temporary_api.start_temporary_api(verbose=False)
        assert api is not None
        api.process.kill()
        api.process.wait()
        with pytest.raises(temporary_api.CliError, match="temporary Prefect API exited") as err:
            api.wait(timeout=30)
    assert f"(log: {api.log})" in str(err.value)
    assert api.log == old_log and old_log.stat().st_size < temporary_api.LOG_LIMIT
    assert (tmp_path / "temporary-api.log.1").stat().st_size == temporary_api.LOG_LIMIT + 1


_FRESH_PROCESS = """
import sys, psutil
from pricecast.flows import temporary_api
assert "prefect.settings" not in sys.modules  # as in a command before its flow's imports
api = temporary_api.start_temporary_api(verbose=False)
alive = [c.cmdline() for c in psutil.Process().children(recursive=True) if c.is_running()]
print(api is None, alive)
"""


def test_a_profiles_api_stops_the_server_a_fresh_command_started(tmp_path):
    # A command starts its server before importing Prefect's settings; a profile that
    # names an API is found a moment later, and the server is stopped again.
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "remote"\n[profiles.remote]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_PROFILES_PATH=str(profiles))
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "True []", done.stderr
