"""walk_forward(): rolling origins without look-ahead, batched forecasts, baselines, metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pricecast.configs.schema import BacktestConfig, FeaturesConfig, TrainingConfig, VariantConfig
from pricecast.models import variant as keras_variant
from pricecast.models.variant import keras_model_fns
from pricecast.stores.price_files import read_sample
from pricecast.tasks.backtest import (
    COLUMNS,
    DEFAULT_BASELINES,
    ModelFns,
    best_model,
    insample_scale,
    origin_rows,
    refit_segments,
    summarize,
    walk_forward,
)
from pricecast.tasks.features import input_frame, prices_from_targets, target_matrix
from pricecast.tasks.forecasters import check_strategy
from pricecast.tasks.metrics import METRICS, naive_scale
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.validate import validate_prices
from pricecast.tasks.windows import windows

PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]


@pytest.fixture(scope="module")
def fb_full() -> pd.DataFrame:
    return validate_prices(read_sample("FB"), "FB").frame


@pytest.fixture
def fb(fb_full) -> pd.DataFrame:
    """The last 300 trading days of the real FB sample (a fresh copy)."""
    return fb_full.iloc[-300:].copy()


class Linear:
    """Deterministic stand-in model: least squares on the flattened windows (+ intercept).

    Records every fit and predict call so tests can check what the backtest passed.
    """

    def __init__(self) -> None:
        self.fits: list[dict] = []
        self.predicts: list[np.ndarray] = []

    @staticmethod
    def _design(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype="float64")
        return np.c_[x.reshape(len(x), -1), np.ones(len(x))]

    def fit(self, x_train, y_train, x_val, y_val, warm):
        self.fits.append(
            {"x": np.array(x_train), "y": np.array(y_train), "x_val": x_val, "warm": warm}
        )
        # Fit on the validation samples too, so that a leak into them shows as well.
        a = self._design(np.concatenate([x_train, x_val]))
        y = np.concatenate([y_train, y_val]).astype("float64")
        # A NaN anywhere (a corrupted row) makes every coefficient NaN instead of failing.
        coef = np.full((a.shape[1], y.shape[1]), np.nan)
        if np.isfinite(a).all() and np.isfinite(y).all():
            coef = np.linalg.lstsq(a, y, rcond=None)[0]
        return {"coef": coef, "n": len(self.fits)}

    def predict(self, state, x):
        self.predicts.append(np.array(x))
        # Row by row the same operations whatever the batch (unlike a BLAS matmul).
        return (self._design(x)[:, :, None] * state["coef"][None]).sum(axis=1)

    def fns(self, name: str = "lin", strategy: str = "direct") -> ModelFns:
        return ModelFns(name, self.fit, self.predict, strategy)


def run(prices, model=None, **kw):
    feats = {k: kw.pop(k) for k in list(kw) if k in FeaturesConfig.model_fields}
    return walk_forward(
        prices,
        [model] if model is not None else [],
        features=FeaturesConfig(**feats),
        backtest=BacktestConfig(**kw),
    )


def corrupt_after(prices: pd.DataFrame, cutoff: pd.Timestamp, how: str) -> pd.DataFrame:
    """Replace every value after ``cutoff`` by NaN or by random garbage of another scale."""
    out = prices.copy()
    after = out.index > cutoff
    cols = PRICE_COLUMNS + ["volume"]
    if how == "nan":
        out.loc[after, cols] = np.nan
    else:
        rng = np.random.default_rng(7)
        out.loc[after, cols] = out.loc[after, cols] * rng.uniform(0.1, 10.0, (after.sum(), 6))
    return out


def at_cutoff(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    part = frame[frame["cutoff"] == cutoff].sort_values(["model", "h"])
    return part[["model", "h", "date", "predicted"]].reset_index(drop=True)


# ----------------------------------------------------------------- (a) no look-ahead


@pytest.mark.parametrize(
    "settings",
    [
        {"refit_every": 0},
        {"refit_every": 7},
        {"refit_every": 7, "training_window": "sliding", "training_window_length": 120},
        {"refit_every": 5, "inputs": ["close", "log_volume"], "target_transform": "level"},
    ],
    ids=["once", "refit", "sliding", "multivariate-level"],
)
@pytest.mark.parametrize("how", ["garbage", "nan"])
def test_values_after_a_cutoff_do_not_change_its_forecasts(fb, settings, how):
    kw = {"window": 10, "horizon": 3, "n_origins": 30, **settings}
    clean = run(fb, Linear().fns(), **kw)
    cutoffs = clean["cutoff"].drop_duplicates().sort_values().to_list()
    # First origin, last before / first after a refit, mid-run, last origin.
    for cutoff in [cutoffs[i] for i in (0, 6, 7, 15, 29)]:
        dirty = run(corrupt_after(fb, cutoff, how), Linear().fns(), **kw)
        expected = at_cutoff(clean, cutoff)
        assert set(expected["model"]) == {"lin", *DEFAULT_BASELINES}
        pd.testing.assert_frame_equal(at_cutoff(dirty, cutoff), expected, check_exact=True)


def test_training_and_scaler_see_only_rows_before_the_origin(fb):
    model = Linear()
    frame = run(fb, model.fns(), window=10, horizon=3, n_origins=30, refit_every=10)
    cutoffs = frame["cutoff"].drop_duplicates().sort_values().to_list()
    assert len(model.fits) == 3
    logret = input_frame(fb, ["log_return"], "adj_close")
    for fit, cutoff in zip(model.fits, cutoffs[::10], strict=True):
        rows = logret.index < cutoff
        # Samples end 3 rows before the origin: their last target is the day before it.
        n_samples = rows.sum() - 10 - 3 + 1
        n_val = round(0.1 * n_samples)
        assert len(fit["x"]) == n_samples - n_val
        assert fit["x"].shape[1:] == (10, 1) and fit["y"].shape[1] == 3
        assert fit["x"].dtype == np.float32
        # Targets are scaled with a scaler fitted before the origin: within [0, 1].
        assert fit["y"].min() >= 0 and fit["y"].max() <= 1


def test_keras_default_has_no_lookahead_and_batches_like_a_loop(fb):
    variant = VariantConfig(name="tiny", cell="lstm", units=4)
    training = TrainingConfig(epochs=2, batch_size=64, seed=3)
    kw = {"window": 10, "horizon": 2, "n_origins": 6, "refit_every": 3}
    data = fb.iloc[-160:]
    states = []

    def fns() -> ModelFns:
        base = keras_model_fns(variant, training, window=10, n_features=1, horizon=2)

        def fit(*args):
            states.append(base.fit(*args))
            return states[-1]

        return ModelFns(base.name, fit, base.predict)

    clean = run(data, fns(), **kw)
    assert states[1] is states[0]  # the refit warm-starts the same model
    cutoffs = clean["cutoff"].drop_duplicates().sort_values().to_list()
    for cutoff in (cutoffs[2], cutoffs[4]):
        dirty = run(corrupt_after(data, cutoff, "garbage"), fns(), **kw)
        pd.testing.assert_frame_equal(
            at_cutoff(dirty, cutoff), at_cutoff(clean, cutoff), check_exact=True
        )
    tiny = clean[clean["model"] == "tiny"]
    assert np.allclose(tiny["predicted"], tiny["actual"], rtol=0.25)

    # The clean run's second batch (origins 3..5) equals one predict call per origin
    # of its refitted model (later runs built new models; this one kept its weights).
    model = states[1]
    last = cutoffs[3:]
    logret = input_frame(data, ["log_return"], "adj_close")
    before = logret.index < last[0]
    p = data["adj_close"].loc[logret.index].to_numpy()
    y_raw = target_matrix(p[before], 2, "log_return")[9:-2]
    scaler = SeriesScaler().fit(logret[before].to_numpy(), y_raw)
    x = windows(scaler.transform_inputs(logret.to_numpy()).astype("float32"), 10)
    rows = logret.index.get_indexer(last)
    looped = np.vstack([model.predict(x[r - 9 : r - 8], verbose=0) for r in rows])
    prices = prices_from_targets(scaler.inverse_targets(looped), p[rows], "log_return")
    batched = tiny[tiny["cutoff"].isin(last)]
    i = np.searchsorted(np.asarray(last), batched["cutoff"].to_numpy())
    np.testing.assert_allclose(batched["predicted"], prices[i, batched["h"] - 1], rtol=1e-6)


# ----------------------------------------------------------------- (b) one batched call


def test_no_refit_forecasts_every_origin_in_one_call_equal_to_a_loop(fb):
    model = Linear()
    frame = run(fb, model.fns(), window=12, horizon=2, n_origins=40)
    assert len(model.fits) == 1 and len(model.predicts) == 1
    assert model.predicts[0].shape == (40, 12, 1)

    # Independent re-computation: fit on rows before the first origin, then one origin at a time.
    logret = input_frame(fb, ["log_return"], "adj_close")
    p = fb["adj_close"].loc[logret.index].to_numpy()
    rows = origin_rows(len(logret), 40)
    raw, before = logret.to_numpy(), slice(0, rows[0])
    y_raw = target_matrix(p[before], 2, "log_return")[11:-2]
    scaler = SeriesScaler().fit(raw[before], y_raw)
    x = windows(scaler.transform_inputs(raw).astype("float32"), 12)
    y = scaler.transform_targets(y_raw).astype("float32")
    n_val = round(0.1 * len(y))
    state = Linear().fit(
        x[: len(y) - n_val], y[:-n_val], x[len(y) - n_val : len(y)], y[-n_val:], None
    )
    looped = np.vstack(
        [
            prices_from_targets(
                scaler.inverse_targets(Linear().predict(state, x[r - 11 : r - 10])),
                p[r : r + 1],
                "log_return",
            )
            for r in rows
        ]
    )
    lin = frame[frame["model"] == "lin"]
    i = rows.searchsorted(logret.index.get_indexer(lin["cutoff"]))
    np.testing.assert_array_equal(lin["predicted"], looped[i, lin["h"] - 1])
    assert len(lin) == 2 * 40 - 1  # the last origin's h=2 target lies past the data


@pytest.mark.parametrize(
    ("refit_every", "sizes"), [(0, [25]), (10, [10, 10, 5]), (25, [25]), (1, [1] * 25)]
)
def test_one_predict_call_per_refit_run(fb, refit_every, sizes):
    model = Linear()
    run(fb, model.fns(), window=8, horizon=1, n_origins=25, refit_every=refit_every)
    assert [len(x) for x in model.predicts] == sizes
    assert len(model.fits) == len(sizes)
    assert model.fits[0]["warm"] is None
    assert [f["warm"]["n"] for f in model.fits[1:]] == list(range(1, len(sizes)))


# ----------------------------------------------------------------- (c) baselines, MASE


@pytest.fixture
def tiny_prices() -> pd.DataFrame:
    p = np.array([10.0, 12, 11, 13, 15, 14, 16, 18])
    dates = pd.bdate_range("2021-03-01", periods=len(p))
    frame = pd.DataFrame({c: p for c in PRICE_COLUMNS}, index=dates)
    frame["volume"] = 1000.0
    return frame


def test_baselines_match_hand_computed_values(tiny_prices):
    frame = run(tiny_prices, None, window=2, horizon=2, n_origins=3, ma_window=3)
    d = tiny_prices.index
    got = frame.set_index(["model", "cutoff", "h"])["predicted"]
    expected = {
        # origin p=15 (row 4), p=14 (row 5), p=16 (row 6; its h=2 lies past the data)
        ("persistence", 4): [15, 15],
        ("persistence", 5): [14, 14],
        ("persistence", 6): [16],
        ("drift", 4): [15 + 5 / 4, 15 + 2 * 5 / 4],
        ("drift", 5): [14 + 4 / 5, 14 + 2 * 4 / 5],
        ("drift", 6): [17],
        ("moving_average", 4): [13, 13],
        ("moving_average", 5): [14, 14],
        ("moving_average", 6): [15],
    }
    for (name, row), values in expected.items():
        for h, value in enumerate(values, start=1):
            assert got[(name, d[row], h)] == pytest.approx(value)
    assert len(frame) == 3 * 5
    actual = frame[frame["model"] == "drift"].set_index(["cutoff", "h"])["actual"]
    assert actual[(d[4], 2)] == 16 and actual[(d[6], 1)] == 18


def test_persistence_mase_is_one_on_its_own_scale(fb):
    frame = run(fb, None, window=5, horizon=1, n_origins=120)
    cut = frame["cutoff"].min()
    span = fb["adj_close"][fb.index >= cut].to_numpy()
    summary = summarize(frame, naive_scale(span))
    assert summary["persistence"]["mase"][0] == pytest.approx(1.0)
    assert np.isnan(summary["persistence"]["directional_accuracy"][0])
    assert set(summary) == set(DEFAULT_BASELINES)


# ----------------------------------------------------------------- (d) strategies


def test_recursive_and_direct_cover_the_same_targets(fb):
    direct = run(fb, Linear().fns(), window=10, horizon=4, n_origins=20, refit_every=8)
    rec_model = Linear()
    recursive = run(
        fb, rec_model.fns(strategy="recursive"), window=10, horizon=4, n_origins=20, refit_every=8
    )
    keys = ["model", "cutoff", "date", "h", "actual"]
    pd.testing.assert_frame_equal(direct[keys], recursive[keys])
    assert all(f["y"].shape[1] == 1 for f in rec_model.fits)
    # Three refit runs, each fed back 4 times: 12 calls of (batch, window, 1).
    assert [len(x) for x in rec_model.predicts] == [8] * 4 + [8] * 4 + [4] * 4


@pytest.mark.parametrize(
    "features",
    [{}, {"target_transform": "level", "inputs": ["adj_close"]}, {"inputs": ["adj_close"]}],
    ids=["logret", "level", "logret-target-level-input"],
)
def test_recursive_with_one_step_equals_direct(fb, features):
    kw = {"window": 10, "horizon": 1, "n_origins": 30, "refit_every": 11, **features}
    direct = run(fb, Linear().fns(), **kw)
    recursive = run(fb, Linear().fns(strategy="recursive"), **kw)
    pd.testing.assert_frame_equal(direct, recursive)


def test_recursive_feeds_its_own_forecasts_back(fb):
    calls: list[np.ndarray] = []

    def predict(state, x):
        calls.append(np.array(x))
        return np.full((len(x), 1), 0.75)

    model = ModelFns("const", lambda *a: None, predict, "recursive")
    frame = run(fb, model, window=6, horizon=3, n_origins=10)
    assert len(calls) == 3
    for before, after in zip(calls, calls[1:], strict=False):
        np.testing.assert_array_equal(after[:, :-1], before[:, 1:])
        assert np.unique(after[:, -1]).size == 1  # the same predicted return everywhere
    # A constant predicted log-return r compounds: p_h = anchor * exp(h * r).
    const = frame[frame["model"] == "const"]
    r = np.log(const["predicted"] / const["anchor"]) / const["h"]
    np.testing.assert_allclose(r, r.iloc[0], rtol=1e-9)


def test_recursive_rejects_multivariate_inputs(fb):
    model = Linear().fns(strategy="recursive")
    with pytest.raises(ValueError, match="recursive strategy needs one input"):
        run(fb, model, window=5, horizon=2, n_origins=5, inputs=["log_return", "log_volume"])
    with pytest.raises(ValueError, match="recursive strategy needs one input"):
        check_strategy("recursive", ["close"], "adj_close")
    with pytest.raises(ValueError, match="unknown strategy"):
        check_strategy("hybrid", ["log_return"], "adj_close")
    check_strategy("direct", ["close", "volume"], "adj_close")


def test_keras_fns_build_one_output_for_recursive(monkeypatch):
    import keras

    variant = VariantConfig(name="rec", cell="gru", units=3, strategy="recursive")
    fns = keras_model_fns(variant, TrainingConfig(epochs=1), window=5, n_features=1, horizon=4)
    assert fns.strategy == "recursive" and fns.outputs(4) == 1
    x = np.random.default_rng(0).uniform(size=(16, 5, 1)).astype("float32")
    y = np.random.default_rng(1).uniform(size=(16, 1)).astype("float32")
    model = fns.fit(x[:12], y[:12], x[12:], y[12:], None)
    assert isinstance(model, keras.Model) and model.output_shape == (None, 1)
    one_batch = fns.predict(model, x)
    assert one_batch.shape == (16, 1) and one_batch.dtype == np.float64
    monkeypatch.setattr(keras_variant, "PREDICT_ON_BATCH_MAX", 4)
    np.testing.assert_allclose(fns.predict(model, x), one_batch, rtol=1e-6)


# ----------------------------------------------------------------- (e) output frame


def test_output_frame_has_real_dates_and_prices(fb):
    frame = run(fb, Linear().fns(), window=10, horizon=3, n_origins=50, step=2)
    assert list(frame.columns) == list(COLUMNS)
    assert pd.api.types.is_datetime64_dtype(frame["cutoff"])
    assert pd.api.types.is_datetime64_dtype(frame["date"])
    assert frame["h"].dtype == np.int64
    for col in ("actual", "predicted", "anchor"):
        assert frame[col].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame["model"])
    assert list(dict.fromkeys(frame["model"])) == ["lin", *DEFAULT_BASELINES]
    assert frame.notna().all().all()

    # Every date is the h-th trading day after its cutoff, strictly later.
    idx = fb.index
    pos_cut, pos_date = idx.get_indexer(frame["cutoff"]), idx.get_indexer(frame["date"])
    assert (pos_cut >= 0).all() and (pos_date >= 0).all()
    assert (pos_date - pos_cut == frame["h"]).all()
    assert (frame["cutoff"] < frame["date"]).all()
    # 25 origins two rows apart, the last one the day before the data end.
    cutoffs = pd.DatetimeIndex(frame["cutoff"].unique())
    assert len(cutoffs) == 25 and cutoffs[-1] == idx[-2]
    assert (np.diff(idx.get_indexer(cutoffs)) == 2).all()

    # Real prices, not scaled values.
    np.testing.assert_array_equal(frame["actual"], fb["adj_close"].loc[frame["date"]])
    np.testing.assert_array_equal(frame["anchor"], fb["adj_close"].loc[frame["cutoff"]])
    ratio = frame["predicted"] / frame["actual"]
    assert ratio.between(0.7, 1.3).all()
    assert frame["predicted"].min() > 100  # FB traded above $140 in this span


# ----------------------------------------------------------------- helpers, summary, errors


def test_origin_rows_and_refit_segments():
    np.testing.assert_array_equal(origin_rows(10, 4), [5, 6, 7, 8])
    np.testing.assert_array_equal(origin_rows(10, 5, step=2), [4, 6, 8])
    with pytest.raises(ValueError, match="cannot hold"):
        origin_rows(10, 10)
    assert refit_segments(5, 0) == [(0, 5)]
    assert refit_segments(5, 2) == [(0, 2), (2, 4), (4, 5)]


def test_summarize_and_best_model(fb):
    frame = run(fb, Linear().fns(), window=10, horizon=3, n_origins=40)
    summary = summarize(frame, insample_scale(fb["adj_close"], frame["cutoff"].min()))
    assert list(summary) == ["lin", *DEFAULT_BASELINES]
    for per_model in summary.values():
        assert list(per_model) == list(METRICS)
        assert all(len(v) == 3 for v in per_model.values())
    best = best_model(summary, "mase", h=2)
    assert summary[best]["mase"][1] == min(m["mase"][1] for m in summary.values())
    toy = {
        "a": {"mase": [np.nan], "directional_accuracy": [0.4]},
        "b": {"mase": [2.0], "directional_accuracy": [0.6]},
    }
    assert best_model(toy) == "b"
    assert best_model(toy, "directional_accuracy") == "b"
    with pytest.raises(ValueError, match="no model"):
        best_model({"a": {"mase": [np.nan]}})


def test_errors_are_clear(fb):
    with pytest.raises(ValueError, match="too few to train"):
        run(fb, Linear().fns(), window=40, horizon=1, n_origins=258)
    with pytest.raises(ValueError, match="baseline"):
        walk_forward(fb, [Linear().fns("drift")])
    with pytest.raises(ValueError, match="unique"):
        walk_forward(fb, [Linear().fns(), Linear().fns()])
    with pytest.raises(ValueError, match="predicted shape"):
        run(
            fb,
            ModelFns("bad", lambda *a: None, lambda s, x: np.zeros((len(x), 1))),
            horizon=2,
            n_origins=5,
        )
    with pytest.raises(ValidationError, match="training_window_length"):
        BacktestConfig(training_window="sliding")


def test_sliding_window_trains_on_the_last_rows_only(fb):
    model = Linear()
    run(
        fb,
        model.fns(),
        window=10,
        horizon=2,
        n_origins=30,
        refit_every=10,
        training_window="sliding",
        training_window_length=100,
    )
    n = 100 - 10 - 2 + 1
    assert [len(f["x"]) for f in model.fits] == [n - round(0.1 * n)] * 3
