"""A variant trained once on the pooled windows of several tickers (``training.scope: global``).

The pooled model is the same Keras model a per-ticker variant builds (same inputs, no
ticker embedding): each ticker's windows arrive scaled by its own scaler, so one model
can forecast any of them through the shared forecasting interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.training import FitResult
from pricecast.models.variant import build_variant_model, keras_model_fns, refit
from pricecast.tasks.forecasters import ModelFns
from pricecast.tasks.pooling import Pooled, frozen


@dataclass(frozen=True)
class PooledModel:
    """A variant's model trained on pooled windows, and how the training went.

    Attributes:
        model: The trained Keras model (best validation weights).
        fit: History and timing of the pooled training.
        fns: The model behind :class:`ModelFns`: its first fit hands back this model.
    """

    model: keras.Model
    fit: FitResult
    fns: ModelFns


def train_pooled(
    variant: VariantConfig,
    training: TrainingConfig,
    pooled: Pooled,
    horizon: int,
    *,
    strategy: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    mixed_precision: bool = False,
) -> PooledModel:
    """Build the variant's model and train it once on every ticker's pooled windows.

    Args:
        variant: Cell type and size.
        training: Epochs, batch size, learning rate, patience, seed.
        pooled: The stacked, per-ticker scaled windows.
        horizon: Steps ahead of the forecasts.
        strategy: Overrides ``variant.strategy`` (the test-table model is ``direct``).
        callbacks: Extra Keras callbacks (progress lines, tracking).
        mixed_precision: Build the model in ``mixed_float16``.

    Returns:
        The trained model, its fit and its :class:`ModelFns`.
    """
    _, window, n_features = pooled.x_train.shape
    fns = keras_model_fns(
        variant, training, window, n_features, horizon, strategy=strategy or variant.strategy
    )
    outputs = fns.outputs(horizon)
    model = build_variant_model(variant, training, window, n_features, outputs, mixed_precision)
    arrays = (pooled.x_train, pooled.y_train, pooled.x_val, pooled.y_val)
    result = refit(model, training, arrays, None, None, callbacks=callbacks)
    # Traced here, once: the tickers then predict with it concurrently.
    fns.predict(model, np.asarray(pooled.x_val[:1]))
    return PooledModel(model, result, frozen(variant.name, model, fns.predict, fns.strategy))
