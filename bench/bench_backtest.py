"""Time the walk-forward backtest and compare a variant with the baselines; print figures.

    .venv/bin/python bench/bench_backtest.py [--quick] [--epochs N] [--refit-epochs N]

Three measurements (real bundled Yahoo samples, CPU unless TensorFlow sees a GPU):
1. FB, 250 origins, h=1, no refit: an LSTM(32) on 40-day windows trained once on the rows
   before the first origin; the backtest itself (scaling, windows, ONE batched predict,
   inverse scaling, baselines, the long frame) is timed apart from that training;
2. the same with ``refit_every=20`` (13 fits: the first plus 12 warm-started refits);
3. per sample ticker: MASE at h=1 of one small LSTM variant and each baseline over the
   last 250 days, and the best model.

``--quick`` trains for one epoch and uses a smaller model for the per-ticker table.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TICKERS = ("AAPL", "MSFT", "KO", "FB", "JPM", "XOM", "GOOG")


class Timed:
    """Wrap ModelFns callables and add up the seconds spent in fit and predict."""

    def __init__(self, fns: Any) -> None:
        self.fns, self.fit_s, self.predict_s = fns, 0.0, 0.0
        self.fits = self.predicts = 0
        self.state: Any = None

    def _timed(self, fn: Callable, attr: str) -> Callable:
        def call(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                setattr(self, f"{attr}_s", getattr(self, f"{attr}_s") + time.perf_counter() - t0)
                setattr(self, f"{attr}s", getattr(self, f"{attr}s") + 1)

        return call

    def model(self) -> Any:
        from pricecast.tasks.backtest import ModelFns

        f = self.fns

        def fit(*args: Any) -> Any:
            self.state = f.fit(*args)
            return self.state

        return ModelFns(
            f.name, self._timed(fit, "fit"), self._timed(f.predict, "predict"), f.strategy
        )


def load(ticker: str, rows: int | None = None):
    from pricecast.stores.price_files import read_sample
    from pricecast.tasks.validate import validate_prices

    frame = validate_prices(read_sample(ticker), ticker).frame
    return frame if rows is None else frame.iloc[-rows:]


def timed_backtest(prices, variant, training, backtest, window: int, refit_epochs: int | None):
    from pricecast.configs.schema import FeaturesConfig
    from pricecast.models.variant import keras_model_fns
    from pricecast.tasks.backtest import walk_forward

    features = FeaturesConfig(window=window, horizon=1)
    fns = keras_model_fns(
        variant, training, window, n_features=1, horizon=1, refit_epochs=refit_epochs
    )
    timer = Timed(fns)
    t0 = time.perf_counter()
    frame = walk_forward(prices, [timer.model()], features=features, backtest=backtest)
    total = time.perf_counter() - t0
    return frame, total, timer


def line(label: str, seconds: float, note: str = "") -> None:
    print(f"    {label:<46}{seconds:8.3f} s  {note}".rstrip())


def mase_h1(frame, prices) -> str:
    from pricecast.tasks.backtest import insample_scale, summarize

    scale = insample_scale(prices["adj_close"], frame["cutoff"].min())
    return fmt({k: v["mase"][0] for k, v in summarize(frame, scale).items()})


def speed(args: argparse.Namespace) -> None:
    from pricecast.configs.schema import (
        BacktestConfig,
        FeaturesConfig,
        TrainingConfig,
        VariantConfig,
    )
    from pricecast.tasks.backtest import ModelFns, walk_forward

    prices = load("FB")
    variant = VariantConfig(name="lstm", cell="lstm", units=32, layers=1)
    training = TrainingConfig(epochs=args.epochs, batch_size=32, seed=42)
    print(f"FB: {len(prices)} rows, window 40, LSTM(32), {args.epochs} epoch(s), h=1\n")

    once = BacktestConfig(n_origins=250)
    frame, total, t = timed_backtest(prices, variant, training, once, 40, None)
    n = frame[frame["model"] == "lstm"]["cutoff"].nunique()
    print(f"[1] {n} origins, no refit")
    line("initial training (before the first origin)", t.fit_s, f"({t.fits} fit)")
    line("backtest excluding training", total - t.fit_s, "(target <= 1 s)")
    line("  of which the batched predict", t.predict_s, f"({t.predicts} call, incl. tracing)")
    print(f"    MASE h=1: {mase_h1(frame, prices)}")
    # Steady state: the same backtest again with the trained model reused (its fit
    # returns it), so the predict function is already traced.
    trained = t.state
    reuse = ModelFns("lstm", lambda *a: trained, t.fns.predict)
    t0 = time.perf_counter()
    walk_forward(prices, [reuse], features=FeaturesConfig(window=40), backtest=once)
    line("the backtest again, model trained and traced", time.perf_counter() - t0)

    refit = BacktestConfig(n_origins=250, refit_every=20)
    frame, total, t = timed_backtest(prices, variant, training, refit, 40, args.refit_epochs)
    n = frame[frame["model"] == "lstm"]["cutoff"].nunique()
    print(f"\n[2] {n} origins, refit_every=20 (warm-started refits, {args.refit_epochs} epoch(s))")
    line("total", total)
    line(f"training ({t.fits} fits)", t.fit_s)
    line("backtest excluding training", total - t.fit_s)
    line(f"  of which predict ({t.predicts} batched calls)", t.predict_s)
    print(f"    MASE h=1: {mase_h1(frame, prices)}\n")


def accuracy(args: argparse.Namespace) -> None:
    from pricecast.configs.schema import (
        BacktestConfig,
        FeaturesConfig,
        TrainingConfig,
        VariantConfig,
    )
    from pricecast.models.variant import keras_model_fns
    from pricecast.tasks.backtest import (
        DEFAULT_BASELINES,
        best_model,
        insample_scale,
        summarize,
        walk_forward,
    )

    units = 8 if args.quick else 16
    variant = VariantConfig(name="lstm", cell="lstm", units=units)
    training = TrainingConfig(epochs=args.epochs, batch_size=32, seed=42)
    features = FeaturesConfig(window=20, horizon=1)
    print(
        f"[3] MASE h=1 over the last 250 days (origins), LSTM({units}) window 20, "
        f"{args.epochs} epoch(s), trained once on the {args.rows - 251} rows before; "
        f"MASE scale: in-sample persistence MAE up to the first cutoff"
    )
    names = ["lstm", *DEFAULT_BASELINES]
    print(
        f"    {'ticker':6} " + " ".join(f"{n:>14}" for n in names) + f"  {'best model':>14}  secs"
    )
    for ticker in TICKERS:
        prices = load(ticker, args.rows)
        t0 = time.perf_counter()
        fns = keras_model_fns(variant, training, 20, n_features=1, horizon=1)
        frame = walk_forward(
            prices, [fns], features=features, backtest=BacktestConfig(n_origins=250)
        )
        summary = summarize(frame, insample_scale(prices["adj_close"], frame["cutoff"].min()))
        row = " ".join(f"{summary[n]['mase'][0]:>14.3f}" for n in names)
        secs = time.perf_counter() - t0
        print(f"    {ticker:6} {row}  {best_model(summary):>14}  {secs:4.1f}")


def fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in values.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch, smaller models")
    parser.add_argument("--epochs", type=int, help="epochs of the first fit (default 5; quick 1)")
    parser.add_argument("--refit-epochs", type=int, help="epochs per refit (default 2; quick 1)")
    parser.add_argument("--rows", type=int, default=1250, help="rows per ticker in [3]")
    args = parser.parse_args()
    args.epochs = args.epochs or (1 if args.quick else 5)
    args.refit_epochs = args.refit_epochs or (1 if args.quick else 2)

    import keras
    import tensorflow as tf

    from pricecast.models.recurrent import devices

    tf.get_logger().setLevel("ERROR")  # retracing notes after each refit
    dev = devices()
    print(
        f"keras {keras.__version__}, tensorflow {tf.__version__}, {dev['device']} "
        f"({dev.get('gpu_names', f'{os.cpu_count()} cores')})\n"
    )
    t0 = time.perf_counter()
    speed(args)
    accuracy(args)
    print(f"\nbench wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
