"""The local Prefect server's state: stale files are ignored, said and removed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pricecast.flows import server
from pricecast.stores.server_state import ServerState, write_state


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _state(pid: int, url: str = "http://127.0.0.1:9/api") -> ServerState:
    return ServerState(pid=pid, url=url, log="server.log", started="2020-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("pid", "why"),
    [
        ("dead", "is not running"),
        ("alive", "no Prefect API answers at http://127.0.0.1:9/api"),  # a wrong port
    ],
)
def test_a_stale_state_file_is_ignored_said_and_removed(tmp_path, monkeypatch, capsys, pid, why):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    write_state(server.state_file(tmp_path), _state(_dead_pid() if pid == "dead" else os.getpid()))
    assert "temporary API" in server.choose_api(tmp_path)
    assert "PREFECT_API_URL" not in os.environ
    err = capsys.readouterr().err
    assert "ignoring a stale Prefect server state file" in err and why in err
    assert len(err.strip().splitlines()) == 1
    assert not server.state_file(tmp_path).exists()


def test_an_explicit_api_url_wins_over_the_state_file(tmp_path, monkeypatch):
    write_state(server.state_file(tmp_path), _state(_dead_pid()))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert server.choose_api(tmp_path) == "http://127.0.0.1:1/api (PREFECT_API_URL)"
    assert server.state_file(tmp_path).exists()  # not even read


def test_stop_without_a_server_is_a_no_op_and_a_dead_one_is_forgotten(tmp_path):
    assert server.stop(tmp_path) is None
    write_state(server.state_file(tmp_path), _state(_dead_pid()))
    assert server.stop(tmp_path) is not None
    assert not server.state_file(tmp_path).exists()
