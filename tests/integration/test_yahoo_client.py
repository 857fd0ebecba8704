"""yfinance's HTTP client still works in a process that has loaded the whole pipeline.

TensorFlow bundles its own libcurl; loaded before curl_cffi, it breaks curl-impersonate
("Impersonating chrome… is not supported") and with it every Yahoo download. The package
loads curl_cffi first. A request to a closed local HTTPS port shows which case holds
without any network: a connection error means the browser profile was applied.
"""

from __future__ import annotations

import socket
import subprocess
import sys

PROBE = """
import sys
import pricecast.flows.forecast  # the flow, its tracking module, Keras and TensorFlow
import tensorflow
from curl_cffi import requests
try:
    requests.Session(impersonate="chrome").get("https://127.0.0.1:%d/", timeout=5)
except Exception as err:
    print(type(err).__name__, err)
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_yahoo_client_impersonates_a_browser_after_the_pipeline_is_loaded():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % _closed_port()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ConnectionError "), proc.stdout
