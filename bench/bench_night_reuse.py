"""A night that reuses ``@production`` at watchlist scale: seconds per ticker.

    .venv/bin/python bench/bench_night_reuse.py [--tickers 100] [--repeat 2] [--against DIR]
        [--workers 4] [--keep]

``bench_watchlist.py`` case (c) has a ``@production`` model only where a recurrent model
beat persistence at the retraining night, which at a few epochs is nowhere, so its
night without retraining forecasts with the baselines only. This bench builds the state
that a retraining night leaves for every ticker and times the nights after it:

- the watchlist of ``bench_watchlist.py`` (7 sample + seeded synthetic CSVs) under a
  temporary FORECAST_HOME, on ``configs/nightly.yaml`` cut to gru;
- per ticker a gru (fitted once, 1 epoch, then logged from its own production run as a
  refit is) registered as ``@champion`` and ``@production``, and a retraining night two
  sessions before the last in the ledger;
- ``forecast nightly --as-of`` on the session before the last (a night without
  retraining: it opens the live runs and leaves forecasts that mature next).

That home is kept as it is; each timed run closes the last session (2020-12-11) on a
fresh copy of it, with this tree's code and, with ``--against DIR`` (a checkout of
another commit), alternated with that tree's code. Night seconds come from the nightly
summary (process start and imports excluded); the process wall is printed beside.
Target on a 2-core machine: 100 tickers without retraining ≤ 2 min, fixed costs included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from bench_watchlist import END, config, write_watchlist

ROOT = Path(__file__).resolve().parents[1]


def nightly(tree: Path, home: Path, as_of: str, out: Path) -> tuple[float, dict]:
    """``forecast nightly --as-of`` with ``tree``'s code; process wall and summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.pop("FORECAST_DB_URL", None)
    env.update(FORECAST_HOME=str(home), PREFECT_LOGGING_LEVEL="WARNING", PYTHONPATH=str(tree))
    # The console script's command, with the tree's own code (older trees name another
    # entry point).
    cmd = [sys.executable, "-m", "pricecast.flows.cli", "nightly", "--config",
           str(home / "watchlist.yaml"), "--as-of", as_of, "--output", str(out)]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=home)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"forecast nightly failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, json.loads((out / "summary.json").read_text())


def build(home: Path, tickers: list[str], sessions: list[pd.Timestamp]) -> None:
    """Register a ``@production`` gru per ticker and close the night before the last."""
    from pricecast.configs.loader import load_config
    from pricecast.models.production import PROCEDURE, refit_on_all
    from pricecast.stores.ledger import Ledger, resolve_url
    from pricecast.stores.price_files import read_yahoo_csv
    from pricecast.stores.tracking import live, registry, store

    cfg = load_config(home / "watchlist.yaml")
    retrained = sessions[0]
    live_store = store.open_experiment(cfg.experiment + cfg.live.experiment_suffix, home)
    store.use_store(store.open_experiment(cfg.experiment, home))
    ledger = Ledger(resolve_url(home))
    variant, fitted = cfg.variants[0], None
    for ticker in tickers:
        frame = read_yahoo_csv(home / "prices" / f"{ticker}.csv", ticker)
        frame = frame.loc[pd.Timestamp(cfg.data.start or "2017-01-01") : retrained]
        if fitted is None:
            fitted = refit_on_all(
                variant, cfg.training, cfg.features, frame, cfg.data.target, ticker,
                val_fraction=cfg.split.val_fraction, calendar=cfg.live.calendar,
                intervals=cfg.intervals,
            )  # fmt: skip
        run_id = live.start_production_run(live_store, ticker, f"{retrained:%Y-%m-%d}", "gru")
        example = frame.tail(fitted.min_rows + 5).reset_index(names="date")
        uri = registry.log_forecaster(live_store, run_id, fitted, example)
        tags = {"variant": variant.name, "as_of": f"{retrained:%Y-%m-%d}", "procedure": PROCEDURE}
        version = registry.register(live_store, ticker, uri, run_id, tags)
        registry.set_alias(live_store, ticker, registry.PRODUCTION, version)
        registry.set_champion(live_store, ticker, version)
        live.end_run(live_store, run_id)
        empty = pd.DataFrame(columns=["as_of", "ticker", "model", "h", "target_date", "value"])
        ledger.record_night(empty, retrained.date(), ticker, True, "bench: registered", version)
    ledger.dispose()
    wall, summary = nightly(ROOT, home, f"{sessions[1]:%Y-%m-%d}", home / "out-build")
    if summary["failed"] or any(r["retrained"] for r in summary["nights"]):
        sys.exit(f"the build night did not reuse @production: {summary['failed']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickers", type=int, default=100, help="watchlist size (7 sample + rest)")
    ap.add_argument("--repeat", type=int, default=2, help="timed nights per tree")
    ap.add_argument("--against", type=Path, help="another source tree, alternated with this")
    ap.add_argument("--workers", type=int, default=4, help="runner.max_workers")
    ap.add_argument("--seed", type=int, default=2026, help="synthetic series' seed")
    ap.add_argument("--keep", action="store_true", help="keep the temporary homes")
    args = ap.parse_args()

    from pricecast.tasks.calendar import session_on_or_before, sessions_between

    base = Path(tempfile.mkdtemp(prefix="bench-night-reuse-"))
    home, pristine = base / "home", base / "pristine"
    tickers = write_watchlist(home / "prices", args.tickers, args.seed)
    opts = argparse.Namespace(
        variants=["gru"], epochs=1, origins=20, workers=args.workers, start="2017-01-01"
    )
    (home / "watchlist.yaml").write_text(
        yaml.safe_dump(config(tickers, opts, "per_ticker"), sort_keys=False)
    )
    sessions = list(sessions_between("2020-12-01", session_on_or_before(END)))[-3:]
    t0 = time.perf_counter()
    build(home, tickers, sessions)
    print(
        f"{len(tickers)} tickers with @production gru, built in {time.perf_counter() - t0:.0f} s "
        f"({os.cpu_count()} CPU(s), home {base}); closing {sessions[-1]:%Y-%m-%d}:"
    )
    shutil.copytree(home, pristine, symlinks=True)
    trees = [("this tree", ROOT)] + ([("against", args.against.resolve())] if args.against else [])
    for i in range(args.repeat):
        for label, tree in trees:
            shutil.rmtree(home)
            shutil.copytree(pristine, home, symlinks=True)
            wall, summary = nightly(tree, home, f"{sessions[-1]:%Y-%m-%d}", home / "out")
            night = next(iter(summary["night_seconds"].values()))
            n = len(summary["nights"])
            models = sum(1 for r in summary["nights"] if r["model"])
            print(
                f"   {label:<10} run {i + 1}: night {night:6.1f} s ({night / n:4.2f} s/ticker, "
                f"{models}/{n} with @production, failed {len(summary['failed'])}), "
                f"process wall {wall:6.1f} s ({wall / n:4.2f} s/ticker), "
                f"load {os.getloadavg()[0]:.1f}"
            )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
