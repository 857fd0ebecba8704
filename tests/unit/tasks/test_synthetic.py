"""gbm_prices() / synthetic_watchlist(): seeded, business days, regimes that show in the returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pricecast.stores.price_format import normalize_yahoo
from pricecast.tasks.synthetic import YAHOO_COLUMNS, gbm_prices, synthetic_watchlist
from pricecast.tasks.validate import validate_prices


def test_same_seed_same_series_other_seed_other_series():
    a = gbm_prices("SYN001", "2018-01-01", "2020-12-31", seed=11)
    b = gbm_prices("SYN001", "2018-01-01", "2020-12-31", seed=11)
    c = gbm_prices("SYN001", "2018-01-01", "2020-12-31", seed=12)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.regimes == b.regimes
    assert not np.allclose(a.frame["Close"], c.frame["Close"])


def test_business_days_in_the_yahoo_export_layout():
    s = gbm_prices("SYN001", "2020-01-01", "2020-03-31", seed=3)
    assert list(s.frame.columns) == list(YAHOO_COLUMNS)
    dates = pd.to_datetime(s.frame["Date"], format="%Y-%m-%d")
    assert (dates.dt.dayofweek < 5).all() and dates.is_monotonic_increasing
    assert len(dates) == len(pd.bdate_range("2020-01-01", "2020-03-31"))
    f = s.frame
    assert (f[["Open", "High", "Low", "Close"]] > 0).all().all()
    assert (f["High"] >= f[["Open", "Close"]].max(axis=1)).all()
    assert (f["Low"] <= f[["Open", "Close"]].min(axis=1)).all()
    # The frame reads as a Yahoo export would, and passes price validation.
    raw = f.assign(Date=dates)
    frame = validate_prices(normalize_yahoo(raw, "SYN001"), "SYN001").frame
    assert len(frame) == len(f)


def test_regimes_change_drift_and_volatility_and_show_in_the_returns():
    s = gbm_prices("SYN001", "2000-01-01", "2020-12-31", seed=5, mean_regime=250)
    spells = s.regimes
    assert len(spells) >= 5 and spells[0].start == 0
    assert all(a.start < b.start for a, b in zip(spells, spells[1:], strict=False))
    assert len({r.volatility for r in spells}) == len(spells)
    returns = np.diff(np.log(s.frame["Close"].to_numpy()))
    # Each long spell's realised volatility follows its own parameter.
    n = len(returns)
    for i, r in enumerate(spells):
        stop = spells[i + 1].start if i + 1 < len(spells) else n
        if stop - r.start >= 200:
            realised = returns[r.start : stop - 1].std()
            assert realised == pytest.approx(r.volatility, rel=0.25)


def test_watchlist_names_and_distinct_series():
    w = synthetic_watchlist(4, "2019-01-01", "2019-12-31", seed=1)
    assert list(w) == ["SYN001", "SYN002", "SYN003", "SYN004"]
    closes = [s.frame["Close"].to_numpy() for s in w.values()]
    assert len({c[-1] for c in closes}) == 4
    again = synthetic_watchlist(4, "2019-01-01", "2019-12-31", seed=1)
    assert all(a.frame.equals(b.frame) for a, b in zip(w.values(), again.values(), strict=True))


def test_an_empty_span_names_the_ticker():
    with pytest.raises(ValueError, match="SYN009: 2020-01-04..2020-01-05 holds 0 business day"):
        gbm_prices("SYN009", "2020-01-04", "2020-01-05", seed=1)
