"""Time ``forecast run`` on a config end to end and per stage; print the figures.

    .venv/bin/python bench/bench_pipeline.py [--config configs/seed_fb.yaml] [--epochs N]
    .venv/bin/python bench/bench_pipeline.py --compare-transforms   # level drift: RMSE by target

Three measurements (the model work counted is training, evaluation and backtests):
1. the pure stages in-process (load, validate+window, train per variant, evaluate), no
   Prefect and no MLflow;
2. ``forecast run`` as a user runs it (a fresh process: imports, the embedded Prefect API, a
   new MLflow sqlite store), with the default concurrency;
3. the same again on that store (as a nightly run finds it), with tasks one at a time
   (``--workers 1``) so that flow time − Σ(model work) is the orchestration + tracking
   overhead.

``--overhead N`` measures only that overhead, on a light copy of the config (1 epoch, 20
backtest origins) so that model work is small and its noise does not swamp the figure:
N warm runs: the overhead's median and spread, and the whole command's wall and CPU
time (user + sys, far steadier than wall on a shared machine). ``--against DIR`` runs
the same runs, alternated, with another checkout's ``forecast`` (``DIR`` holds its
sources, ``--against-bin`` its executable), so a before/after comparison shares the
machine's load::

    .venv/bin/python bench/bench_pipeline.py --overhead 5 \\
        --against /tmp/before --against-bin /tmp/beforevenv/bin/forecast
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pure_stages(config_ref: str, epochs: int | None, overrides: dict | None = None) -> dict:
    from pricecast.configs.loader import load_config
    from pricecast.models.training import seed_process
    from pricecast.models.variant import train_variant
    from pricecast.stores import prices
    from pricecast.tasks.dataset import build_dataset
    from pricecast.tasks.evaluation import evaluate_split, forecast_split
    from pricecast.tasks.validate import validate_prices

    overrides = {**(overrides or {}), **({"training.epochs": epochs} if epochs else {})}
    cfg = load_config(config_ref, overrides or None)
    out: dict = {"train": {}, "evaluate": {}, "rmse": {}, "epochs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for ticker in cfg.data.tickers:
            t0 = time.perf_counter()
            loaded = prices.load_prices(
                ticker, cfg.data.start, cfg.data.end, cfg.data.source, cache_dir=Path(tmp)
            )
            out["load"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            frame = validate_prices(loaded.frame, ticker, cfg.data.null_rows).frame
            data = build_dataset(frame, ticker, cfg.features, cfg.split, cfg.data.target)
            out["window"] = time.perf_counter() - t0
            seed_process(cfg.training.seed)
            for v in cfg.variants:
                trained = train_variant(data, v, cfg.training)
                out["train"][v.name] = trained.fit.seconds
                out["epochs"][v.name] = trained.fit.epochs_run
                t0 = time.perf_counter()
                pred = forecast_split(trained.forecaster, trained.state, data)
                scores = evaluate_split(data, {v.name: pred}).scores
                out["evaluate"][v.name] = time.perf_counter() - t0
                out["rmse"][v.name] = scores[v.name]["rmse"]
            out["rmse"]["persistence"] = scores["persistence"]["rmse"]
            break  # one ticker is enough for stage timings
    return out


def cli_run(
    config_ref: str,
    epochs: int | None,
    workers: int | None,
    home: Path,
    forecast_bin: Path | None = None,
    cwd: Path = ROOT,
    tree: Path | None = None,
    extra: Sequence[str] = (),
) -> dict:
    """One ``forecast run``: its wall, CPU time, flow time, model work and ``summary.json``.

    ``forecast_bin`` runs another install's script; ``tree`` runs another checkout's
    sources with this interpreter, from that checkout's folder (``python -m`` imports the
    working folder's sources first). ``extra`` are further options of ``forecast run``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FORECAST_HOME": str(home)}
        env.pop("MLFLOW_TRACKING_URI", None)
        env.pop("PREFECT_API_URL", None)
        if forecast_bin:  # another checkout imports its own sources, not this one's
            env.pop("PYTHONPATH", None)
        out = Path(tmp) / "out"
        exe = [str(forecast_bin or Path(sys.executable).with_name("forecast"))]
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
            exe, cwd = [sys.executable, "-m", "pricecast.flows.cli"], tree
        cmd = [*exe, "run", "--config", config_ref, *extra]
        cmd += ["--output", str(out)]
        if epochs:
            cmd += ["--epochs", str(epochs)]
        if workers:
            cmd += ["--workers", str(workers)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds (user + sys) of the command and the children it waited for (the
        # embedded Prefect API): far less sensitive to other load on the machine than wall.
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            sys.exit(f"forecast run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        summary = json.loads((out / "summary.json").read_text())
    work = logging = report = backtest = 0.0
    for info in summary["tickers"].values():
        t = info["timings"]
        evaluate = t["evaluate"]  # one figure per ticker (per variant in older summaries)
        work += sum(t["train"].values())
        work += sum(evaluate.values()) if isinstance(evaluate, dict) else evaluate
        bt = info.get("backtest") or {}
        backtest += sum(bt.get("model_seconds", {}).values())
        work += bt.get("refit_seconds", 0.0)  # the registered version's training
        logging += sum(t["log"].values())
        report += t["report"]
    return {
        "wall": wall,
        "cpu": cpu,
        "flow": summary["flow_seconds"],
        "work": work + backtest,
        "backtest": backtest,
        "log": logging,
        "report": report,
        "summary": summary,
    }


def light_config(config_ref: str, folder: Path) -> str:
    """A copy of the config with 1 epoch and 20 backtest origins: little model work."""
    import yaml

    path = Path(config_ref)
    cfg = yaml.safe_load((path if path.exists() else ROOT / path).read_text())
    cfg["training"]["epochs"] = 1
    cfg.setdefault("backtest", {})["n_origins"] = 20
    out = folder / "light.yaml"
    out.write_text(yaml.safe_dump(cfg))
    return str(out)


def overhead_runs(args: argparse.Namespace) -> None:
    """Median flow overhead over warm runs, alternated with another checkout if asked."""
    import statistics

    folder = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    config = light_config(args.config, folder)
    sides = {"this checkout": (None, ROOT)}
    if args.against:
        sides["--against"] = (Path(args.against_bin), Path(args.against))
    figures: dict[str, list[dict]] = {name: [] for name in sides}
    for name, (exe, cwd) in sides.items():  # warm-up: creates each side's store
        cli_run(config, None, 1, folder / name.replace(" ", "-"), exe, cwd)
    for _ in range(args.overhead):
        for name, (exe, cwd) in sides.items():
            run = cli_run(config, None, 1, folder / name.replace(" ", "-"), exe, cwd)
            figures[name].append(run)
    print(f"overhead: {args.config} at 1 epoch, 20 origins, --workers 1, {args.overhead} warm runs")
    print("medians; overhead = flow - model work; process = the whole command (wall, CPU)")
    head = ("flow", "model work", "overhead", "min..max", "process wall", "process CPU")
    print(
        f"{'':<15} {head[0]:>8} {head[1]:>11} {head[2]:>9} {head[3]:>13} "
        f"{head[4]:>13} {head[5]:>12}"
    )
    for name, rows in figures.items():
        over = [r["flow"] - r["work"] for r in rows]

        def med(key: str, rows: list[dict] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        print(
            f"{name:<15} {med('flow'):7.2f}s {med('work'):10.2f}s "
            f"{statistics.median(over):8.2f}s {min(over):5.2f}..{max(over):5.2f}s "
            f"{med('wall'):12.2f}s {med('cpu'):11.2f}s"
        )
        cpu = [r["cpu"] for r in rows]
        print(f"{'':<15} process CPU min..max {min(cpu):.2f}..{max(cpu):.2f}s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/seed_fb.yaml")
    ap.add_argument("--epochs", type=int)
    ap.add_argument(
        "--compare-transforms",
        action="store_true",
        help="only the level-drift comparison: test RMSE per variant, log_return vs level",
    )
    ap.add_argument("--overhead", type=int, metavar="N", help="only the overhead, N warm runs")
    ap.add_argument("--against", metavar="DIR", help="another checkout to alternate with")
    ap.add_argument("--against-bin", metavar="EXE", help="that checkout's forecast executable")
    args = ap.parse_args()

    if args.overhead:
        overhead_runs(args)
        return
    if args.compare_transforms:
        print(f"config {args.config}: test-span RMSE by features.target_transform")
        for transform in ("log_return", "level"):
            rmse = pure_stages(args.config, args.epochs, {"features.target_transform": transform})[
                "rmse"
            ]
            print(f"   {transform:<11} " + "  ".join(f"{k} {v:.3f}" for k, v in rmse.items()))
        return

    print(f"config {args.config}, epochs {args.epochs or 'from config'}, {os.cpu_count()} CPU(s)")
    stages = pure_stages(args.config, args.epochs)
    print("\n1. pure stages (one ticker, no Prefect, no MLflow)")
    print(f"   load            {stages['load']:8.3f} s")
    print(f"   validate+window {stages['window']:8.3f} s")
    for name, sec in stages["train"].items():
        print(
            f"   train {name:<9} {sec:8.2f} s  ({stages['epochs'][name]} epochs)  "
            f"evaluate {stages['evaluate'][name]:.3f} s  RMSE {stages['rmse'][name]:.3f}"
        )
    print(f"   persistence RMSE {stages['rmse']['persistence']:.3f}")

    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    par = cli_run(args.config, args.epochs, None, home)
    print("\n2. forecast run, default concurrency, fresh FORECAST_HOME (creates the MLflow store)")
    print(f"   process wall            {par['wall']:8.2f} s")
    print(f"   flow run                {par['flow']:8.2f} s")
    for ticker, info in par["summary"]["tickers"].items():
        for name, m in info["models"].items():
            print(f"   {ticker} {name:<12} RMSE {m['rmse']:.3f}  MAPE {m['mape']:.3f} %")

    seq = cli_run(args.config, args.epochs, 1, home)
    overhead = seq["flow"] - seq["work"]
    print("\n3. forecast run again (nightly: existing store), tasks one at a time (--workers 1)")
    print(f"   process wall            {seq['wall']:8.2f} s")
    print(f"   flow run                {seq['flow']:8.2f} s")
    print(f"   Σ model work            {seq['work']:8.2f} s  (backtests {seq['backtest']:.2f} s)")
    print(
        f"   overhead in the flow    {overhead:8.2f} s  ({100 * overhead / seq['work']:.1f} % of "
        "the model work; fetch, MLflow runs, model logging, plots, artifacts, champion)"
    )
    print(f"     of which: plots + MLflow logging per variant {seq['log']:6.2f} s")
    print(f"               ticker report (table, plot, files) {seq['report']:6.2f} s")
    rest = overhead - seq["log"] - seq["report"]
    print(f"               Prefect tasks, fetch, runs setup   {rest:6.2f} s")
    startup = seq["wall"] - seq["flow"]
    print(f"   process start + API     {startup:8.2f} s  (imports, embedded Prefect API, teardown)")


if __name__ == "__main__":
    main()
