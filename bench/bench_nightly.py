"""Seconds per night of the nightly loop, with and without retraining; print the figures.

    .venv/bin/python bench/bench_nightly.py [--sessions 60] [--tickers AAPL MSFT KO]
        [--retrain-every 20] [--epochs 10]

Replays the last ``--sessions`` sessions of the bundled sample (ending 2020-12-11) with
``forecast replay`` on ``configs/nightly.yaml`` (source: sample) in a fresh
FORECAST_HOME, in one process as a user runs it. The per-night seconds come from the
flow (process start and imports excluded). A retraining night runs the experiment
(training, backtest, guard) and the production refit; the others reuse ``@production``.
Target: a night without retraining ≤ 5 s per ticker on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--tickers", nargs="+", default=["AAPL", "MSFT", "KO"])
    ap.add_argument("--retrain-every", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()

    from pricecast.tasks.calendar import session_on_or_before, sessions_between

    end = session_on_or_before("2020-12-11")
    window = sessions_between("2019-01-01", end)
    start = window[-args.sessions]
    home = Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    config = ROOT / "configs" / "nightly.yaml"
    text = config.read_text().replace("retrain_every: 5", f"retrain_every: {args.retrain_every}")
    local = home / "nightly.yaml"
    local.write_text(text)
    env = {**os.environ, "FORECAST_HOME": str(home)}
    for key in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "FORECAST_DB_URL"):
        env.pop(key, None)
    out = home / "out"
    cmd = [
        str(Path(sys.executable).with_name("forecast")),
        "replay",
        "--config",
        str(local),
        "--start",
        f"{start:%Y-%m-%d}",
        "--end",
        f"{end:%Y-%m-%d}",
        "--source",
        "sample",
        "--epochs",
        str(args.epochs),
        "--tickers",
        *args.tickers,
        "--output",
        str(out),
    ]
    print(
        f"replay {args.sessions} sessions {start:%Y-%m-%d}..{end:%Y-%m-%d} × "
        f"{len(args.tickers)} tickers, retrain_every {args.retrain_every}, "
        f"{args.epochs} epochs, {os.cpu_count()} CPU(s)"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"replay failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    retrained = {n["as_of"] for n in summary["nights"] if n["retrained"]}
    seconds = summary["night_seconds"]
    train = [s for d, s in seconds.items() if d in retrained]
    reuse = [s for d, s in seconds.items() if d not in retrained]
    n = len(args.tickers)
    print(
        f"   process wall             {wall:8.1f} s (imports, Prefect API, {len(seconds)} nights)"
    )
    for label, values in (("retraining", train), ("without retraining", reuse)):
        if not values:
            continue
        med = statistics.median(values)
        print(
            f"   night {label:<19} {len(values):3d} nights: median {med:6.2f} s "
            f"({med / n:5.2f} s/ticker), max {max(values):6.2f} s"
        )
    ok = reuse and statistics.median(reuse) / n <= 5.0
    print(f"   target ≤ 5 s/ticker without retraining: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
