"""Training throughput (samples/s) against the plain Keras reference, measured in one run.

    .venv/bin/python bench/bench_training.py [--epochs 30] [--ref-epochs 5] [--rounds 2]

Each figure is samples seen per second of ``fit`` (compilation included), as the flow logs
it, on the default config's first ticker (bundled sample). One run measures, alternating
before/after so that both share the machine's load:

1. the plain Keras reference (``bench/seed_fb_tutorial.py``: 4×LSTM(45), batch 32);
2. each default variant trained alone (early stopping, up to ``--epochs``) with the old
   settings (batch 32, no XLA, one batch per call) and with the candidate ``--new``
   training settings (JSON, laid over ``configs/default.yaml``'s);
3. ``--sequence`` fits of each variant in a row, as a run's tickers and refits come: the
   old settings (``--old``) and the new ones, each without and with compiled twins
   (``models/trainers.py``: a later fit of the same shape reuses the first one's traced
   steps);
4. the concurrency sweep: 1, 2, 3 and 9 models training at once in threads of one process
   (a ticker's variants; 9 for 3 tickers' at once), summed samples/s, for each thread setting
   (TensorFlow's intra-op/inter-op pools; ``0`` = TensorFlow's choice).

Every measurement runs in a fresh process (thread pools are fixed when TensorFlow's runtime
starts). Ratios are against the reference measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OLD = {"batch_size": 32, "jit_compile": False, "steps_per_execution": 1, "lr_scaling": "none"}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Train ``spec["models"]`` variants at once in threads; samples/s each and summed."""
    import time

    from pricecast.models.training import configure_threads, seed_process

    configure_threads(spec["intra"], spec["inter"])
    from pricecast.configs.loader import load_config
    from pricecast.models.variant import train_variant
    from pricecast.stores import prices
    from pricecast.tasks.dataset import build_dataset
    from pricecast.tasks.validate import validate_prices

    overrides = {f"training.{k}": v for k, v in spec["training"].items()}
    cfg = load_config(ROOT / "configs" / "default.yaml", overrides)
    ticker = cfg.data.tickers[0]
    with tempfile.TemporaryDirectory() as tmp:
        loaded = prices.load_prices(
            ticker, cfg.data.start, cfg.data.end, "sample", cache_dir=Path(tmp)
        )
    frame = validate_prices(loaded.frame, ticker, cfg.data.null_rows).frame
    data = build_dataset(frame, ticker, cfg.features, cfg.split, cfg.data.target)
    seed_process(cfg.training.seed)
    if "sequence" in spec:
        return sequence(spec, data, cfg)
    names = spec.get("variants") or [v.name for v in cfg.variants]
    chosen = [next(v for v in cfg.variants if v.name == n) for n in names]
    jobs = [chosen[i % len(chosen)] for i in range(spec["models"])]
    rates: list[tuple[str, float, int]] = [("", 0.0, 0)] * len(jobs)
    samples = [0] * len(jobs)

    def one(i: int) -> None:
        result = train_variant(data, jobs[i], cfg.training).fit
        samples[i] = result.samples * result.epochs_run
        rates[i] = (jobs[i].name, samples[i] / result.seconds, result.epochs_run)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"models": rates, "total": sum(samples) / wall}


