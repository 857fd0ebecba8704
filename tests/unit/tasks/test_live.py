"""Live scores of matured forecasts, the decay check and the retraining rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.tasks.live import (
    DecayCheck,
    check_decay,
    live_scale,
    matured,
    retrain_due,
    score_live,
)

DATES = pd.bdate_range("2020-01-01", periods=300)
PRICES = pd.Series(100 + np.cumsum(np.sin(np.arange(300) / 7.0)), index=DATES)


def _ledger(models=("lstm", "persistence"), nights=30, h=1, bias=0.5) -> pd.DataFrame:
    rows = []
    for i in range(250, 250 + nights):
        as_of, target = DATES[i], DATES[i + h] if i + h < len(DATES) else DATES[-1]
        last = float(PRICES.iloc[i])
        for m in models:
            value = last if m == "persistence" else last + bias
            rows.append(
                {
                    "as_of": as_of,
                    "ticker": "KO",
                    "model": m,
                    "h": h,
                    "target_date": target,
                    "value": value,
                    "last_price": last,
                }
            )
    return pd.DataFrame(rows)


def test_coverage_and_interval_score_over_the_last_n_banded_forecasts():
    ledger = _ledger()
    # lstm's band: value +- 1 (80 %), +- 2 (95 %); persistence has none on 10 nights.
    ledger = ledger.assign(
        lower_80=ledger["value"] - 1,
        upper_80=ledger["value"] + 1,
        lower_95=ledger["value"] - 2,
        upper_95=ledger["value"] + 2,
    )
    ledger.loc[(ledger["model"] == "persistence") & (ledger.index < 20), "lower_80"] = np.nan
    as_of = DATES[280]
    scores = score_live(ledger, PRICES, as_of, (("last_20", 20), ("last_60", 60)))
    assert {"coverage_80", "coverage_95", "interval_score"} <= set(scores.columns)
    row = scores[(scores.model == "lstm") & (scores.window == "last_20")].iloc[0]
    chunk = matured(ledger, PRICES, as_of).query("model == 'lstm'").tail(20)
    y, v = chunk["actual"].to_numpy(), chunk["value"].to_numpy()
    last = chunk["last_price"].to_numpy()
    assert row["coverage_80"] == pytest.approx(np.mean(np.abs(y - v) <= 1))
    is80 = np.mean((2 + 20 * np.maximum(np.abs(y - v) - 1, 0)) / last)
    is95 = np.mean((4 + 80 * np.maximum(np.abs(y - v) - 2, 0)) / last)
    assert row["interval_score"] == pytest.approx((is80 + is95) / 2)
    # Persistence's window counts only the nights that carry its bounds.
    pers = scores[(scores.model == "persistence") & (scores.window == "last_60")].iloc[0]
    banded = matured(ledger, PRICES, as_of).query("model == 'persistence'").dropna()
    assert pers["coverage_80"] == pytest.approx(
        np.mean(np.abs(banded["actual"] - banded["value"]) <= 1)
    )
    assert "coverage_80" not in score_live(_ledger(), PRICES, as_of).columns


def test_only_forecasts_whose_target_is_known_mature():
    ledger = _ledger()
    as_of = DATES[265]
    rows = matured(ledger, PRICES, as_of)
    assert (rows["target_date"] <= as_of).all()
    assert len(rows) == 2 * 15  # nights 250..264 have their h=1 target by 265
    assert np.allclose(rows["actual"], PRICES.loc[rows["target_date"]].to_numpy())


def test_scores_equal_a_hand_computation():
    ledger = _ledger()
    as_of = DATES[280]
    scores = score_live(ledger, PRICES, as_of, (("last_5", 5), ("all", None)))
    row = scores[(scores.model == "lstm") & (scores.window == "last_5")].iloc[0]
    # by hand: the last 5 matured lstm forecasts (targets DATES[276..280])
    targets = DATES[276:281]
    actual = PRICES.loc[targets].to_numpy()
    last = PRICES.loc[DATES[275:280]].to_numpy()
    pred = last + 0.5
    scale = np.mean(np.abs(np.diff(PRICES.loc[:as_of].to_numpy()[-251:])))
    assert row.n == 5
    assert row.mae == pytest.approx(np.mean(np.abs(pred - actual)))
    assert row.rmse == pytest.approx(np.sqrt(np.mean((pred - actual) ** 2)))
    assert row.mase == pytest.approx(np.mean(np.abs(pred - actual)) / scale)
    assert row.persistence_mase == pytest.approx(np.mean(np.abs(last - actual)) / scale)
    assert row.directional_accuracy == pytest.approx(np.mean(np.sign(actual - last) == 1))
    assert live_scale(PRICES, as_of) == pytest.approx(scale)
    everything = scores[(scores.model == "lstm") & (scores.window == "all")].iloc[0]
    assert everything.n == 30


def test_prices_after_as_of_are_never_read():
    ledger = _ledger()
    as_of = DATES[270]
    garbage = PRICES.copy()
    garbage.loc[garbage.index > as_of] = 1e9
    pd.testing.assert_frame_equal(
        score_live(ledger, PRICES, as_of), score_live(ledger, garbage, as_of)
    )


def test_decay_needs_a_full_window_and_the_margin():
    ledger = _ledger(bias=3.0)  # far worse than persistence
    scores = score_live(ledger, PRICES, DATES[285], (("last_20", 20), ("all", None)))
    assert check_decay(scores, "lstm", 20, 0.1).decayed
    few = score_live(ledger, PRICES, DATES[260], (("last_20", 20), ("all", None)))
    check = check_decay(few, "lstm", 20, 0.1)
    assert not check.decayed and "10 of 20" in check.reason
    close = score_live(_ledger(bias=0.0), PRICES, DATES[285], (("last_20", 20),))
    assert not check_decay(close, "lstm", 20, 0.1).decayed


def test_retraining_rule():
    calm = DecayCheck(False, "fine")
    assert retrain_due(None, 0, 5, calm).retrain
    assert not retrain_due(pd.Timestamp("2020-11-16"), 4, 5, calm).retrain
    assert retrain_due(pd.Timestamp("2020-11-16"), 5, 5, calm).reason.startswith("cadence")
    decayed = retrain_due(pd.Timestamp("2020-11-16"), 1, 5, DecayCheck(True, "worse"))
    assert decayed.retrain and decayed.reason == "decay: worse"
