"""predict_shared: the model's own predictions, one trace per architecture."""

from __future__ import annotations

import keras
import numpy as np

from pricecast.models.inference import _forward, predict_shared
from pricecast.models.recurrent import build_model

WINDOW, FEATURES, HORIZON = 6, 2, 3


def _saved_and_loaded(seed: int, tmp_path) -> keras.Model:
    """A model as a night gets it: built, saved as .keras and loaded back (no compile)."""
    model = build_model("gru", WINDOW, FEATURES, HORIZON, units=4, layers=2, dropout=0.2, seed=seed)
    path = tmp_path / f"m{seed}.keras"
    model.save(path)
    return keras.models.load_model(path, compile=False, safe_mode=True)


def test_same_outputs_as_predict_with_one_trace_per_architecture(tmp_path):
    first, second = _saved_and_loaded(1, tmp_path), _saved_and_loaded(2, tmp_path)
    x = np.random.default_rng(0).random((5, WINDOW, FEATURES)).astype("float32")

    a, b = predict_shared(first, x), predict_shared(second, x)

    assert a.dtype == np.float64 and a.shape == (5, HORIZON)
    np.testing.assert_array_equal(a, first.predict(x, verbose=0))
    np.testing.assert_array_equal(b, second.predict(x, verbose=0))
    assert not np.allclose(a, b)  # each model's own weights, not the first one's
    forward = _forward(first)
    assert _forward(second) is forward
    assert forward.experimental_get_tracing_count() == 1
    # Batched like predict: the rows do not depend on how they were cut.
    np.testing.assert_array_equal(predict_shared(second, x, batch_size=2), b)
    assert predict_shared(first, x[:0]).shape == (0, HORIZON)
