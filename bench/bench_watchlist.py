"""A watchlist night at scale: per-ticker models, the global model, and a night that reuses.

    .venv/bin/python bench/bench_watchlist.py [--tickers 100] [--epochs 10] [--origins 60]
        [--variants gru] [--start 2017-01-01] [--skip-global] [--dask 1 2]

The watchlist is the 7 bundled sample tickers plus synthetic ones (seeded GBM with
regime changes in drift and volatility, ``tasks/synthetic.py``) up to ``--tickers``, all
written as Yahoo-export CSVs under a temporary FORECAST_HOME (``source: csv``). Each case
is a ``forecast`` process as a user runs it, on ``configs/nightly.yaml`` cut to the
options given:

(a) ``forecast replay`` of two sessions with per-ticker models: the first night retrains
    (experiment: training, test table, backtest, guard; then the production refit),
(c) the second night reuses ``@production`` (no retraining),
(b) ``forecast replay`` of the first session with ``training.scope: global`` (one model
    per variant on the pooled windows; no per-ticker registration, so no production refit).

Night seconds come from the nightly summary (process start and imports excluded; the
process wall is printed beside). Per-ticker figures come from the retraining nights'
experiment summaries. ``--dask 1 2`` adds ``forecast run`` (per-ticker models, the same
watchlist) on a local Dask cluster of 1 and 2 workers: the summed per-ticker work over
the flow's wall shows how far the tickers run side by side.
Targets on a 2-core machine: a retraining night ≤ 15 min, a night without ≤ 2 min.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ["AAPL", "MSFT", "KO", "JPM", "XOM", "GOOG", "FB"]
END = "2020-12-11"


def write_watchlist(prices: Path, n: int, seed: int) -> list[str]:
    """The sample tickers and ``n - 7`` synthetic ones as CSV files in ``prices``."""
    from pricecast.tasks.synthetic import synthetic_watchlist

    prices.mkdir(parents=True, exist_ok=True)
    tickers = SAMPLE[: min(n, len(SAMPLE))]
    for t in tickers:
        with resources.as_file(resources.files("pricecast.sample") / f"{t}.csv") as path:
            shutil.copy(path, prices / f"{t}.csv")
    for t, s in synthetic_watchlist(max(0, n - len(SAMPLE)), "2012-01-03", END, seed).items():
        s.frame.to_csv(prices / f"{t}.csv", index=False)
        tickers.append(t)
    return tickers


def config(tickers: list[str], args: argparse.Namespace, scope: str) -> dict:
    """``configs/nightly.yaml`` on the watchlist's CSVs, cut to the bench's options."""
    data = yaml.safe_load((ROOT / "configs" / "nightly.yaml").read_text())
    data["experiment"] = f"watchlist-{scope}"
    data["data"].update(
        tickers=tickers, source="csv", csv_path="prices/{ticker}.csv", start=args.start
    )
    data["variants"] = [v for v in data["variants"] if v["name"] in args.variants]
    data["training"].update(epochs=args.epochs, scope=scope)
    data["backtest"]["n_origins"] = args.origins
    data["runner"] = {"max_workers": args.workers}
    if scope == "global":
        data["champion"] = {**data.get("champion", {}), "register_winner": False}
    return data


def forecast(args: list[str], home: Path, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.pop("FORECAST_DB_URL", None)
    env["FORECAST_HOME"] = str(home)
    env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    cmd = [str(Path(sys.executable).with_name("forecast")), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"forecast {args[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, proc


def new_home(base: Path, name: str, prices: Path, data: dict) -> tuple[Path, Path]:
    home = base / name
    shutil.copytree(prices, home / "prices")
    path = home / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return home, path


def replay(base: Path, name: str, prices: Path, data: dict, sessions: list) -> dict:
    home, path = new_home(base, name, prices, data)
    out = home / "out"
    wall, proc = forecast(
        ["replay", "--config", str(path), "--start", f"{sessions[0]:%Y-%m-%d}",
         "--end", f"{sessions[-1]:%Y-%m-%d}", "--output", str(out)],
        home, home,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    experiments = {}
    for night in sorted({n["as_of"] for n in summary["nights"] if n["retrained"]}):
        file = out / night / "experiment" / "summary.json"
        if file.exists():
            experiments[night] = json.loads(file.read_text())
    failed = {k: v for k, v in summary["failed"].items() if v}
    return {"wall": wall, "summary": summary, "experiments": experiments, "failed": failed}


def backtest_mase(experiment: dict, model: str) -> dict[str, float]:
    """Backtest MASE at h=1 of a model, per ticker that has it."""
    out = {}
    for t, info in experiment["tickers"].items():
        models = (info.get("backtest") or {}).get("models") or {}
        if model in models and models[model]["mase"][0] is not None:
            out[t] = float(models[model]["mase"][0])
    return out


def report_night(label: str, run: dict, retrained: bool, n: int) -> float | None:
    nights = run["summary"]["nights"]
    days = sorted({r["as_of"] for r in nights if bool(r["retrained"]) == retrained})
    seconds = [run["summary"]["night_seconds"][d] for d in days]
    if not seconds:
        print(f"   {label:<34} no such night")
        return None
    s = seconds[0]
    print(f"   {label:<34} {s:8.1f} s  ({s / n:5.2f} s/ticker, {days[0]})")
    return s


def per_ticker_table(per: dict, glob: dict | None, variants: list[str], limit: int) -> None:
    """Backtest MASE per ticker: per-ticker model, global model, persistence."""
    cols = ["persistence", *variants]
    rows = {}
    for label, exp in (("ticker", per), ("global", glob)):
        if exp is None:
            continue
        for m in cols:
            if label == "global" and m == "persistence":
                continue
            for t, v in backtest_mase(exp, m).items():
                rows.setdefault(t, {})[f"{m} {label}" if m != "persistence" else m] = v
    heads = ["persistence"] + [f"{v} {k}" for v in variants for k in ("ticker", "global")]
    heads = [h for h in heads if any(h in r for r in rows.values())]
    print("   backtest MASE h=1 per ticker (first rows; medians below):")
    print("   " + f"{'ticker':<8}" + "".join(f"{h:>16}" for h in heads))
    for i, (t, r) in enumerate(rows.items()):
        if i < limit:
            print("   " + f"{t:<8}" + "".join(f"{r.get(h, float('nan')):16.3f}" for h in heads))
    print(
        "   "
        + f"{'median':<8}"
        + "".join(
            f"{statistics.median([r[h] for r in rows.values() if h in r]):16.3f}" for h in heads
        )
    )
    print(
        "   "
        + f"{'mean':<8}"
        + "".join(
            f"{statistics.fmean([r[h] for r in rows.values() if h in r]):16.3f}" for h in heads
        )
    )


def dask_scaling(base: Path, prices: Path, tickers: list[str], args: argparse.Namespace) -> None:
    """``forecast run`` on Dask with 1 and 2 workers: per-ticker work summed over the wall."""
    for scope in args.dask_scopes:
        print(f"Dask: forecast run, {len(tickers)} tickers, scope {scope}")
        dask_runs(base, prices, tickers, args, scope)


def dask_runs(
    base: Path, prices: Path, tickers: list[str], args: argparse.Namespace, scope: str
) -> None:
    walls = {}
    for workers in args.dask:
        data = config(tickers, args, scope)
        data["runner"] = {"kind": "dask", "max_workers": workers}
        data["champion"] = {**data["champion"], "register_winner": False}
        home, path = new_home(base, f"dask-{scope}-{workers}", prices, data)
        out = home / "out"
        wall, _ = forecast(["run", "--config", str(path), "--output", str(out)], home, home)
        summary = json.loads((out / "summary.json").read_text())
        work = 0.0
        for info in summary["tickers"].values():
            t = info["timings"]
            work += t["prepare"] + sum(t["train"].values()) + t["evaluate"] + t["report"]
            work += sum(t["log"].values()) + ((info.get("backtest") or {}).get("seconds") or 0.0)
        flow = summary["flow_seconds"]
        walls[workers] = flow
        print(
            f"   {workers} worker(s): flow {flow:7.1f} s, per-ticker work summed {work:7.1f} s, "
            f"work/flow {work / flow:4.2f}, process wall {wall:6.1f} s, "
            f"failed {len(summary['failed'])}"
        )
    if len(walls) > 1:
        lo, hi = min(walls), max(walls)
        print(f"   flow time {lo} → {hi} workers: ×{walls[lo] / walls[hi]:.2f} faster")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickers", type=int, default=100, help="watchlist size (7 sample + rest)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--origins", type=int, default=60, help="backtest origins")
    ap.add_argument("--variants", nargs="+", default=["gru"], help="of rnn, lstm, gru")
    ap.add_argument("--start", default="2017-01-01", help="first date loaded")
    ap.add_argument("--workers", type=int, default=4, help="runner.max_workers")
    ap.add_argument("--seed", type=int, default=2026, help="synthetic series' seed")
    ap.add_argument("--skip-global", action="store_true")
    ap.add_argument("--skip-nights", action="store_true")
    ap.add_argument("--dask", type=int, nargs="*", default=[], help="Dask worker counts")
    ap.add_argument("--dask-scopes", nargs="+", default=["per_ticker"], help="with --dask")
    ap.add_argument("--keep", action="store_true", help="keep the temporary homes")
    args = ap.parse_args()

    from pricecast.tasks.calendar import session_on_or_before, sessions_between

    base = Path(tempfile.mkdtemp(prefix="bench-watchlist-"))
    tickers = write_watchlist(base / "prices", args.tickers, args.seed)
    end = session_on_or_before(END)
    sessions = list(sessions_between("2020-12-01", end))[-2:]
    n = len(tickers)
    print(
        f"watchlist {n} tickers ({min(n, 7)} sample + {max(0, n - 7)} synthetic, seed "
        f"{args.seed}), data {args.start}..{END}, variants {' '.join(args.variants)}, "
        f"{args.epochs} epochs, {args.origins} backtest origins, horizon 5, "
        f"{os.cpu_count()} CPU(s), home {base}"
    )
    if not args.skip_nights:
        per = replay(base, "per-ticker", base / "prices", config(tickers, args, "per_ticker"),
                     sessions)  # fmt: skip
        glob = None
        if not args.skip_global:
            glob = replay(base, "global", base / "prices", config(tickers, args, "global"),
                          sessions[:1])  # fmt: skip
        print(f"nightly loop (forecast replay; process wall per-ticker {per['wall']:.1f} s"
              + (f", global {glob['wall']:.1f} s)" if glob else ")"))  # fmt: skip
        report_night("(a) retraining night, per-ticker", per, True, n)
        if glob:
            report_night("(b) retraining night, global", glob, True, n)
        report_night("(c) night without retraining", per, False, n)
        for label, run in (("per-ticker", per), ("global", glob)):
            if run and run["failed"]:
                print(f"   {label}: failed {json.dumps(run['failed'])[:2000]}")
        per_exp = next(iter(per["experiments"].values()), None)
        glob_exp = next(iter(glob["experiments"].values()), None) if glob else None
        if per_exp:
            per_ticker_table(per_exp, glob_exp, args.variants, 12)
            train = [sum(i["timings"]["train"].values()) for i in per_exp["tickers"].values()]
            print(f"   per-ticker training per ticker: median {statistics.median(train):.1f} s")
    if args.dask:
        dask_scaling(base, base / "prices", tickers, args)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
