"""build_model: shapes, parameter counts, cuDNN eligibility and seeded weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pricecast.configs.schema import TrainingConfig, VariantConfig
from pricecast.models.recurrent import build_model, cudnn_eligible, xla_eligible
from pricecast.models.variant import build_variant_model

WINDOW, FEATURES, HORIZON, UNITS = 6, 2, 3, 4


def _cell_params(cell: str, n_in: int, units: int) -> int:
    """Weights of one Keras recurrent layer (GRU with ``reset_after`` has two biases)."""
    if cell == "rnn":
        return units * (n_in + units + 1)
    if cell == "lstm":
        return 4 * units * (n_in + units + 1)
    return 3 * units * (n_in + units + 2)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_output_shape_and_parameter_count(cell, layers, bidirectional):
    model = build_model(
        cell,
        window=WINDOW,
        n_features=FEATURES,
        horizon=HORIZON,
        units=UNITS,
        layers=layers,
        bidirectional=bidirectional,
        seed=1,
    )
    assert model.input_shape == (None, WINDOW, FEATURES)
    assert model.output_shape == (None, HORIZON)
    out = model(np.random.default_rng(0).normal(size=(5, WINDOW, FEATURES)), training=False)
    assert tuple(out.shape) == (5, HORIZON)
    assert np.isfinite(np.asarray(out)).all()

    directions = 2 if bidirectional else 1
    expected = 0
    n_in = FEATURES
    for _ in range(layers):
        expected += directions * _cell_params(cell, n_in, UNITS)
        n_in = directions * UNITS
    expected += n_in * HORIZON + HORIZON  # dense head
    assert model.count_params() == expected

    recurrent = [
        getattr(layer, "forward_layer", layer)
        for layer in model.layers
        if isinstance(getattr(layer, "forward_layer", layer), keras.layers.RNN)
    ]
    assert len(recurrent) == layers
    # Only the last recurrent layer collapses the sequence.
    assert [r.return_sequences for r in recurrent] == [True] * (layers - 1) + [False]
    assert model.loss == "mse"
    assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_dropout_between_layers():
    model = build_model("gru", WINDOW, FEATURES, units=UNITS, layers=2, dropout=0.25)
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in drops] == [0.25, 0.25]
    assert cudnn_eligible(model)  # dropout between layers keeps the cuDNN kernels


def test_learning_rate_is_used():
    model = build_model("lstm", WINDOW, FEATURES, learning_rate=0.0123)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0123)


def test_compiled_with_xla_and_steps_per_execution():
    model = build_model("lstm", WINDOW, FEATURES, jit_compile=True, steps_per_execution=8)
    assert xla_eligible(model)  # no GPU here: the LSTM has no cuDNN kernel to keep
    assert model.jit_compile is True
    assert model.steps_per_execution == 8
    plain = build_model("lstm", WINDOW, FEATURES)
    assert plain.jit_compile is False and plain.steps_per_execution == 1


def test_variant_model_uses_the_training_settings():
    training = TrainingConfig(
        batch_size=128,
        learning_rate=1e-3,
        jit_compile=True,
        steps_per_execution=4,
        lr_scaling="sqrt",
    )
    variant = VariantConfig(name="gru", cell="gru", units=UNITS, bidirectional=True)
    model = build_variant_model(variant, training, WINDOW, FEATURES, HORIZON)
    assert model.jit_compile is True and model.steps_per_execution == 4
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)  # sqrt(128 / 32)
    assert cudnn_eligible(model)  # XLA on the CPU leaves the layers cuDNN-ready for a GPU


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cudnn_eligible_for_lstm_and_gru_defaults(cell, bidirectional):
    model = build_model(cell, WINDOW, FEATURES, units=UNITS, layers=2, bidirectional=bidirectional)
    assert cudnn_eligible(model) is True


def test_simple_rnn_has_no_cudnn_kernel():
    assert cudnn_eligible(build_model("rnn", WINDOW, FEATURES, units=UNITS)) is False


def test_cudnn_ineligible_settings_are_detected():
    inputs = keras.Input((WINDOW, FEATURES))
    x = keras.layers.LSTM(UNITS, recurrent_dropout=0.1)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    assert cudnn_eligible(model) is False
    inputs = keras.Input((WINDOW, FEATURES))
    x = keras.layers.GRU(UNITS, reset_after=False)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    assert cudnn_eligible(model) is False


def test_unknown_cell_and_bad_sizes():
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        build_model("transformer", WINDOW, FEATURES)
    with pytest.raises(ValueError, match="must be >= 1"):
        build_model("gru", WINDOW, FEATURES, horizon=0)
    with pytest.raises(ValueError, match="must be >= 1"):
        build_model("gru", 0, FEATURES)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_same_seed_same_weights(cell):
    a = build_model(cell, WINDOW, FEATURES, units=UNITS, layers=2, seed=11).get_weights()
    b = build_model(cell, WINDOW, FEATURES, units=UNITS, layers=2, seed=11).get_weights()
    c = build_model(cell, WINDOW, FEATURES, units=UNITS, layers=2, seed=12).get_weights()
    assert len(a) == len(b) == len(c)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    kernels = [i for i, w in enumerate(a) if w.ndim == 2]
    assert any(not np.array_equal(a[i], c[i]) for i in kernels)
    # [kernel, recurrent, bias] per layer: the stacked layers are not initialised alike.
    assert a[1].shape == a[4].shape
    assert not np.array_equal(a[1], a[4])


def test_same_seed_same_weights_regardless_of_global_state():
    a = build_model("gru", WINDOW, FEATURES, units=UNITS, seed=5).get_weights()
    np.random.rand(10)  # advance the global generators
    keras.random.normal((3,))
    b = build_model("gru", WINDOW, FEATURES, units=UNITS, seed=5).get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