def sequence(spec: dict[str, Any], data: Any, cfg: Any) -> dict[str, Any]:
    """Each variant trained ``spec["sequence"]`` times in a row, as a run's tickers are.

    With ``spec["twins"]`` the later fits train in the first one's compiled twin
    (``models/trainers.py``); without, every model traces its own steps.
    """
    import time

    from pricecast.models import trainers
    from pricecast.models.variant import train_variant

    trainers.use_twins(spec["twins"])
    out: dict[str, Any] = {}
    for v in cfg.variants:
        seconds, samples = [], 0
        for _ in range(spec["sequence"]):
            t0 = time.perf_counter()
            result = train_variant(data, v, cfg.training).fit
            seconds.append(time.perf_counter() - t0)
            samples += result.samples * result.epochs_run
        out[v.name] = {"rate": samples / sum(seconds), "first": seconds[0],
                       "later": statistics.median(seconds[1:])}  # fmt: skip
    return out


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`worker` in a fresh Python process."""
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        sys.exit(f"worker failed: {spec}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reference(epochs: int) -> float:
    """Samples/s of the plain Keras seed tutorial model (its own process)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "seed_fb_tutorial.py"), str(epochs)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        sys.exit(f"reference failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["n_train_windows"] * epochs / out["train_seconds"]


def in_a_row(args: argparse.Namespace, old: dict, new: dict, ref: float) -> None:
    """Fits of one shape in a row (a run's tickers): old and new settings, twins or not."""
    cases = {"old": (old, False), "old, twins": (old, True), "new, no twins": (new, False),
             "new, twins": (new, True)}  # fmt: skip
    got: dict[str, list[dict]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for label, (training, twins) in cases.items():
            spec = {"intra": 0, "inter": 0, "training": training, "twins": twins,
                    "sequence": args.sequence}  # fmt: skip
            got[label].append(spawn(spec))
    print(f"\n{args.sequence} fits in a row per variant (samples/s over all, compilation "
          "included; seconds of the first fit / median of the later ones)")  # fmt: skip
    print("variant  " + "  ".join(f"{k:>26}" for k in cases) + "  twins/old  twins new/old")
    for v in ("rnn", "lstm", "gru"):
        cells, rates = [], {}
        for label in cases:
            rate = statistics.median(r[v]["rate"] for r in got[label])
            first = statistics.median(r[v]["first"] for r in got[label])
            later = statistics.median(r[v]["later"] for r in got[label])
            rates[label] = rate
            cells.append(f"{rate:6.0f} ({first:5.1f} s/{later:5.1f} s)")
        ratio = rates["new, twins"] / rates["old"]
        both = rates["new, twins"] / rates["old, twins"]
        print(f"{v:7}  " + "  ".join(f"{c:>26}" for c in cells) + f"  {ratio:9.2f}  {both:13.2f}")
    print(f"(reference: {ref:.0f} samples/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="max epochs of each training")
    parser.add_argument("--ref-epochs", type=int, default=5, help="epochs of the reference")
    parser.add_argument("--rounds", type=int, default=2, help="alternated before/after rounds")
    parser.add_argument(
        "--threads",
        nargs="*",
        default=["0,0", "1,1", "2,1", "1,2"],
        help="intra,inter settings to sweep (0: TensorFlow's choice)",
    )
    parser.add_argument("--concurrency", nargs="*", type=int, default=[1, 2, 3, 9])
    parser.add_argument("--sweep-epochs", type=int, default=5, help="epochs in the sweep")
    parser.add_argument(
        "--new",
        default='{"batch_size": 128, "lr_scaling": "sqrt", "steps_per_execution": 16}',
        help="training settings measured against the old ones (JSON)",
    )
    parser.add_argument(
        "--old",
        default=json.dumps(OLD),
        help="the settings measured against (JSON; default: those before batch 128)",
    )
    parser.add_argument(
        "--sequence", type=int, default=4, help="fits in a row per variant (0: skip)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    candidate = json.loads(args.new)
    new = {**candidate, "epochs": args.epochs}
    old = {**json.loads(args.old), "epochs": args.epochs}
    refs: list[float] = []
    single: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    for _ in range(args.rounds):
        refs.append(reference(args.ref_epochs))
        for label, training in (("old", old), ("new", new)):
            for v in ("rnn", "lstm", "gru"):
                got = spawn({"intra": 0, "inter": 0, "models": 1, "training": training,
                             "variants": [v]})  # fmt: skip
                single[label].setdefault(v, []).append(got["models"][0][1])
    ref = statistics.median(refs)
    print(f"plain Keras reference (4xLSTM(45), batch 32): {ref:.0f} samples/s "
          f"(median of {len(refs)})")  # fmt: skip
    print("\nvariant  old samples/s  new samples/s  new/old  old/ref  new/ref")
    for v in ("rnn", "lstm", "gru"):
        o, n = statistics.median(single["old"][v]), statistics.median(single["new"][v])
        print(f"{v:7}  {o:13.0f}  {n:13.0f}  {n / o:7.2f}  {o / ref:7.2f}  {n / ref:7.2f}")
    if args.sequence > 1:
        in_a_row(args, old, new, ref)
    print("\nconcurrency sweep (summed samples/s, rnn/lstm/gru in turn; ratio to reference)")
    print("settings  intra,inter  " + "  ".join(f"{c:>12}" for c in args.concurrency))
    sweep = {
        "old": {**old, "epochs": args.sweep_epochs},
        "new": {**candidate, "epochs": args.sweep_epochs},
    }
    for threads in args.threads:
        for label, training in sweep.items():
            intra, inter = (int(x) for x in threads.split(","))
            cells = []
            for c in args.concurrency:
                got = spawn({"intra": intra, "inter": inter, "models": c, "training": training})
                cells.append(f"{got['total']:6.0f} ({got['total'] / ref:.2f})")
            print(f"{label:8}  {threads:11}  " + "  ".join(f"{x:>12}" for x in cells), flush=True)


if __name__ == "__main__":
    main()
