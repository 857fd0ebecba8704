"""``forecast run`` on a terminal: progress bars while it runs, then the table."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from .conftest import ROOT, cli_env, forecast_exe, tiny_dict, write_yaml

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux `script` (a pty)")
def test_a_terminal_gets_progress_bars_and_the_highlighted_table(tmp_path):
    config = write_yaml(tmp_path / "c.yaml", tiny_dict(tickers=("KO", "MSFT"), epochs=3))
    env = cli_env(tmp_path / "home", COLUMNS="120", LINES="40", TERM="xterm-256color")
    env.pop("PREFECT_LOGGING_LEVEL")  # the bars follow the runs' INFO records
    command = shlex.join([forecast_exe(), "run", "--config", str(config)])
    proc = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    screen = proc.stdout
    assert proc.returncode == 0, screen[-3000:]
    assert "tickers" in screen and "KO/rnn" in screen and "MSFT/rnn" in screen
    assert "━" in screen and "3/3" in screen  # a bar, and a variant's epoch counter
    assert "\x1b[" in screen  # drawn in place, in colour
    assert "Finished in state" not in screen and "KO/rnn epoch" not in screen
    assert "directional accuracy" in screen and "best" in screen
