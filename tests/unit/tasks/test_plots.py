"""The test-span, backtest and outlook figures on the bundled FB sample."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pricecast.configs.schema import BacktestConfig
from pricecast.tasks import plots
from pricecast.tasks.backtest import walk_forward
from pricecast.tasks.baselines import drift_model
from pricecast.tasks.evaluation import baseline_forecasts, forecast_split
from pricecast.tasks.metrics import evaluate
from pricecast.tasks.plot_layers import skill_curves
from pricecast.tasks.plots import backtest_figure, outlook_figure
from pricecast.tasks.series import axis_label


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_test_span_figure_has_a_skill_panel_words_and_units(fb_prepared, seed_fb_config):
    data = replace(fb_prepared, label=axis_label(seed_fb_config.data, "FB"))
    pers = baseline_forecasts(data)["persistence"]
    actual = data.actual_prices("test")
    # A model halfway between persistence and the truth errs half as much: below 0.
    forecasts = {
        "lstm": (pers + actual) / 2,
        "persistence": pers,
        "drift": forecast_split(drift_model(data.horizon), None, data),
    }
    rmse = {n: evaluate(actual, f, data.anchors("test"), 1.0)["rmse"] for n, f in forecasts.items()}
    fig = plots.test_span_figure(data, forecasts, rmse)

    top, bottom = fig.axes
    assert top.get_shared_x_axes().joined(top, bottom)
    assert top.get_ylabel() == "close, USD"  # the seed config forecasts the close
    title = top.get_title()
    assert "1 day ahead" in title and "h=" not in title
    assert "test span 2020-01-02 to 2020-01-31" in title
    labels = _labels(top)
    assert labels[:2] == ["real (before test)", "real"]
    assert labels[2].startswith("lstm (RMSE ") and labels[3].startswith("persistence (RMSE ")
    width = {line.get_label().split(" ")[0]: line.get_linewidth() for line in top.get_lines()}
    assert width["persistence"] < width["lstm"] and width["drift"] < width["lstm"]

    # The panel: one curve per model but persistence, plus the zero line.
    curves = [line for line in bottom.get_lines() if len(line.get_xdata()) > 2]
    assert len(curves) == 2
    lstm = np.asarray(curves[0].get_ydata(), dtype=float)
    expected = np.cumsum(
        np.abs(forecasts["lstm"][:, 0] - actual[:, 0]) - np.abs(pers - actual)[:, 0]
    )
    np.testing.assert_allclose(lstm, expected)
    assert lstm[-1] < 0
    assert "below 0, better than persistence" in bottom.get_title(loc="left")


def test_backtest_figure_has_no_before_line_and_a_skill_panel(fb_seed_prices, seed_fb_config):
    cfg = seed_fb_config
    frame = walk_forward(
        fb_seed_prices, [], features=cfg.features, target=cfg.data.target,
        backtest=BacktestConfig(n_origins=25, refit_every=0),
    )  # fmt: skip
    fig = backtest_figure("FB backtest", frame, {}, h=1, ylabel="adj. close, USD")
    top, bottom = fig.axes
    assert _labels(top) == ["real", "persistence", "drift", "moving_average"]
    assert len([line for line in bottom.get_lines() if len(line.get_xdata()) > 2]) == 2
    # The drift curve is its cumulative error minus persistence's, on the plotted dates.
    part = frame[frame["h"] == 1]
    err = part.assign(e=(part["predicted"] - part["actual"]).abs()).pivot(
        index="date", columns="model", values="e"
    )
    drift = np.asarray(bottom.get_lines()[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(drift, (err["drift"] - err["persistence"]).cumsum().to_numpy())


def test_a_model_far_off_leaves_the_skill_scale_to_the_others(fb_prepared):
    pers = baseline_forecasts(fb_prepared)["persistence"]
    actual = fb_prepared.actual_prices("test")
    forecasts = {"lstm": (pers + actual) / 2, "rnn": pers - 30.0, "persistence": pers}
    bottom = plots.test_span_figure(fb_prepared, forecasts, {}).axes[1]
    lstm, rnn = (np.asarray(line.get_ydata(), dtype=float) for line in bottom.get_lines()[:2])
    low, high = bottom.get_ylim()
    assert low <= lstm.min() and high >= 0 and rnn.max() > 10 * high
    note = " ".join(t.get_text() for t in bottom.texts)
    assert f"off the scale: rnn (ends at {rnn[-1]:+.1f})" in note


def test_skill_curves_need_persistence():
    actual = pd.Series([1.0, 2.0], index=pd.date_range("2020-01-01", periods=2))
    with pytest.raises(KeyError, match="no persistence forecast"):
        skill_curves(actual, {"lstm": actual})


def test_outlook_draws_the_forecast_path_from_the_last_real_price(fb_seed_prices):
    history = fb_seed_prices["adj_close"].iloc[-60:]
    dates = pd.bdate_range(history.index[-1] + pd.Timedelta(days=1), periods=3)
    forecast = pd.Series([210.0, 211.5, 213.0], index=dates)
    fig = outlook_figure("FB outlook", history, forecast, ylabel="adj. close, USD")
    ax, near = fig.axes  # months of history, and the last days with the path zoomed in
    assert ax.get_ylabel() == "adj. close, USD" and ax.get_title() == "FB outlook"
    for axes, shown in ((ax, 60), (near, 15)):
        real, path = axes.get_lines()[:2]
        assert len(real.get_xdata()) == shown
        assert path.get_label() == "forecast, 3 steps"
        ys = np.asarray(path.get_ydata(), dtype=float)
        np.testing.assert_allclose(ys, [history.iloc[-1], 210.0, 211.5, 213.0])
