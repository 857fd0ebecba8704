"""Real MLflow servers and small configs on the bundled sample (Prefect API: tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from pricecast.configs.loader import parse_config
from pricecast.configs.schema import RunConfig


def small_config(tickers=("KO", "MSFT"), epochs=2, **data) -> RunConfig:
    """Two sample tickers, three tiny variants, two epochs."""
    return parse_config(
        {
            "experiment": "it-small",
            "data": {
                "tickers": list(tickers),
                "source": "sample",
                "start": "2018-01-01",
                "end": "2020-06-30",
                "target": "adj_close",
                **data,
            },
            "features": {"window": 10, "horizon": 1},
            "split": {"test_fraction": 0.05, "val_fraction": 0.1},
            "variants": [
                {"name": "rnn", "cell": "rnn", "units": 4},
                {"name": "lstm", "cell": "lstm", "units": 4},
                {"name": "gru", "cell": "gru", "units": 4},
            ],
            "training": {"epochs": epochs, "batch_size": 64, "patience": 5, "seed": 7},
        },
        "test",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 (sqlite backend, proxied artifacts in tmp)."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    exe = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "mlflow"
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            exe,
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("mlflow server did not start in 120 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
