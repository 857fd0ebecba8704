"""Time the fixed cost of a ``forecast`` command; print each figure's median over N runs.

    .venv/bin/python bench/bench_startup.py [--repeats 3] [--src DIR ...] [--skip-imports]

Figures, each in fresh processes:

1. imports: wall of ``python -c "import M"`` for tensorflow, keras, mlflow, prefect,
   pandas (interpreter start included), and ``python -X importtime``'s cumulative time of
   the module itself; ``forecast --help``;
2. the Prefect API's start: Prefect's ephemeral server (``SubprocessASGIServer``; the
   temporary API of ``forecast run`` serves the same app, started by the command) and
   ``prefect server start`` until ``/api/health`` answers, on a fresh ``PREFECT_HOME``
   and on one used once;
3. command start → first task run: ``forecast run`` on a tiny config (bundled sample
   prices, one small RNN, 1 epoch) from the moment the process is started to the first
   task run's start time as the Prefect API recorded it (its database), on a fresh
   ``FORECAST_HOME``, on a home used once before, and, when the checkout has ``forecast
   server``, on a warm home with that server running.

``--src DIR`` times another checkout (its sources first on ``PYTHONPATH``), e.g. the
commit before a change exported with ``git archive``; given twice, the runs of the two
checkouts alternate, so that before and after meet the same load on a shared machine::

    git archive BEFORE | tar -x -C /tmp/before
    .venv/bin/python bench/bench_startup.py --src /tmp/before --src .
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# The `forecast` command as its console script runs it, with the checkout's own code
# (``--src``) first on the path: older checkouts name another entry point.
FORECAST = [sys.executable, "-m", "pricecast.flows.cli"]

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("tensorflow", "keras", "mlflow", "prefect", "pandas")

TINY = """\
experiment: startup
data: {tickers: [KO], source: sample, start: "2019-06-03", end: "2020-03-31",
       target: adj_close}
features: {window: 5, horizon: 1}
split: {test_fraction: 0.1, val_fraction: 0.1}
variants: [{name: rnn, cell: rnn, units: 4}]
training: {epochs: 1, batch_size: 64, patience: 2, seed: 7}
"""


def _env(src: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env["PYTHONPATH"] = str(src)
    env.update(extra)
    return env


def _cwd(env: dict[str, str]) -> str:
    """Where a command of ``env``'s checkout runs: its own root.

    ``python -m`` and ``-c`` put the working directory first on ``sys.path``, before
    ``PYTHONPATH``: run from another checkout, they would import that one's sources.
    """
    return env["PYTHONPATH"]


def _median(values: list[float]) -> str:
    if not values:
        return "n/a"
    spread = f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else ""
    return f"{statistics.median(values):.2f} s{spread}"


def _wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=_cwd(env))
    return time.perf_counter() - t0, proc.stderr


def imports(srcs: list[Path], repeats: int) -> None:
    print("imports (wall of a fresh interpreter; -X importtime's cumulative figure)")
    env = _env(srcs[0])
    for module in MODULES:
        walls, own = [], []
        for _ in range(repeats):
            wall, err = _wall([sys.executable, "-X", "importtime", "-c", f"import {module}"], env)
            walls.append(wall)
            hit = re.search(rf"\|\s*(\d+) \| {module}$", err, re.MULTILINE)
            own.append(int(hit.group(1)) / 1e6 if hit else float("nan"))
        print(f"  import {module:<11} wall {_median(walls)}; importtime {_median(own)}")
    forecast = [*FORECAST, "--help"]
    for src in srcs:
        walls = [_wall(forecast, _env(src))[0] for _ in range(repeats)]
        print(f"  forecast --help ({src.name}) wall {_median(walls)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def prefect_start(src: Path, repeats: int) -> None:
    print("Prefect API start (fresh PREFECT_HOME / the same home again)")
    probe = (
        "import time; from prefect.server.api.server import SubprocessASGIServer\n"
        "s = SubprocessASGIServer(); t0 = time.perf_counter(); s.start()\n"
        "print(time.perf_counter() - t0); s.stop()"
    )
    prefect = str(Path(sys.executable).with_name("prefect"))
    for label in ("temporary server", "prefect server start"):
        fresh, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                env = _env(
                    src,
                    PREFECT_HOME=tmp,
                    PREFECT_SERVER_ANALYTICS_ENABLED="false",
                    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300",
                )
                for into in (fresh, warm):
                    if label == "temporary server":
                        out = subprocess.run(
                            [sys.executable, "-c", probe],
                            env=env,
                            capture_output=True,
                            text=True,
                            cwd=_cwd(env),
                        )
                        if out.returncode != 0:
                            raise SystemExit(f"the temporary server failed:\n{out.stderr[-2000:]}")
                        into.append(float(out.stdout.split()[-1]))
                        continue
                    port = _free_port()
                    url = f"http://127.0.0.1:{port}/api"
                    t0 = time.perf_counter()
                    cmd = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
                    proc = subprocess.Popen(
                        cmd,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        cwd=_cwd(env),
                    )
                    while not _healthy(url) and proc.poll() is None:
                        time.sleep(0.1)
                    into.append(time.perf_counter() - t0)
                    proc.terminate()
                    proc.wait(timeout=30)
        print(f"  {label:<21} fresh {_median(fresh)}; warm {_median(warm)}")


def _first_task(db: Path, since: float) -> float:
    """Seconds from ``since`` (epoch) to the first task run started after it in ``db``."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT start_time FROM task_run WHERE start_time IS NOT NULL")
        starts = [dt.datetime.fromisoformat(r[0]).replace(tzinfo=dt.UTC).timestamp() for r in rows]
    return min(t for t in starts if t >= since) - since


