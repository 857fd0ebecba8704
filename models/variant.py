"""Train one configured variant on prepared data and forecast prices with it."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.recurrent import build_model
from pricecast.models.training import FitResult, fit, predict
from pricecast.tasks.dataset import PreparedData
from pricecast.tasks.features import prices_from_targets


def build_variant_model(
    variant: VariantConfig,
    training: TrainingConfig,
    window: int,
    n_features: int,
    outputs: int,
    mixed_precision: bool = False,
) -> keras.Model:
    """Build (seeded) the compiled model a variant describes, with ``outputs`` steps ahead."""
    keras.utils.set_random_seed(training.seed)
    return build_model(
        variant.cell,
        window=window,
        n_features=n_features,
        horizon=outputs,
        units=variant.units,
        layers=variant.layers,
        dropout=variant.dropout,
        bidirectional=variant.bidirectional,
        learning_rate=training.learning_rate,
        seed=training.seed,
        mixed_precision=mixed_precision,
    )


def train_variant(
    data: PreparedData,
    variant: VariantConfig,
    training: TrainingConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
    mixed_precision: bool = False,
) -> tuple[keras.Model, FitResult]:
    """Build the variant's model and train it on the train split (validation for stopping).

    Args:
        data: Prepared windows and scaler of one ticker.
        variant: Cell type and size.
        training: Epochs, batch size, learning rate, patience, seed.
        callbacks: Extra Keras callbacks (progress lines, tracking).
        verbose: Keras verbosity.
        mixed_precision: Build the model in ``mixed_float16`` (see ``build_model``).

    Returns:
        The trained model (best validation weights) and the fit result.
    """
    model = build_variant_model(
        variant, training, data.window, len(data.features), data.horizon, mixed_precision
    )
    x_train, y_train = data.part("train")
    x_val, y_val = data.part("val")
    result = fit(
        model,
        x_train,
        y_train,
        x_val,
        y_val,
        epochs=training.epochs,
        batch_size=training.batch_size,
        patience=training.patience,
        reduce_lr_patience=training.reduce_lr_patience,
        seed=training.seed,
        callbacks=callbacks,
        verbose=verbose,
    )
    return model, result


def forecast_prices(model: keras.Model, data: PreparedData, split: str = "test") -> np.ndarray:
    """Forecast prices ``(n, H)`` for every origin of a split (inverse-scaled)."""
    x, _ = data.part(split)
    scaled = predict(model, x)
    return prices_from_targets(
        data.scaler.inverse_targets(scaled), data.anchors(split), data.transform
    )
