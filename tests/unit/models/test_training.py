"""Training on real FB windows: a NumPy SimpleRNN oracle and seeded, thread-safe determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pricecast.models.recurrent import build_model
from pricecast.models.training import (
    INTER_OP_ENV,
    INTRA_OP_ENV,
    EpochLogger,
    TrainingDiverged,
    fit,
    predict,
    threads_from_env,
)
from pricecast.tasks.dataset import Dataset, build_dataset

WINDOW = 10
N_TRAIN = 192


def _prepared(config, prices, horizon: int) -> Dataset:
    features = config.features.model_copy(update={"window": WINDOW, "horizon": horizon})
    return build_dataset(prices, "FB", features, config.split, config.data.target)


@pytest.fixture(scope="module")
def fb_small(seed_fb_config, _fb_seed_frame):
    """Small real data: the last training windows of FB, all validation and test windows."""
    out = {}
    for horizon in (1, 2):
        d = _prepared(seed_fb_config, _fb_seed_frame, horizon)
        x_train, y_train = d.part("train")
        out[horizon] = {
            "train": (x_train[-N_TRAIN:], y_train[-N_TRAIN:]),
            "val": d.part("val"),
            "test": d.part("test"),
        }
    return out


def numpy_simple_rnn(x: np.ndarray, layers: list[list[np.ndarray]], head: list[np.ndarray]):
    """``h_t = tanh(x_t W_x + h_{t-1} W_h + b)`` per layer, then ``h_T W_d + b_d``."""
    seq = np.asarray(x, dtype="float64")
    for kernel, recurrent, bias in layers:
        w_x, w_h, b = (np.asarray(w, dtype="float64") for w in (kernel, recurrent, bias))
        h = np.zeros((seq.shape[0], w_h.shape[0]))
        states = []
        for t in range(seq.shape[1]):
            h = np.tanh(seq[:, t, :] @ w_x + h @ w_h + b)
            states.append(h)
        seq = np.stack(states, axis=1)
    w_d, b_d = (np.asarray(w, dtype="float64") for w in head)
    return seq[:, -1, :] @ w_d + b_d


@pytest.mark.parametrize(("layers", "horizon"), [(1, 1), (2, 2)], ids=["1-layer", "2-layer"])
def test_trained_simple_rnn_matches_numpy_oracle(fb_small, layers, horizon):
    data = fb_small[horizon]
    model = build_model("rnn", WINDOW, 1, horizon=horizon, units=8, layers=layers, seed=7)
    initial = model.get_weights()
    lines: list[str] = []
    result = fit(
        model,
        *data["train"],
        *data["val"],
        epochs=2,
        batch_size=32,
        seed=7,
        callbacks=[EpochLogger(lines.append, "FB/rnn", 2)],
    )
    assert result.epochs_run == 2
    assert result.samples == N_TRAIN
    assert result.best_epoch == int(np.argmin(result.history["val_loss"])) + 1
    assert set(result.history) >= {"loss", "val_loss", "learning_rate"}
    assert [line.split(" loss=")[0] for line in lines] == ["FB/rnn epoch 1/2", "FB/rnn epoch 2/2"]
    assert all("val_loss=" in line for line in lines)
    # Training moved every weight array away from its initial value.
    trained = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(initial, trained, strict=True))

    recurrent = [model.get_layer(f"rnn_{i}").get_weights() for i in range(layers)]
    head = model.get_layer("forecast").get_weights()
    assert [w.shape for w in recurrent[0]] == [(1, 8), (8, 8), (8,)]
    x = np.concatenate([data["val"][0], data["test"][0]])
    expected = numpy_simple_rnn(x, recurrent, head)
    assert expected.shape == (len(x), horizon)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(predict(model, x), expected, rtol=0, atol=1e-5)


def _train(data, seed: int, cell: str = "gru", batch: int = 32, **compiled):
    model = build_model(cell, WINDOW, 1, units=8, seed=seed, **compiled)
    result = fit(model, *data["train"], *data["val"], epochs=2, batch_size=batch, seed=seed)
    return result.history, model.get_weights()


def test_same_seed_same_history_sequential_and_in_threads(fb_small):
    data = fb_small[1]
    first, weights = _train(data, seed=3)
    second, weights2 = _train(data, seed=3)
    assert second == first  # exact, every epoch
    for a, b in zip(weights, weights2, strict=True):
        np.testing.assert_array_equal(a, b)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: _train(data, seed=3), range(2)))
    for history, final in runs:
        assert history == first
        for a, b in zip(weights, final, strict=True):
            np.testing.assert_array_equal(a, b)

    other, _ = _train(data, seed=4)
    assert other["loss"] != first["loss"]  # the comparison can tell runs apart


def test_xla_and_steps_per_execution_train_reproducibly(fb_small):
    data = fb_small[1]
    fast = {"jit_compile": True, "steps_per_execution": 16, "batch": 64}
    first, weights = _train(data, seed=3, cell="lstm", **fast)
    second, weights2 = _train(data, seed=3, cell="lstm", **fast)
    assert second == first
    for a, b in zip(weights, weights2, strict=True):
        np.testing.assert_array_equal(a, b)
    # Several batches per call run the same steps: the same numbers as one per call.
    one_per_call, weights3 = _train(data, seed=3, cell="lstm", batch=64)
    stepped, weights4 = _train(data, seed=3, cell="lstm", batch=64, steps_per_execution=16)
    assert stepped == one_per_call
    for a, b in zip(weights3, weights4, strict=True):
        np.testing.assert_array_equal(a, b)


def test_nan_loss_raises_training_diverged(fb_small):
    x_train, y_train = fb_small[1]["train"]
    y_bad = y_train.copy()
    y_bad[5] = np.nan
    model = build_model("rnn", WINDOW, 1, units=4, seed=0)
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        fit(model, x_train, y_bad, *fb_small[1]["val"], epochs=2, batch_size=32)


def test_predict_empty_input():
    model = build_model("gru", WINDOW, 1, horizon=3, units=4)
    out = predict(model, np.zeros((0, WINDOW, 1), dtype="float32"))
    assert out.shape == (0, 3)


def test_the_entry_point_sizes_tensorflow_thread_pools_from_the_environment():
    probe = (
        "import tensorflow as tf\n"
        "from pricecast.models.training import seed_process\n"
        "seed_process(1)\n"
        "tf.constant(1.0) + 1\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    env = {**os.environ, INTRA_OP_ENV: "1", INTER_OP_ENV: "2"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "2"]


def test_thread_sizes_from_the_environment(monkeypatch):
    monkeypatch.delenv(INTRA_OP_ENV, raising=False)
    monkeypatch.setenv(INTER_OP_ENV, "3")
    assert threads_from_env() == (0, 3)
    monkeypatch.setenv(INTRA_OP_ENV, "two")
    with pytest.raises(ValueError, match=f"{INTRA_OP_ENV} must be a whole number.*'two'"):
        threads_from_env()