def _run(src: Path, home: Path, config: Path) -> tuple[float, float]:
    """One ``forecast run``: (command start → first task, whole wall)."""
    env = _env(src, FORECAST_HOME=str(home))
    t0, start = time.perf_counter(), time.time()
    proc = subprocess.run(
        [*FORECAST, "run", "-c", str(config)],
        env=env,
        capture_output=True,
        text=True,
        cwd=_cwd(env),
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"forecast run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    server_db = home / "prefect-server" / "prefect.db"
    db = server_db if server_db.is_file() else home / "prefect" / "prefect.db"
    return _first_task(db, start), wall


def first_task(srcs: list[Path], repeats: int) -> None:
    print("command start → first task run (tiny config; whole command's wall after ';')")
    rows: dict[tuple[Path, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "tiny.yaml"
        config.write_text(TINY)
        for i in range(repeats):
            for src in srcs:  # alternated, so that every checkout meets the same load
                home = Path(tmp) / f"home{i}"
                rows.setdefault((src, "fresh home"), []).append(_run(src, home, config))
                rows.setdefault((src, "warm home"), []).append(_run(src, home, config))
                if (src / "flows" / "server.py").is_file():
                    env = _env(src, FORECAST_HOME=str(home))
                    port = str(_free_port())
                    start = [*FORECAST, "server", "start", "--port", port]
                    subprocess.run(start, env=env, check=True, capture_output=True, cwd=src)
                    try:
                        _run(src, home, config)  # the server's first run (its database is new)
                        label = "warm home, forecast server"
                        rows.setdefault((src, label), []).append(_run(src, home, config))
                    finally:
                        stop = [*FORECAST, "server", "stop"]
                        subprocess.run(stop, env=env, check=True, capture_output=True, cwd=src)
                shutil.rmtree(home, ignore_errors=True)
    for (src, label), values in rows.items():
        firsts, walls = [v[0] for v in values], [v[1] for v in values]
        print(f"  {src.name:<10} {label:<27} {_median(firsts)}; wall {_median(walls)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--src", type=Path, action="append", help="checkout to time (repeat to alternate)"
    )
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--skip-prefect", action="store_true")
    args = parser.parse_args()
    srcs = [p.resolve() for p in args.src or [ROOT]]
    print(f"sources: {', '.join(map(str, srcs))}; {args.repeats} runs each, median (min–max)")
    if not args.skip_imports:
        imports(srcs, args.repeats)
    if not args.skip_prefect:
        prefect_start(srcs[0], args.repeats)
    first_task(srcs, args.repeats)


if __name__ == "__main__":
    main()
