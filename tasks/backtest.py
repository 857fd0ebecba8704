"""Walk-forward backtest over rolling forecast origins (pure: no orchestration, no I/O).

At each origin (cutoff) ``c`` the model forecasts the next ``H`` prices from the lookback
window that ends at ``c``. Models are trained (and the scaler fitted) on rows strictly
before an origin only: once before the first origin (``refit_every: 0``), or again every
``refit_every`` origins, warm-started from the previous weights. Between two refits every
origin is forecast in one batched predict call.

The model is supplied as two callables (:class:`ModelFns`), so the backtest runs with
any forecaster; :func:`keras_model_fns` builds them for a recurrent variant. Baselines
(persistence, drift, moving average) are always forecast on the same origins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from pricecast.configs.schema import (
    BacktestConfig,
    FeaturesConfig,
    TrainingConfig,
    VariantConfig,
)
from pricecast.tasks.baselines import drift, moving_average, persistence
from pricecast.tasks.features import default_inputs, input_frame, prices_from_targets, target_matrix
from pricecast.tasks.metrics import evaluate, naive_scale
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.windows import windows

FitFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any], Any]
"""``fit(x_train, y_train, x_val, y_val, warm_start_state) -> state``.

Windows are scaled ``(n, window, F)`` float32, targets scaled ``(n, H_model)``;
``warm_start_state`` is ``None`` on the first fit and the previous state on a refit.
"""

PredictFn = Callable[[Any, np.ndarray], np.ndarray]
"""``predict(state, x) -> scaled predictions (n, H_model)`` for windows ``x``."""

Strategy = Literal["direct", "recursive"]
BASELINES: tuple[str, ...] = ("persistence", "drift", "moving_average")
COLUMNS: tuple[str, ...] = ("cutoff", "date", "h", "actual", "predicted", "model", "anchor")
"""Columns of :func:`walk_forward`'s frame (``anchor``: the price at the cutoff)."""
PREDICT_ON_BATCH_MAX = 4096
"""Largest batch the Keras default predicts as one batch (larger: chunked ``predict``)."""


@dataclass(frozen=True)
class ModelFns:
    """A forecaster as two callables, so the backtest stays independent of any library.

    Attributes:
        name: Model name in the output (must not be a baseline's name).
        fit: Trains (or warm-starts) and returns the model state, see :data:`FitFn`.
        predict: Scaled predictions of a state, see :data:`PredictFn`.
        strategy: ``direct``: ``predict`` returns ``H`` columns; ``recursive``: it returns
            one column and is fed its own predictions ``H`` times.
    """

    name: str
    fit: FitFn
    predict: PredictFn
    strategy: Strategy = "direct"

    def outputs(self, horizon: int) -> int:
        """Columns the model predicts for a backtest of ``horizon`` steps."""
        return 1 if self.strategy == "recursive" else horizon


@dataclass(frozen=True)
class _Series:
    """One ticker's series in the row space of the model inputs.

    ``full_prices[i + offset]`` is ``prices[i]``: deriving log-returns drops a first row.
    """

    dates: pd.DatetimeIndex
    raw: np.ndarray
    prices: np.ndarray
    full_prices: np.ndarray
    offset: int
    inputs: list[str]
    transform: str


@dataclass(frozen=True)
class _Setup:
    window: int
    horizon: int
    lo_length: int | None
    val_fraction: float
    scaler: str


def origin_rows(n_rows: int, n_origins: int, step: int = 1) -> np.ndarray:
    """Row index of every forecast origin.

    The candidates are the last ``n_origins`` rows that have a next row (so each origin
    has at least its h=1 actual); every ``step``-th is kept, counting back from the last.

    Args:
        n_rows: Rows in the series.
        n_origins: Rows spanned by the origins.
        step: Rows between consecutive origins.

    Returns:
        Sorted row indices.

    Raises:
        ValueError: If the series is shorter than ``n_origins + 1`` rows.
    """
    if n_origins < 1 or step < 1:
        raise ValueError("n_origins and step must be >= 1")
    if n_rows < n_origins + 1:
        raise ValueError(f"{n_rows} rows cannot hold {n_origins} origins and a next day")
    candidates = np.arange(n_rows - 1 - n_origins, n_rows - 1)
    return candidates[(len(candidates) - 1) % step :: step]


def refit_segments(n: int, refit_every: int) -> list[tuple[int, int]]:
    """Split ``n`` origins into ``[start, stop)`` runs that share one fitted model.

    ``refit_every = 0`` gives one run (train once); otherwise a new run starts every
    ``refit_every`` origins.
    """
    if refit_every < 0:
        raise ValueError("refit_every must be >= 0")
    size = n if refit_every == 0 else refit_every
    return [(i, min(i + size, n)) for i in range(0, n, max(size, 1))]


