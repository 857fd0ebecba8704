"""The default job's training throughput and accuracy, checkouts and settings alternated.

    .venv/bin/python bench/bench_default_job.py [--rounds 2] [--xla] [--against DIR]
        [--tickers AAPL MSFT KO] [--ref-epochs 3]

Runs ``forecast run --config configs/default.yaml`` as a user does (a fresh process and a
fresh ``FORECAST_HOME`` each time, the command's own temporary Prefect API) for each side,
alternating the sides round by round so that they share the machine's load:

- ``this``: this checkout as it is;
- ``this, XLA`` (``--xla``): this checkout with ``training.jit_compile: true``;
- ``against`` (``--against DIR``): another checkout (``git archive`` of an older commit),
  run from its own folder so that ``python -m`` imports its sources, not these.

For each run it prints the command's wall, the flow's, and each variant's first training
as ``summary.json`` records it (``timings.samples_per_second``: samples × epochs over the
fit's seconds, compilation included): the median and mean over the ticker × variant
cells, and the pooled rate (all samples × epochs over all the fits' seconds), with their
ratios against the plain Keras seed script's samples/s (``bench/seed_fb_tutorial.py``,
``--ref-epochs`` epochs) measured in the same run. Then the backtest MASE at h=1 of every
cell, side against side, and the largest relative difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("wall", "flow", "median", "mean", "pooled")
RATES = ("median", "mean", "pooled")
sys.path.insert(0, str(ROOT / "bench"))

from bench_pipeline import cli_run  # noqa: E402
from bench_training import reference  # noqa: E402


def figures(run: dict[str, Any]) -> dict[str, Any]:
    """Throughput figures and backtest MASE cells of one run (``bench_pipeline.cli_run``)."""
    rates, samples, seconds, mase = [], 0.0, 0.0, {}
    for ticker, info in run["summary"]["tickers"].items():
        timings = info["timings"]
        for name, rate in timings["samples_per_second"].items():
            rates.append(rate)
            samples += rate * timings["train"][name]
            seconds += timings["train"][name]
        for name, scores in info["backtest"]["models"].items():
            mase[(ticker, name)] = scores["mase"][0]
    return {
        "wall": run["wall"],
        "flow": run["summary"]["flow_seconds"],
        "median": statistics.median(rates),
        "mean": statistics.mean(rates),
        "pooled": samples / seconds,
        "mase": mase,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds")
    parser.add_argument("--xla", action="store_true", help="also run with XLA")
    parser.add_argument("--against", type=Path, help="another checkout to alternate with")
    parser.add_argument("--tickers", nargs="+", default=["AAPL", "MSFT", "KO"])
    parser.add_argument("--ref-epochs", type=int, default=3, help="epochs of the reference")
    args = parser.parse_args()

    base = ROOT / "configs" / "default.yaml"
    sides: dict[str, tuple[Path, Path]] = {"this": (ROOT, base)}
    with tempfile.TemporaryDirectory(prefix="bench-default-config-") as tmp:
        if args.xla:
            raw = yaml.safe_load(base.read_text())
            raw["training"]["jit_compile"] = True
            xla = Path(tmp) / "default-xla.yaml"
            xla.write_text(yaml.safe_dump(raw))
            sides["this, XLA"] = (ROOT, xla)
        if args.against:
            tree = args.against.resolve()
            sides["against"] = (tree, tree / "configs" / "default.yaml")
        print(f"default job on {', '.join(args.tickers)}, {os.cpu_count()} CPU(s), "
              f"{args.rounds} round(s), sides: {', '.join(sides)}")  # fmt: skip
        ref = reference(args.ref_epochs)
        print(f"plain Keras seed script: {ref:.0f} samples/s ({args.ref_epochs} epochs)")
        got: dict[str, list[dict[str, Any]]] = {k: [] for k in sides}
        for i in range(args.rounds):
            for label, (tree, config) in sides.items():
                with tempfile.TemporaryDirectory(prefix="bench-default-home-") as home:
                    run = cli_run(
                        str(config), None, None, Path(home), tree=tree,
                        extra=["--tickers", *args.tickers],
                    )  # fmt: skip
                f = figures(run)
                got[label].append(f)
                print(
                    f"round {i + 1} {label:<13} wall {f['wall']:6.1f} s  flow {f['flow']:6.1f} s"
                    f"  samples/s median {f['median']:5.0f}  mean {f['mean']:5.0f}"
                    f"  pooled {f['pooled']:5.0f}",
                    flush=True,
                )
    print("\nmedians over the rounds (ratio to the plain Keras script's samples/s)")
    medians = {}
    for label, runs in got.items():
        m = {k: statistics.median(r[k] for r in runs) for k in KEYS}
        medians[label] = m
        print(
            f"  {label:<13} wall {m['wall']:6.1f} s  flow {m['flow']:6.1f} s  samples/s "
            + "  ".join(f"{k} {m[k]:5.0f} ({m[k] / ref:4.1f}x)" for k in RATES)
        )
    first = next(iter(sides))
    for label in list(sides)[1:]:
        a, b = medians[first], medians[label]
        print(
            f"  {first} / {label}: wall {b['wall'] / a['wall']:.2f}x faster, samples/s "
            + ", ".join(f"{k} {a[k] / b[k]:.2f}x" for k in RATES)
        )
        cells = got[first][0]["mase"]
        other = got[label][0]["mase"]
        shared = sorted(set(cells) & set(other))
        diffs = {c: cells[c] / other[c] - 1 for c in shared}
        worst = max(diffs, key=lambda c: abs(diffs[c]))
        print(f"  backtest MASE h=1, {first} against {label}, {len(shared)} cells: largest "
              f"difference {100 * diffs[worst]:+.3f} % ({worst[0]} {worst[1]})")  # fmt: skip
        for ticker in dict.fromkeys(t for t, _ in shared):
            row = [f"{n} {cells[(t, n)]:.4f}/{other[(t, n)]:.4f}" for t, n in shared if t == ticker]
            print(f"    {ticker}: " + "  ".join(row))
    for label, runs in got.items():
        steady = all(r["mase"] == runs[0]["mase"] for r in runs)
        print(f"  {label}: backtest MASE identical in every round: {steady}")


if __name__ == "__main__":
    main()
