"""A quantile head: a recurrent variant that outputs quantiles, trained with pinball loss.

The second interval method beside split-conformal: instead of calibrating a point
model's residuals, the network itself outputs, for every step ahead, the quantiles a
band needs (``tasks/quantile_backtest.py`` turns them into prices and bands).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.recurrent import compile_model
from pricecast.models.training import FitResult
from pricecast.models.variant import build_variant_model, refit
from pricecast.tasks.forecasters import ModelFns
from pricecast.tasks.quantile_backtest import quantile_taus


def pinball_loss(taus: Sequence[float]) -> Any:
    """Keras loss: mean pinball loss of ``(n, H * Q)`` outputs against ``(n, H)`` targets.

    Output column ``h * Q + q`` forecasts quantile ``taus[q]`` of step ``h``.
    """
    tau = keras.ops.convert_to_tensor(np.asarray(taus, dtype="float32"))
    n_q = len(taus)

    def loss(y_true: Any, y_pred: Any) -> Any:
        pred = keras.ops.reshape(y_pred, (-1, keras.ops.shape(y_true)[1], n_q))
        err = keras.ops.expand_dims(keras.ops.cast(y_true, pred.dtype), -1) - pred
        return keras.ops.mean(keras.ops.maximum(tau * err, (tau - 1.0) * err))

    return loss


def quantile_model_fns(
    variant: VariantConfig,
    training: TrainingConfig,
    window: int,
    n_features: int,
    horizon: int,
    levels: Sequence[float],
    *,
    refit_epochs: int | None = None,
    fits: list[FitResult] | None = None,
) -> ModelFns:
    """The variant with a ``horizon x Q`` quantile head, as fit/predict on scaled windows.

    ``predict`` returns ``(n, horizon * Q)`` scaled quantiles (see :func:`pinball_loss`);
    the model is named ``<variant>_quantile``. A refit continues training the same model
    for ``refit_epochs`` epochs (default ``training.epochs``), as the variant's does.
    ``fits`` receives each fit's :class:`FitResult` (the head's trainings).
    """
    taus = quantile_taus(levels)

    def fit_fn(x_tr: Any, y_tr: Any, x_val: Any, y_val: Any, warm: Any) -> keras.Model:
        model = warm
        if model is None:
            model = build_variant_model(variant, training, window, n_features, horizon * len(taus))
            compile_model(
                model,
                training.scaled_learning_rate,
                pinball_loss(taus),
                training.jit_compile,
                training.steps_per_execution,
            )
            # Start from the unconditional quantiles of the training targets: the head
            # then learns how they move with the inputs, not where they are (pinball
            # gradients are too small to travel there in a few epochs).
            head = model.layers[-1]
            kernel, bias = head.get_weights()
            start = np.quantile(np.asarray(y_tr, dtype="float64"), taus, axis=0).T.ravel()
            head.set_weights([kernel * 0.1, start.astype(bias.dtype)])
        result = refit(model, training, (x_tr, y_tr, x_val, y_val), warm, refit_epochs)
        if fits is not None:
            fits.append(result)
        return model

    def predict_fn(model: keras.Model, x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(x), dtype="float64")

    return ModelFns(f"{variant.name}_quantile", fit_fn, predict_fn)