def check_strategy(strategy: str, inputs: Sequence[str], target: str) -> None:
    """Reject a recursive strategy whose inputs cannot be rebuilt from its own forecasts.

    Recursive forecasting feeds the predicted value back as the next input, which works
    for one input that is the target price itself or its log-return.

    Raises:
        ValueError: For an unknown strategy, or a recursive one with other inputs.
    """
    if strategy not in ("direct", "recursive"):
        raise ValueError(f"unknown strategy {strategy!r} (allowed: direct, recursive)")
    if strategy == "recursive" and list(inputs) not in (["log_return"], [target]):
        raise ValueError(
            f"the recursive strategy needs one input, the target {target!r} or "
            f"'log_return' (got {list(inputs)}): a model cannot forecast the other inputs "
            f"it would be fed; use strategy 'direct' for multivariate inputs"
        )


def _series(prices: pd.DataFrame, features: FeaturesConfig, target: str) -> _Series:
    inputs = list(features.inputs or default_inputs(target, features.target_transform))
    frame = input_frame(prices, inputs, target)
    full = prices[target].to_numpy(dtype="float64")
    offset = len(prices) - len(frame)
    return _Series(
        dates=pd.DatetimeIndex(frame.index),
        raw=frame.to_numpy(dtype="float64"),
        prices=full[offset:],
        full_prices=full,
        offset=offset,
        inputs=inputs,
        transform=features.target_transform,
    )


