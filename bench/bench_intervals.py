"""Calibration of the prediction intervals: every model and baseline on the 7 sample tickers.

    .venv/bin/python bench/bench_intervals.py [--origins 250] [--epochs 5] [--rows 1250]
        [--halflife 10 (0: plain residuals)]

A walk-forward backtest (h=1, trained once on the rows before the first origin, bands
calibrated at each origin on out-of-sample residuals known then) of small LSTM and GRU
variants, banded by split-conformal, and an LSTM quantile head (``lstm_quantile``:
pinball loss, its own quantiles are the band; ``lstm_quantile_cqr``: the same bands
conformalised on its past misses) beside the baselines. Per ticker and model
it prints the coverage of the 80 % and 95 % intervals, the 80 % width (share of the
price), the interval score (mean of the 80 % and 95 % Winkler scores, share of the price)
and that score over the random walk's:
persistence banded by the empirical distribution of its past one-day log-returns (plain
rolling conformal), whatever method bands the models. Then the targets: 80 % coverage
within 76-84 % on every ticker, and the recurrent models beating the random walk's
interval score on at least 4 of 7 tickers. Every model, baselines included, is banded as
``intervals.volatility_halflife`` says: volatility-scaled residuals (default half-life
10), or plain ones with ``--halflife 0``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TICKERS = ("AAPL", "MSFT", "KO", "FB", "JPM", "XOM", "GOOG")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=250, help="backtest origins per ticker")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the one fit")
    parser.add_argument("--units", type=int, default=16, help="units of each recurrent layer")
    parser.add_argument("--rows", type=int, default=1250, help="latest rows used per ticker")
    parser.add_argument("--tickers", default=",".join(TICKERS), help="comma-separated")
    parser.add_argument("--halflife", type=float, default=10.0, help="volatility half-life")
    args = parser.parse_args()

    import pandas as pd
    import tensorflow as tf

    from pricecast.configs.intervals import IntervalsConfig
    from pricecast.configs.schema import (
        BacktestConfig,
        FeaturesConfig,
        TrainingConfig,
        VariantConfig,
    )
    from pricecast.models.quantile import quantile_model_fns
    from pricecast.models.variant import keras_model_fns
    from pricecast.stores.price_files import read_sample
    from pricecast.tasks.backtest import insample_scale, summarize, walk_forward
    from pricecast.tasks.quantile_backtest import quantile_walk_forward
    from pricecast.tasks.validate import validate_prices

    tf.get_logger().setLevel("ERROR")
    levels = [0.8, 0.95]
    features = FeaturesConfig(window=20, horizon=1)
    training = TrainingConfig(epochs=args.epochs, batch_size=32, seed=42)
    cells = ("lstm", "gru", "lstm_quantile", "lstm_quantile_cqr")
    print(
        f"walk-forward h=1, {args.origins} origins, last {args.rows} rows per ticker, "
        f"LSTM/GRU({args.units}) window 20, {args.epochs} epoch(s), trained once; "
        f"{os.cpu_count()} cores; volatility half-life {args.halflife}\n"
        f"{'ticker':6} {'model':18} {'cov80':>6} {'cov95':>6} {'width80':>8} "
        f"{'IS':>7} {'IS/rw':>6} {'mase':>6}"
    )
    in_band, beats, t_all = [], {c: 0 for c in cells}, time.perf_counter()
    for ticker in args.tickers.split(","):
        prices = validate_prices(read_sample(ticker), ticker).frame.iloc[-args.rows :]
        fns = [
            keras_model_fns(VariantConfig(name=c, cell=c, units=args.units), training, 20, 1, 1)
            for c in cells[:2]
        ]
        t0 = time.perf_counter()
        frame = walk_forward(
            prices,
            fns,
            features=features,
            backtest=BacktestConfig(n_origins=args.origins),
            intervals=IntervalsConfig(volatility_halflife=args.halflife or None),
        )
        head = quantile_model_fns(
            VariantConfig(name="lstm", cell="lstm", units=args.units), training, 20, 1, 1, levels
        )
        bt = BacktestConfig(n_origins=args.origins)
        cqr = IntervalsConfig(volatility_halflife=None)
        quantiles = quantile_walk_forward(prices, head, levels, features, bt, conformal=cqr)
        frame = pd.concat([quantiles, frame], ignore_index=True)
        scale = insample_scale(prices["adj_close"], frame["cutoff"].min())
        summary = summarize(frame, scale)
        plain = walk_forward(
            prices,
            features=features,
            backtest=BacktestConfig(n_origins=args.origins),
            intervals=IntervalsConfig(volatility_halflife=None),
        )
        rw = summarize(plain, scale)["persistence"]["interval_score"][0]
        for name, m in summary.items():
            cov80 = m["coverage_80"][0]
            print(
                f"{ticker:6} {name:18} {cov80:6.3f} {m['coverage_95'][0]:6.3f} "
                f"{m['width_80'][0]:8.4f} {m['interval_score'][0]:7.4f} "
                f"{m['interval_score'][0] / rw:6.3f} {m['mase'][0]:6.3f}"
            )
            in_band.append(0.76 <= cov80 <= 0.84)
            if name in beats and m["interval_score"][0] < rw:
                beats[name] += 1
        print(f"{ticker:6} ({time.perf_counter() - t0:.0f} s)")
    n = len(args.tickers.split(","))
    print(f"\n80 % coverage within 76-84 %: {sum(in_band)} of {len(in_band)} ticker x model rows")
    for cell, count in beats.items():
        print(f"{cell} interval score beats the random walk's on {count} of {n} tickers")
    print(f"bench wall time {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
