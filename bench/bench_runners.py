"""Threads vs Dask: the same 6 tickers × 3 variants run with each task runner.

    .venv/bin/python bench/bench_runners.py [--epochs 10] [--workers 2]

Each run is a fresh ``forecast run`` process on the bundled sample (embedded Prefect
API, sqlite MLflow store in a temporary FORECAST_HOME). Prints wall and flow seconds per
runner, their ratio, and whether both runners produced the same metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TICKERS = ["AAPL", "MSFT", "KO", "JPM", "XOM", "GOOG"]


def run(kind: str, config: Path, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
        env["FORECAST_HOME"] = str(Path(tmp) / "home")
        out = Path(tmp) / "out"
        cmd = [str(Path(sys.executable).with_name("forecast")), "run", "--config", str(config)]
        cmd += ["--output", str(out), "--runner", kind, "--workers", str(workers)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"{kind} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        summary = json.loads((out / "summary.json").read_text())
    metrics = {t: i["models"] for t, i in summary["tickers"].items()}
    return {"wall": wall, "flow": summary["flow_seconds"], "metrics": metrics}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    config = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    config["data"].update({"tickers": TICKERS, "source": "sample", "start": "2016-01-01"})
    config["training"]["epochs"] = args.epochs
    config.pop("backtest", None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runners.yaml"
        path.write_text(yaml.safe_dump(config))
        print(f"{len(TICKERS)} tickers × 3 variants, {args.epochs} epochs, {os.cpu_count()} CPU(s)")
        results = {kind: run(kind, path, args.workers) for kind in ("threads", "dask")}
    for kind, r in results.items():
        print(
            f"  {kind:<8} workers {args.workers}: wall {r['wall']:7.1f} s, flow {r['flow']:7.1f} s"
        )
    ratio = results["dask"]["flow"] / results["threads"]["flow"]
    print(f"  dask / threads flow time: {ratio:.2f}")
    same = results["dask"]["metrics"] == results["threads"]["metrics"]
    print(f"  identical metrics: {same}")


if __name__ == "__main__":
    main()
