"""Compiled twins that train in a model's place, so each shape is traced once per process.

Keras traces a model's train and validation steps into TensorFlow graphs the first time
it fits, and the graphs belong to that model object. A run fits many models of the same
shape (every ticker's variant, the backtest's refits, the registered and production
refits), each of which would trace again: for a 20-epoch fit of 1,000 windows that costs
about as much as the epochs. :func:`lease` lends a compiled twin of the same architecture
and compile settings instead, loads the model's full state into it (every variable,
seed-generator states included, and the optimizer's slots, iteration and learning rate),
and after training writes the twin's state back into the model. The model ends exactly
as if it had trained itself; the twin goes back to the pool with its traced graphs.

Building a twin draws from Python's ``random`` as any new layer does (the state of an
unseeded, unused seed generator), as ``keras.models.clone_model`` always has; every seed
that shapes training is explicit (``build_model``, the shuffling seed).

Only models compiled with a named loss (``"mse"``) are lent a twin: a loss function
object (the quantile models' pinball loss) cannot be told apart from another, so such a
model trains itself, as before.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

MAX_IDLE = 8
"""Idle twins kept per shape (the most that train at once in one process, in practice)."""

_lock = threading.Lock()
_idle: dict[str, list[keras.Model]] = {}
_enabled = [True]


def use_twins(on: bool) -> None:
    """Lend twins (the default) or let every model train itself (to measure the difference)."""
    _enabled[0] = on


def shape_key(model: keras.Model) -> str | None:
    """What a twin must share with ``model``: architecture, dtypes and compile settings.

    ``None`` when the model cannot be lent a twin (not compiled, or a loss object).
    """
    optimizer = getattr(model, "optimizer", None)
    if not _enabled[0] or optimizer is None or not isinstance(getattr(model, "loss", None), str):
        return None
    # The learning rate is state (a plateau lowers it), copied like the weights; the name
    # is made unique per optimizer.
    opt = {k: v for k, v in optimizer.get_config().items() if k not in ("learning_rate", "name")}
    settings = {
        "model": model.get_config(),
        "optimizer": [type(optimizer).__name__, opt],
        "loss": model.loss,
        "jit_compile": str(model.jit_compile),
        "steps_per_execution": model.steps_per_execution,
    }
    return json.dumps(settings, sort_keys=True, default=str)


def _twin(model: keras.Model) -> keras.Model:
    twin = keras.models.clone_model(model)
    optimizer = model.optimizer
    twin.compile(
        optimizer=type(optimizer).from_config(optimizer.get_config()),
        loss=model.loss,
        jit_compile=model.jit_compile,
        steps_per_execution=model.steps_per_execution,
    )
    twin.optimizer.build(twin.trainable_variables)
    return twin


def _copy_state(source: keras.Model, target: keras.Model) -> None:
    """Every variable and optimizer slot of ``source`` into ``target`` (same architecture)."""
    for to, value in zip(target.variables, source.variables, strict=True):
        to.assign(value)
    for to, value in zip(target.optimizer.variables, source.optimizer.variables, strict=True):
        to.assign(value)


@contextmanager
def lease(model: keras.Model) -> Iterator[Any]:
    """Train in ``model``'s place: yields the model to call ``fit`` on.

    Yields ``model`` itself when it cannot be lent a twin. Otherwise the twin holds
    ``model``'s state on entry (an unbuilt optimizer is first built, which gives it a
    fresh optimizer's state), and ``model`` receives the twin's state on exit, also
    when training raised, so that ``model`` always holds what its training left.
    """
    key = shape_key(model)
    if key is None:
        yield model
        return
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    with _lock:
        spare = _idle.get(key)
        twin = spare.pop() if spare else None
    if twin is None:
        twin = _twin(model)
    _copy_state(model, twin)
    try:
        yield twin
    finally:
        _copy_state(twin, model)
        with _lock:
            idle = _idle.setdefault(key, [])
            if len(idle) < MAX_IDLE:
                idle.append(twin)


def idle_twins() -> int:
    """How many twins wait in this process's pool (for tests and benchmarks)."""
    with _lock:
        return sum(len(v) for v in _idle.values())


def clear() -> None:
    """Forget every idle twin (their graphs go with them)."""
    with _lock:
        _idle.clear()
