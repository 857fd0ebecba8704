"""One builder for SimpleRNN, LSTM and GRU forecasters (Keras 3)."""

from __future__ import annotations

from typing import Any

import keras

CELLS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build_model(
    cell: str,
    window: int,
    n_features: int,
    horizon: int = 1,
    units: int = 32,
    layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    learning_rate: float = 1e-3,
    seed: int = 0,
    mixed_precision: bool = False,
    jit_compile: bool = False,
    steps_per_execution: int = 1,
) -> keras.Model:
    """Build and compile a stacked recurrent forecaster with a dense ``horizon`` head.

    LSTM and GRU layers keep the settings under which Keras uses the cuDNN kernels on a
    GPU (tanh/sigmoid, no recurrent dropout, not unrolled, with bias); dropout is
    applied between layers instead. Every initialiser and dropout layer gets its own
    seed derived from ``seed``, so the same seed builds the same model even when
    several models are built at once in different threads.

    Args:
        cell: ``rnn``, ``lstm`` or ``gru``.
        window: Lookback length (time steps).
        n_features: Inputs per time step.
        horizon: Outputs (steps ahead).
        units: Units per recurrent layer.
        layers: Stacked recurrent layers.
        dropout: Dropout rate after each recurrent layer.
        bidirectional: Wrap recurrent layers in ``Bidirectional``.
        learning_rate: Adam learning rate.
        seed: Seed for weights and dropout.
        mixed_precision: Compute the recurrent layers in ``mixed_float16`` (float32
            variables); the output layer stays float32.
        jit_compile: Compile the steps with XLA where every layer supports it (see
            :func:`compile_model`).
        steps_per_execution: Batches per call into TensorFlow.

    Returns:
        A compiled model (Adam, MSE) mapping ``(batch, window, n_features)`` to
        ``(batch, horizon)``.

    Raises:
        ValueError: For an unknown cell or a non-positive size.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r} (allowed: {', '.join(CELLS)})")
    if min(window, n_features, horizon, units, layers) < 1:
        raise ValueError("window, n_features, horizon, units and layers must be >= 1")
    policy = "mixed_float16" if mixed_precision else None
    inputs = keras.Input(shape=(window, n_features), name="window")
    x = inputs
    for i in range(layers):
        base = seed + 100 * i
        layer = CELLS[cell](
            units,
            return_sequences=i < layers - 1,
            kernel_initializer=keras.initializers.GlorotUniform(seed=base),
            recurrent_initializer=keras.initializers.Orthogonal(seed=base + 1),
            name=f"{cell}_{i}",
            dtype=policy,
        )
        if bidirectional:
            x = keras.layers.Bidirectional(layer, name=f"bi_{cell}_{i}", dtype=policy)(x)
        else:
            x = layer(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, seed=base + 2, name=f"dropout_{i}", dtype=policy)(x)
    outputs = keras.layers.Dense(
        horizon,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 10_000),
        dtype="float32",
        name="forecast",
    )(x)
    model = keras.Model(inputs, outputs, name=f"{cell}_forecaster")
    compile_model(model, learning_rate, "mse", jit_compile, steps_per_execution)
    return model


def xla_eligible(model: keras.Model) -> bool:
    """Whether every layer can be compiled with XLA.

    On a GPU, Keras runs a cuDNN-eligible LSTM/GRU on the cuDNN kernel, which XLA cannot
    compile; such a model keeps cuDNN (faster there) and runs without XLA.
    """
    for layer in model.layers:
        inner = [
            layer,
            getattr(layer, "forward_layer", None),
            getattr(layer, "backward_layer", None),
        ]
        if not all(getattr(part, "supports_jit", True) for part in inner if part is not None):
            return False
    return True


def compile_model(
    model: keras.Model,
    learning_rate: float,
    loss: Any,
    jit_compile: bool = False,
    steps_per_execution: int = 1,
) -> None:
    """Compile with Adam and ``loss``; XLA only where :func:`xla_eligible` allows it."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        jit_compile=jit_compile and xla_eligible(model),
        steps_per_execution=steps_per_execution,
    )


def cudnn_eligible(model: keras.Model) -> bool:
    """Whether every LSTM/GRU layer meets the conditions for the cuDNN kernels.

    SimpleRNN has no cuDNN kernel; a model without LSTM/GRU layers returns ``False``.
    """
    found = False
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", layer)
        if isinstance(inner, keras.layers.LSTM | keras.layers.GRU):
            found = True
            ok = (
                inner.activation is keras.activations.tanh
                and inner.recurrent_activation is keras.activations.sigmoid
                and inner.recurrent_dropout == 0
                and not inner.unroll
                and inner.use_bias
                and (not isinstance(inner, keras.layers.GRU) or inner.reset_after)
            )
            if not ok:
                return False
    return found


def devices() -> dict[str, str]:
    """Describe where TensorFlow computes: the GPUs it sees, or the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return {"device": "CPU", "gpu_count": "0"}
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return {"device": "GPU", "gpu_count": str(len(gpus)), "gpu_names": "; ".join(names)}
