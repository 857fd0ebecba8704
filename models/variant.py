"""A configured variant as a Keras model: build, train, and forecast through the shared interface.

:func:`train_variant` trains on a dataset's train split; :func:`keras_model_fns` gives the
variant's windowed fit/predict for the backtest; :func:`variant_forecaster` puts a trained
variant behind the :class:`~pricecast.tasks.forecasters.ForecastModel` interface that the
baselines use, so its test-span forecasts come from the same code as its backtest's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.recurrent import build_model
from pricecast.models.training import FitResult, fit, predict
from pricecast.tasks.dataset import Dataset
from pricecast.tasks.forecasters import Fitted, ForecastModel, ModelFns, WindowSetup, windowed

PREDICT_ON_BATCH_MAX = 4096
"""Largest batch predicted as one ``predict_on_batch`` call (larger: chunked ``predict``)."""


@dataclass(frozen=True)
class TrainedVariant:
    """A variant trained on a dataset's train split.

    Attributes:
        name: The variant's name.
        model: The trained Keras model (best validation weights).
        fit: History and timing of the training.
        forecaster: The variant behind the shared forecasting interface.
        state: Its fitted state: the model and the dataset's scaler.
    """

    name: str
    model: keras.Model
    fit: FitResult
    forecaster: ForecastModel
    state: Fitted


def build_variant_model(
    variant: VariantConfig,
    training: TrainingConfig,
    window: int,
    n_features: int,
    outputs: int,
    mixed_precision: bool = False,
) -> keras.Model:
    """Build the compiled model a variant describes, with ``outputs`` steps ahead.

    Every initialiser and dropout layer is seeded from ``training.seed`` (see
    ``build_model``); process-wide seeding is the entry point's job (``seed_process``).
    """
    return build_model(
        variant.cell,
        window=window,
        n_features=n_features,
        horizon=outputs,
        units=variant.units,
        layers=variant.layers,
        dropout=variant.dropout,
        bidirectional=variant.bidirectional,
        learning_rate=training.scaled_learning_rate,
        seed=training.seed,
        mixed_precision=mixed_precision,
        jit_compile=training.jit_compile,
        steps_per_execution=training.steps_per_execution,
    )


def refit(
    model: keras.Model,
    training: TrainingConfig,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    warm: Any,
    refit_epochs: int | None,
    verbose: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Fit ``model`` on ``(x_train, y_train, x_val, y_val)`` with the run's training rules.

    A first fit (``warm`` is ``None``) runs ``training.epochs``; a warm-started refit of
    the walk-forward runs ``refit_epochs`` when set.

    Returns:
        The history and timing of this fit.
    """
    epochs = training.epochs if warm is None else (refit_epochs or training.epochs)
    return fit(
        model,
        *arrays,
        epochs=epochs,
        batch_size=training.batch_size,
        patience=training.patience,
        reduce_lr_patience=training.reduce_lr_patience,
        seed=training.seed,
        callbacks=callbacks,
        verbose=verbose,
    )


def copy_model(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with its current weights, which later training leaves as they are.

    A warm-started refit keeps training the model it continues; a copy taken before it
    keeps the weights of the fit that came first (to log or register them).
    """
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


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
    strategy: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    fits: list[FitResult] | None = None,
) -> ModelFns:
    """The :class:`ModelFns` of a recurrent variant (``build_model`` + ``fit``).

    The first fit builds a seeded model; a refit continues training the same model,
    i.e. warm-starts from the previous weights, for ``refit_epochs`` epochs. Predictions
    of up to :data:`PREDICT_ON_BATCH_MAX` windows are one ``predict_on_batch`` call.

    Args:
        variant: Cell, size and ``strategy`` (``recursive`` builds a one-output model).
        training: Epochs, batch size, learning rate, patience, seed.
        window: Lookback length.
        n_features: Inputs per time step.
        horizon: Steps ahead.
        refit_epochs: Epochs of a warm-started refit (default ``training.epochs``).
        mixed_precision: Build the model in ``mixed_float16``.
        verbose: Keras verbosity.
        strategy: Overrides ``variant.strategy`` (the main model is always ``direct``).
        callbacks: Keras callbacks of the first fit (progress lines, tracking); the
            refits run without them.
        fits: Receives each fit's :class:`FitResult`, in order: its length is how many
            times the variant trained.
    """
    how = strategy or variant.strategy
    outputs = 1 if how == "recursive" else horizon

    def fit_fn(
        x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, warm: Any
    ) -> keras.Model:
        model = warm
        if model is None:
            model = build_variant_model(
                variant, training, window, n_features, outputs, mixed_precision
            )
        arrays = (x_train, y_train, x_val, y_val)
        first = callbacks if warm is None else ()
        result = refit(model, training, arrays, warm, refit_epochs, verbose, first)
        if fits is not None:
            fits.append(result)
        return model

    def predict_fn(model: keras.Model, x: np.ndarray) -> np.ndarray:
        # One batch: no per-call tf.data pipeline (several times faster for a few
        # hundred origins); very large batches go through the chunked ``predict``.
        if len(x) > PREDICT_ON_BATCH_MAX:
            return predict(model, x)
        return np.asarray(model.predict_on_batch(x), dtype="float64")

    return ModelFns(variant.name, fit_fn, predict_fn, how)  # type: ignore[arg-type]


def variant_forecaster(
    variant: VariantConfig, training: TrainingConfig, data: Dataset
) -> ForecastModel:
    """The variant trained on ``data`` as a ForecastModel (direct, ``data.horizon`` outputs)."""
    fns = keras_model_fns(
        variant, training, data.window, len(data.features), data.horizon, strategy="direct"
    )
    return windowed(fns, WindowSetup(data.window, data.horizon, scaler=data.scaler.method))


def train_variant(
    data: Dataset,
    variant: VariantConfig,
    training: TrainingConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
    mixed_precision: bool = False,
) -> TrainedVariant:
    """Build the variant's model and train it on the train split (validation for stopping).

    Args:
        data: Windows and scaler of one ticker.
        variant: Cell type and size.
        training: Epochs, batch size, learning rate, patience, seed.
        callbacks: Extra Keras callbacks (progress lines, tracking).
        verbose: Keras verbosity.
        mixed_precision: Build the model in ``mixed_float16`` (see ``build_model``).

    Returns:
        The trained variant (best validation weights), ready to forecast.
    """
    model = build_variant_model(
        variant, training, data.window, len(data.features), data.horizon, mixed_precision
    )
    arrays = (*data.part("train"), *data.part("val"))
    result = refit(model, training, arrays, None, None, verbose, callbacks)
    return TrainedVariant(
        variant.name,
        model,
        result,
        variant_forecaster(variant, training, data),
        Fitted(model, data.scaler),
    )
