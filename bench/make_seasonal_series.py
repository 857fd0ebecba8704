"""Write the bundled synthetic seasonal series: ``pricecast/sample/seasonal_synthetic.csv``.

A monthly series (month ends) with a yearly cycle, a slower 40-month cycle (which the
seasonal-naive baseline, one year back, cannot follow), a slight trend and Gaussian
noise, centred near zero so that it crosses zero every year. Seeded: running the script
again writes the same file. With ``--steps N`` the same values are indexed by integer
steps 0, N, 2N, … (a ``step`` column) and go to ``steps_synthetic.csv``.

    python bench/make_seasonal_series.py [--rows 480] [--seed 15]
    python bench/make_seasonal_series.py --steps 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE = Path(__file__).resolve().parents[1] / "pricecast" / "sample"
OUT = SAMPLE / "seasonal_synthetic.csv"


def seasonal_series(rows: int, seed: int) -> pd.DataFrame:
    """Month-end dates from 1985-01-31 and ``value = yearly + 40-month cycle + trend + noise``."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    value = (
        8.0 * np.sin(2 * np.pi * t / 12)
        + 3.0 * np.sin(2 * np.pi * t / 40 + 1.0)
        + 0.005 * t
        - 1.0
        + rng.normal(0.0, 0.7, rows)
    )
    dates = pd.date_range("1985-01-31", periods=rows, freq="ME")
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "value": value.round(4)})


def main() -> None:
    """Parse the arguments and write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=480)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--steps", type=int, metavar="N", help="integer steps 0, N, 2N, …")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    frame = seasonal_series(args.rows, args.seed)
    if args.steps:
        frame = frame.assign(date=np.arange(len(frame)) * args.steps).rename(
            columns={"date": "step"}
        )
    args.out = args.out or (SAMPLE / "steps_synthetic.csv" if args.steps else OUT)
    frame.to_csv(args.out, index=False)
    neg = float((frame["value"] < 0).mean())
    print(f"wrote {args.out}: {len(frame)} rows, {neg:.0%} negative")


if __name__ == "__main__":
    main()
