"""Prediction that traces one graph per architecture, not one per model object.

Keras traces a predict graph for every model object on its first ``predict`` (a few
tenths of a second for a small recurrent net on a CPU). A night loads one registered
model per ticker, and all of a variant's models share one architecture, so each ticker
paid that tracing again. Here one traced function per architecture serves every model
built from it: the weights go in as arguments (Keras' stateless call), so the outputs
are those of the model's own ``predict``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

_lock = threading.Lock()
_traced: dict[str, Callable[..., tf.Tensor]] = {}
"""One traced forward pass per architecture (the model's config as JSON)."""


_TRAINING_ONLY = ("seed", "_initializer", "_regularizer", "_constraint")
"""Config keys that shape training, not the forward pass (a seed, how weights start)."""


def _inference_config(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: _inference_config(v) for k, v in value.items() if not str(k).endswith(_TRAINING_ONLY)
        }
    if isinstance(value, list | tuple):
        return [_inference_config(v) for v in value]
    return value


def _architecture(model: keras.Model) -> str:
    """A key equal for models whose layers, shapes and dtypes are all the same."""
    return json.dumps(_inference_config(model.get_config()), sort_keys=True, default=str)


def _forward(model: keras.Model) -> Callable[..., tf.Tensor]:
    """The traced inference pass of ``model``'s architecture (traced on first use)."""
    key = _architecture(model)
    with _lock:
        if key not in _traced:
            template = model

            def forward(trainable: list, non_trainable: list, x: tf.Tensor) -> tf.Tensor:
                return template.stateless_call(trainable, non_trainable, x, training=False)[0]

            _traced[key] = tf.function(forward, reduce_retracing=True)
        return _traced[key]


def predict_shared(model: keras.Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Predict like ``model.predict`` (batches of ``batch_size``); returns float64 ``(n, H)``.

    Args:
        model: A built Keras model (loaded or just trained).
        x: Input windows ``(n, window, features)``.
        batch_size: Windows per call, as ``model.predict`` would batch them.
    """
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]))
    forward = _forward(model)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    parts = [
        np.asarray(forward(trainable, non_trainable, tf.constant(x[i : i + batch_size])))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(parts).astype("float64")