def _training_set(
    series: _Series, cutoff: int, setup: _Setup, outputs: int
) -> tuple[SeriesScaler, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Scaler and scaled ``(x_train, y_train, x_val, y_val)`` from rows before ``cutoff``.

    Only the slice of rows ``[lo, cutoff)`` is read (``lo`` = 0 or the start of the
    sliding window), so nothing from the cutoff onwards can reach the fit.

    Raises:
        ValueError: If the rows before the cutoff hold fewer than two samples.
    """
    lo = 0 if setup.lo_length is None else max(0, cutoff - setup.lo_length)
    raw, p = series.raw[lo:cutoff], series.prices[lo:cutoff]
    w = setup.window
    n = len(raw) - w - outputs + 1
    if n < 2:
        raise ValueError(
            f"origin {series.dates[cutoff]:%Y-%m-%d}: {len(raw)} rows before it are too few "
            f"to train (window {w} + {outputs} target(s) + 1 needs at least "
            f"{w + outputs + 1}); use fewer origins or a longer series"
        )
    y_raw = target_matrix(p, outputs, series.transform)[w - 1 : w - 1 + n]
    scaler = SeriesScaler(setup.scaler).fit(raw, y_raw)
    x = windows(scaler.transform_inputs(raw).astype("float32"), w)[:n]
    y = scaler.transform_targets(y_raw).astype("float32")
    n_val = min(n - 1, max(1, int(round(setup.val_fraction * n))))
    return scaler, (x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:])


def _origin_windows(
    series: _Series, scaler: SeriesScaler, origins: np.ndarray, window: int
) -> np.ndarray:
    """Scaled lookback windows ``(n, window, F)`` ending at each origin."""
    scaled = scaler.transform_inputs(series.raw[: origins[-1] + 1]).astype("float32")
    return windows(scaled, window)[origins - window + 1]


def _checked(pred: np.ndarray, n: int, outputs: int, name: str) -> np.ndarray:
    out = np.asarray(pred, dtype="float64")
    if out.shape != (n, outputs):
        raise ValueError(f"model {name!r} predicted shape {out.shape}, expected {(n, outputs)}")
    return out


def _forecast_direct(
    model: ModelFns,
    state: Any,
    scaler: SeriesScaler,
    series: _Series,
    origins: np.ndarray,
    setup: _Setup,
) -> np.ndarray:
    """Prices ``(n, H)`` at the origins from one batched predict call."""
    x = _origin_windows(series, scaler, origins, setup.window)
    scaled = _checked(model.predict(state, x), len(origins), setup.horizon, model.name)
    values = scaler.inverse_targets(scaled)
    return prices_from_targets(values, series.prices[origins], series.transform)


def _forecast_recursive(
    model: ModelFns,
    state: Any,
    scaler: SeriesScaler,
    series: _Series,
    origins: np.ndarray,
    setup: _Setup,
) -> np.ndarray:
    """Prices ``(n, H)`` from a one-step model fed its own forecasts (``H`` batched calls).

    Each step's forecast becomes a price; the next input is that price's log-return
    (``log_return`` input) or the price itself (level input), scaled by the input scaler.
    """
    x = np.array(_origin_windows(series, scaler, origins, setup.window))
    prev = series.prices[origins]
    path = []
    for _ in range(setup.horizon):
        scaled = _checked(model.predict(state, x), len(origins), 1, model.name)
        value = scaler.inverse_targets(scaled)
        price = prices_from_targets(value, prev, series.transform)[:, 0]
        fed = np.log(price / prev) if series.inputs == ["log_return"] else price
        nxt = scaler.transform_inputs(fed[:, None]).astype("float32")
        x = np.concatenate([x[:, 1:], nxt[:, None, :]], axis=1)
        path.append(price)
        prev = price
    return np.stack(path, axis=1)


def _model_forecasts(
    model: ModelFns, series: _Series, origins: np.ndarray, setup: _Setup, refit_every: int
) -> np.ndarray:
    """Fit at the start of each refit run and forecast that run's origins in one batch."""
    forecast = _forecast_recursive if model.strategy == "recursive" else _forecast_direct
    outputs = model.outputs(setup.horizon)
    state: Any = None
    parts = []
    for start, stop in refit_segments(len(origins), refit_every):
        scaler, (x_tr, y_tr, x_val, y_val) = _training_set(
            series, int(origins[start]), setup, outputs
        )
        state = model.fit(x_tr, y_tr, x_val, y_val, state)
        parts.append(forecast(model, state, scaler, series, origins[start:stop], setup))
    return np.concatenate(parts, axis=0)


def _baseline_forecasts(
    series: _Series, origins: np.ndarray, horizon: int, ma_window: int
) -> dict[str, np.ndarray]:
    """Persistence, drift and moving-average prices ``(n, H)`` at the origins.

    Drift's slope runs from the first price of the series to the origin; the moving
    average covers the ``ma_window`` prices up to the origin.
    """
    full = origins + series.offset
    p = series.full_prices
    return {
        "persistence": persistence(p[full], horizon),
        "drift": drift(p, full, horizon),
        "moving_average": moving_average(p, full, horizon, ma_window),
    }


def _long_frame(
    series: _Series, origins: np.ndarray, forecasts: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """Stack forecasts ``(n, H)`` per model into the long :data:`COLUMNS` frame.

    Targets past the last row of the series have no date and are left out.
    """
    horizon = next(iter(forecasts.values())).shape[1]
    rows = origins[:, None] + np.arange(1, horizon + 1)
    keep = rows < len(series.prices)
    cut = np.broadcast_to(origins[:, None], rows.shape)[keep]
    tgt = rows[keep]
    base = {
        "cutoff": series.dates[cut].to_numpy(),
        "date": series.dates[tgt].to_numpy(),
        "h": np.broadcast_to(np.arange(1, horizon + 1), rows.shape)[keep].astype("int64"),
        "actual": series.prices[tgt],
    }
    parts = [
        pd.DataFrame(
            {
                **base,
                "predicted": np.asarray(pred, dtype="float64")[keep],
                "model": name,
                "anchor": series.prices[cut],
            }
        )
        for name, pred in forecasts.items()
    ]
    return pd.concat(parts, ignore_index=True)[list(COLUMNS)]


def walk_forward(
    prices: pd.DataFrame,
    models: Sequence[ModelFns] = (),
    *,
    features: FeaturesConfig | None = None,
    backtest: BacktestConfig | None = None,
    target: str = "adj_close",
) -> pd.DataFrame:
    """Backtest forecasters and the baselines over rolling origins.

    For each model, the rows strictly before an origin make its training set (the last
    ``val_fraction`` of the samples for validation) and fit its scaler. With
    ``refit_every: 0`` one fit before the first origin serves every origin, and all
    origins are forecast in one batched call; otherwise the scaler is refitted and the
    model warm-started (its previous state is passed to ``fit``) every ``refit_every``
    origins, and each run of origins between refits is forecast in one batched call.

    Args:
        prices: Validated price frame indexed by trading date.
        models: Forecasters to backtest (none: baselines only).
        features: Window, horizon, inputs, target transform and scaler.
        backtest: Origins, training window, refits and the moving-average window.
        target: Target price column.

    Returns:
        A long frame with :data:`COLUMNS`: one row per model, cutoff and step ahead
        ``h`` whose target date lies in the series; prices are real (not scaled) and
        ``anchor`` is the price at the cutoff. Models come first, then the baselines.

    Raises:
        ValueError: For a model named like a baseline or named twice, a recursive model
            with unsuitable inputs, or too few rows before the first origin.
    """
    features = features or FeaturesConfig()
    backtest = backtest or BacktestConfig()
    series = _series(prices, features, target)
    names = [m.name for m in models]
    clash = sorted(set(names) & set(BASELINES)) or sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"model names must be unique and not a baseline's: {', '.join(clash)}")
    for m in models:
        check_strategy(m.strategy, series.inputs, target)
    origins = origin_rows(len(series.prices), backtest.n_origins, backtest.step)
    setup = _Setup(
        window=features.window,
        horizon=features.horizon,
        lo_length=(
            backtest.training_window_length if backtest.training_window == "sliding" else None
        ),
        val_fraction=backtest.val_fraction,
        scaler=features.scaler,
    )
    forecasts = {
        m.name: _model_forecasts(m, series, origins, setup, backtest.refit_every) for m in models
    }
    forecasts.update(_baseline_forecasts(series, origins, features.horizon, backtest.ma_window))
    return _long_frame(series, origins, forecasts)


def insample_scale(prices: pd.Series, until: pd.Timestamp, lag: int = 1) -> float:
    """MASE denominator from the prices known at ``until`` (dates up to and including it).

    Args:
        prices: Target prices indexed by date.
        until: Last date used, e.g. the first cutoff of a backtest.
        lag: Persistence lag.
    """
    return naive_scale(prices.loc[prices.index <= until].to_numpy(dtype="float64"), lag)


def summarize(frame: pd.DataFrame, scale: float) -> dict[str, dict[str, list[float]]]:
    """Metrics per model and per step ahead.

    Args:
        frame: Output of :func:`walk_forward`.
        scale: MASE denominator (e.g. :func:`insample_scale` at the first cutoff).

    Returns:
        ``{model: {metric: [h=1, h=2, ...]}}`` for every metric of
        :data:`pricecast.tasks.metrics.METRICS`.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for (model, _h), part in frame.sort_values("h").groupby(["model", "h"], sort=False):
        scores = evaluate(part["actual"], part["predicted"], part["anchor"], scale)
        per_model = out.setdefault(str(model), {})
        for metric, value in scores.items():
            per_model.setdefault(metric, []).append(value)
    order = list(dict.fromkeys(frame["model"]))
    return {name: out[name] for name in order}


def champion(
    summary: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "mase", h: int = 1
) -> str:
    """The model (baselines included) with the best ``metric`` at step ``h``.

    Lowest wins, except for ``directional_accuracy`` where highest wins; NaN never wins.

    Raises:
        ValueError: If no model has a finite value.
    """
    values = {name: float(m[metric][h - 1]) for name, m in summary.items()}
    finite = {k: v for k, v in values.items() if np.isfinite(v)}
    if not finite:
        raise ValueError(f"no model has a finite {metric} at h={h}")
    pick = max if metric == "directional_accuracy" else min
    return pick(finite, key=finite.__getitem__)


def keras_model_fns(
    variant: VariantConfig,
    training: TrainingConfig,
    window: int,
    n_features: int,
    horizon: int,
    *,
    refit_epochs: int | None = None,
    mixed_precision: bool = False,
    verbose: int = 0,
) -> ModelFns:
    """Default :class:`ModelFns` of a recurrent variant (``build_model`` + ``fit``).

    The first fit builds a seeded model; a refit continues training the same model,
    i.e. warm-starts from the previous weights, for ``refit_epochs`` epochs. Predictions
    of up to :data:`PREDICT_ON_BATCH_MAX` windows are one ``predict_on_batch`` call.

    Args:
        variant: Cell, size and ``strategy`` (``recursive`` builds a one-output model).
        training: Epochs, batch size, learning rate, patience, seed.
        window: Lookback length.
        n_features: Inputs per time step.
        horizon: Steps ahead of the backtest.
        refit_epochs: Epochs of a warm-started refit (default ``training.epochs``).
        mixed_precision: Build the model in ``mixed_float16``.
        verbose: Keras verbosity.
    """
    import keras

    from pricecast.models.training import fit, predict
    from pricecast.models.variant import build_variant_model

    outputs = 1 if variant.strategy == "recursive" else horizon

    def fit_fn(
        x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, warm: Any
    ) -> keras.Model:
        model = warm
        if model is None:
            model = build_variant_model(
                variant, training, window, n_features, outputs, mixed_precision
            )
        epochs = training.epochs if warm is None else (refit_epochs or training.epochs)
        fit(
            model,
            x_train,
            y_train,
            x_val,
            y_val,
            epochs=epochs,
            batch_size=training.batch_size,
            patience=training.patience,
            reduce_lr_patience=training.reduce_lr_patience,
            seed=training.seed,
            verbose=verbose,
        )
        return model

    def predict_fn(model: keras.Model, x: np.ndarray) -> np.ndarray:
        # One batch: no per-call tf.data pipeline (several times faster for a few
        # hundred origins); very large batches go through the chunked ``predict``.
        if len(x) > PREDICT_ON_BATCH_MAX:
            return predict(model, x)
        return np.asarray(model.predict_on_batch(x), dtype="float64")

    return ModelFns(variant.name, fit_fn, predict_fn, variant.strategy)
