"""``forecast server``: a real local Prefect server that ``forecast run`` reuses."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request

from pricecast.flows.server import alive, healthy

from .conftest import ROOT, cli_env, run_cli, tiny_dict, write_yaml

PROBE = (
    "import sys\n"
    "from pricecast.flows.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "loaded = {m.split('.')[0] for m in sys.modules}\n"
    "print('heavy:', sorted({'tensorflow', 'keras', 'mlflow', 'prefect'} & loaded))\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """``forecast ARGS`` in one process, then which heavy libraries it loaded."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, cwd=ROOT, capture_output=True, text=True
    )


def test_run_reuses_the_started_server_and_stop_ends_it(home, tmp_path):
    env = cli_env(home)
    state_file = home / "prefect-server" / "server.json"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"

    status = _probe(["server", "status"], env)
    assert "no Prefect server running" in status.stdout
    assert "heavy: []" in status.stdout, status.stdout + status.stderr

    started = run_cli(["server", "start", "--port", str(port)], env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"Prefect server started at {url}" in started.stdout
        state = json.loads(state_file.read_text())
        assert state["url"] == url and alive(state["pid"]) and healthy(url)

        again = run_cli(["server", "start", "--port", str(port)], env)
        assert again.returncode == 0 and f"already running at {url}" in again.stdout

        status = _probe(["server", "status"], env)
        assert f"Prefect server running at {url} (pid {state['pid']}" in status.stdout
        assert "heavy: []" in status.stdout

        config = write_yaml(tmp_path / "tiny.yaml", tiny_dict())
        run = run_cli(["run", "-c", str(config)], env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        line = re.search(r"Prefect: +flow run (\S+) \((\w+)\) on (.*)", run.stdout)
        assert line and line[2] == "Completed"
        assert line[3] == f"{url} (forecast server)"
        with urllib.request.urlopen(f"{url}/flow_runs/{line[1]}", timeout=10) as resp:
            flow_run = json.load(resp)
        assert flow_run["state"]["type"] == "COMPLETED"
        assert flow_run["name"].startswith("KO ")
        # No temporary API started: its database would be in the home's own PREFECT_HOME.
        assert not (home / "prefect" / "prefect.db").exists()

        scores = _probe(["scores"], env)
        assert "heavy: []" in scores.stdout, scores.stdout + scores.stderr

        # Deployments go to the same server, and creating them loads no TensorFlow.
        deployed = _probe(["deploy", "-c", str(config)], env)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        assert f"Prefect API: {url} (forecast server)" in deployed.stdout
        assert "'tensorflow'" not in deployed.stdout and "'keras'" not in deployed.stdout
        request = urllib.request.Request(
            f"{url}/deployments/filter", data=b"{}", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            names = {d["name"] for d in json.load(resp)}
        assert {"watchlist", "on-demand", "train-gpu"} <= names, names
    finally:
        stopped = run_cli(["server", "stop"], env)
    assert stopped.returncode == 0 and f"stopped the Prefect server at {url}" in stopped.stdout
    assert not alive(state["pid"]) and not healthy(url) and not state_file.exists()

    # Left behind by a server that died: ignored, said in one line and removed.
    state_file.write_text(json.dumps(state))
    status = run_cli(["server", "status"], env)
    assert status.returncode == 1 and "no Prefect server running" in status.stdout
    assert f"ignoring a stale Prefect server state file, {state_file}" in status.stderr
    assert f"its process {state['pid']} is not running" in status.stderr
    assert not state_file.exists()
    assert os.listdir(home / "prefect-server")  # its database and log stay for the next start
