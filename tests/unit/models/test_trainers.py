"""Compiled twins: later fits of a shape reuse traced steps and end exactly as a lone fit."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pricecast.models import trainers
from pricecast.models.quantile import pinball_loss
from pricecast.models.recurrent import build_model, compile_model
from pricecast.models.training import fit
from pricecast.tasks.dataset import build_dataset


@pytest.fixture(scope="module")
def fb_parts(seed_fb_config, _fb_seed_frame):
    """Real FB windows (window 10): a longer and a shorter training set, one validation set."""
    features = seed_fb_config.features.model_copy(update={"window": 10})
    data = build_dataset(_fb_seed_frame, "FB", features, seed_fb_config.split, "close")
    x, y = data.part("train")
    x_val, y_val = data.part("val")
    return (x[-300:], y[-300:], x_val, y_val), (x[-200:], y[-200:], x_val, y_val)


@pytest.fixture
def pool():
    trainers.clear()
    yield
    trainers.use_twins(True)
    trainers.clear()


def _state(model: keras.Model) -> list[np.ndarray]:
    values = [*model.variables, *model.optimizer.variables]
    return [np.asarray(v) for v in values]


def _three_fits(parts, jit: bool) -> list[list[np.ndarray]]:
    """A fit, a fit on other rows, a warm refit of the second (as the walk-forward does)."""
    long, short = parts
    states = []
    # A layer's unused, unseeded seed generator draws its state from Python's random when
    # built; cloning a twin draws too. Reseeding before each build keeps those equal.
    keras.utils.set_random_seed(11)
    first = build_model(
        "gru", 10, 1, 1, 8, dropout=0.2, seed=3, steps_per_execution=4, jit_compile=jit
    )
    assert first.jit_compile is jit
    fit(first, *long, epochs=3, batch_size=64, seed=5)
    states.append(_state(first))
    keras.utils.set_random_seed(11)
    second = build_model(
        "gru", 10, 1, 1, 8, dropout=0.2, seed=3, steps_per_execution=4, jit_compile=jit
    )
    fit(second, *short, epochs=3, batch_size=64, seed=5)
    states.append(_state(second))
    fit(second, *long, epochs=2, batch_size=64, seed=5)
    states.append(_state(second))
    return states


@pytest.mark.parametrize("jit", [False, True], ids=["traced", "xla"])
def test_fits_in_a_twin_end_as_fits_of_the_model_itself(fb_parts, pool, jit):
    # With XLA (training.jit_compile) the twin also keeps its compiled steps.
    trainers.use_twins(False)
    alone = _three_fits(fb_parts, jit)
    assert trainers.idle_twins() == 0
    trainers.use_twins(True)
    twinned = _three_fits(fb_parts, jit)
    # One twin served all three fits (its steps traced once) ...
    assert trainers.idle_twins() == 1
    # ... and every weight, seed-generator state and optimizer slot (iteration, learning
    # rate, moments) is the same as when each model trained itself.
    for a, b in zip(alone, twinned, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    # The training really moved the weights, and the warm refit continued the optimizer:
    # 3 epochs of 4 batches (200 rows), then 2 of 5 (300 rows).
    assert not np.array_equal(alone[0][0], alone[1][0])
    n_model = len(build_model("gru", 10, 1, 1, 8, dropout=0.2, seed=3).variables)
    assert int(twinned[1][n_model]) == 12 and int(twinned[2][n_model]) == 22


def test_other_shapes_get_their_own_twin_and_loss_objects_none(fb_parts, pool):
    long, _ = fb_parts
    fit(build_model("gru", 10, 1, 1, 8, seed=3), *long, epochs=1, batch_size=64)
    fit(build_model("lstm", 10, 1, 1, 8, seed=3), *long, epochs=1, batch_size=64)
    assert trainers.idle_twins() == 2
    quantile = build_model("lstm", 10, 1, 3, 8, seed=3)
    compile_model(quantile, 1e-3, pinball_loss([0.1, 0.5, 0.9]))
    assert trainers.shape_key(quantile) is None
    fit(quantile, *long, epochs=1, batch_size=64)
    assert trainers.idle_twins() == 2


def test_a_failed_training_still_leaves_its_state_in_the_model(fb_parts, pool):
    long, _ = fb_parts

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("stop here")

    model = build_model("rnn", 10, 1, 1, 8, seed=3)
    before = _state(model)[0].copy()
    with pytest.raises(RuntimeError, match="stop here"):
        fit(model, *long, epochs=3, batch_size=64, callbacks=[Boom()])
    # One epoch ran in the twin, and its weights and optimizer state came back.
    assert not np.array_equal(before, _state(model)[0])
    assert int(model.optimizer.iterations.numpy()) == -(-len(long[0]) // 64)
    assert trainers.idle_twins() == 1
