"""Credentials in the tracking URI end to end: a real ``mlflow server`` behind basic auth.

MLflow's own basic-auth app needs Flask-WTF, which this environment does not install, so
the server sits behind a small authenticating reverse proxy on 127.0.0.1, as the README
suggests for a shared server. ``forecast run`` is given the credentials in
``MLFLOW_TRACKING_URI``; it must track through them and never print the password.
"""

from __future__ import annotations

import base64
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlflow.tracking import MlflowClient

from .conftest import cli_env, run_cli, tiny_dict, write_yaml

pytestmark = pytest.mark.slow

USER, PASSWORD = "alice", "S3cretPW"
_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}


def _proxy_handler(upstream_port: int, seen: list[str]) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.headers.get("Authorization") != expected:
                seen.append(f"401 {self.path}")
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            seen.append(self.path)
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in _HOP_BY_HOP | {"authorization", "host"}
            }
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

        def log_message(self, *args) -> None:
            pass

    return Proxy


@pytest.fixture
def authenticated_mlflow(mlflow_server):
    """The session's ``mlflow server`` behind a basic-auth proxy; yields (port, seen)."""
    seen: list[str] = []
    upstream = int(mlflow_server.rsplit(":", 1)[1])
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(upstream, seen))
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy.server_address[1], seen
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_run_tracks_through_basic_auth_and_never_prints_the_password(
    authenticated_mlflow, tmp_path
):
    port, seen = authenticated_mlflow
    uri = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}"
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(experiment="rel-auth"))
    out = tmp_path / "out"
    proc = run_cli(
        ["run", "--config", str(config), "--output", str(out)],
        cli_env(tmp_path / "home", MLFLOW_TRACKING_URI=uri),
        timeout=400,
    )
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed[-3000:]
    assert PASSWORD not in printed
    assert f"http://{USER}:***@127.0.0.1:{port}" in proc.stdout
    assert PASSWORD not in (out / "summary.json").read_text()
    assert "/health" in seen and not [p for p in seen if p.startswith("401")]

    # The runs are on the server, reached through the same credentials.
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("rel-auth")
    runs = client.search_runs([exp.experiment_id])
    assert runs and all(r.info.status == "FINISHED" for r in runs)
