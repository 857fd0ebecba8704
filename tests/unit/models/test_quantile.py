"""The quantile head's pinball loss and its Keras model."""

from __future__ import annotations

import numpy as np
import pytest

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.quantile import pinball_loss, quantile_model_fns


def test_pinball_loss_equals_a_hand_computation():
    y = np.array([[1.0, 2.0]], dtype="float32")
    # step 1: quantiles 0.1, 0.9 at 0 and 2; step 2: at 3 and 1.
    pred = np.array([[0.0, 2.0, 3.0, 1.0]], dtype="float32")
    got = float(pinball_loss([0.1, 0.9])(y, pred))
    # Errors y - q: +1 at 0.1, -1 at 0.9 (step 1); -1 at 0.1, +1 at 0.9 (step 2).
    by_hand = [0.1 * 1, 0.1 * 1, 0.9 * 1, 0.9 * 1]
    assert got == pytest.approx(np.mean(by_hand))


def test_head_starts_at_the_training_quantiles_and_outputs_each():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5, 1)).astype("float32")
    y = rng.normal(size=(200, 2)).astype("float32")
    fns = quantile_model_fns(
        VariantConfig(name="g", cell="gru", units=2),
        TrainingConfig(epochs=1, batch_size=64, seed=1),
        5,
        1,
        2,
        [0.8],
    )
    assert fns.name == "g_quantile"
    model = fns.fit(x[:150], y[:150], x[150:], y[150:], None)
    out = fns.predict(model, x[:10]).reshape(10, 2, 3)
    assert out.shape == (10, 2, 3)
    # After one epoch from the unconditional quantiles, the ordering still holds.
    assert (np.diff(out.mean(axis=0), axis=1) > 0).all()
