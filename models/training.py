"""Training loop: Adam + MSE, early stopping on the validation split, seeded shuffling."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from pricecast.models.trainers import lease

_seed_lock = threading.Lock()
_process_seed: int | None = None


def seed_process(seed: int) -> bool:
    """Seed Python, NumPy, TensorFlow and Keras for this process, once per seed.

    Called by the entry point of whatever process trains (the ``forecast`` flow, a
    ``train`` run on a work pool or a Dask worker), never by a step: the global seed is
    process state, and steps run in worker threads. The first call also sizes
    TensorFlow's thread pools (:func:`threads_from_env`). Each model's initialisers, dropout
    and shuffling also have their own seeds derived from the same value, so concurrent
    training stays reproducible whichever runner spreads it.

    Returns:
        Whether the seed was set now (``False``: this process already had it).
    """
    global _process_seed
    with _seed_lock:
        if _process_seed == seed:
            return False
        if _process_seed is None:
            sizes = threads_from_env()
            if any(sizes) and not configure_threads(*sizes):
                warnings.warn(
                    f"{INTRA_OP_ENV}/{INTER_OP_ENV} not applied: TensorFlow had already "
                    "started in this process",
                    stacklevel=2,
                )
        keras.utils.set_random_seed(seed)
        _process_seed = seed
        return True


INTRA_OP_ENV, INTER_OP_ENV = "FORECAST_INTRA_OP_THREADS", "FORECAST_INTER_OP_THREADS"


def threads_from_env() -> tuple[int, int]:
    """TensorFlow's intra-op and inter-op pool sizes from the environment (``0``: its choice).

    Raises:
        ValueError: If a variable is set to something other than a whole number >= 0.
    """
    sizes = []
    for name in (INTRA_OP_ENV, INTER_OP_ENV):
        raw = os.environ.get(name, "").strip() or "0"
        if not raw.isdigit():
            raise ValueError(
                f"{name} must be a whole number >= 0 (0: TensorFlow's choice), not {raw!r}"
            )
        sizes.append(int(raw))
    return sizes[0], sizes[1]


def configure_threads(intra_op: int, inter_op: int) -> bool:
    """Size TensorFlow's thread pools for this process (``0``: TensorFlow's choice).

    Only possible before TensorFlow's runtime starts (its first operation), so it belongs
    to a process's entry point, before anything trains.

    Returns:
        Whether the sizes were set (``False``: the runtime had already started).
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:
        return False
    return True


class EpochLogger(keras.callbacks.Callback):
    """Reports one line per epoch through a plain function (no progress bar).

    Args:
        log: Receives the line, e.g. a logger's ``info``.
        prefix: Put in front of each line (ticker/variant).
        epochs: Planned epochs, for the ``n/N`` counter.
    """

    def __init__(self, log: Callable[[str], None], prefix: str, epochs: int) -> None:
        super().__init__()
        self.log, self.prefix, self.epochs = log, prefix, epochs
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        logs = logs or {}
        parts = [f"{k}={v:.5g}" for k, v in logs.items() if k in ("loss", "val_loss")]
        self.log(
            f"{self.prefix} epoch {epoch + 1}/{self.epochs} {' '.join(parts)} "
            f"({time.perf_counter() - self._t0:.2f}s)"
        )


class StopWhenSet(keras.callbacks.Callback):
    """Ends training after the current batch once ``event`` is set (e.g. on Ctrl-C).

    Keras checks ``stop_training`` between batches, so a long epoch is not waited out.

    Args:
        event: Set by whoever asks training to stop.
        then: Called once the event is seen, in the training thread, before ``fit``
            returns (e.g. to hold the thread while the process exits, so that nothing
            is logged as if training had completed).
    """

    def __init__(self, event: threading.Event, then: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.event, self.then = event, then

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:  # noqa: D102
        if self.event.is_set():
            self.model.stop_training = True
            if self.then is not None:
                self.then()


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class FitResult:
    """What a training run produced.

    Attributes:
        history: Per-epoch values (``loss``, ``val_loss``, ``learning_rate``).
        epochs_run: Epochs actually run (early stopping may end sooner).
        best_epoch: 1-based epoch whose weights were restored.
        seconds: Wall time of ``fit``.
        samples: Training samples seen per epoch.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    samples: int = 0


def fit(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 32,
    patience: int = 8,
    reduce_lr_patience: int = 4,
    seed: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
) -> FitResult:
    """Train with early stopping (best weights restored) and learning-rate decay.

    Shuffling uses a seeded ``tf.data`` pipeline, so results do not depend on other
    models training at the same time.

    Args:
        model: A compiled model.
        x_train: Training windows ``(n, window, F)``.
        y_train: Training targets ``(n, H)``.
        x_val: Validation windows.
        y_val: Validation targets.
        epochs: Maximum epochs.
        batch_size: Mini-batch size.
        patience: EarlyStopping patience on ``val_loss``.
        reduce_lr_patience: ReduceLROnPlateau patience.
        seed: Shuffling seed.
        callbacks: Extra callbacks (progress, tracking).
        verbose: Keras verbosity (0 silent, 1 bar, 2 one line per epoch).

    Returns:
        The history and timing.

    Raises:
        TrainingDiverged: If the loss became NaN or infinite.
    """
    n = len(x_train)
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(2)
    )
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(max(batch_size, 256))
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    all_callbacks = [
        keras.callbacks.TerminateOnNaN(),
        stopper,
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=reduce_lr_patience, min_lr=1e-5
        ),
        *callbacks,
    ]
    t0 = time.perf_counter()
    with lease(model) as trainer:  # a twin whose steps are traced already, if one waits
        hist = trainer.fit(
            train,
            validation_data=val,
            epochs=epochs,
            callbacks=all_callbacks,
            verbose=verbose,
            shuffle=False,
        )
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    losses = history.get("loss", [])
    if not losses or not np.all(np.isfinite(losses)):
        raise TrainingDiverged(
            f"loss became {losses[-1] if losses else 'undefined'} during training"
        )
    val_losses = history.get("val_loss", [])
    best = int(np.nanargmin(val_losses)) + 1 if val_losses else len(losses)
    return FitResult(history, len(losses), best, seconds, n)


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Predict in large batches; returns float64 ``(n, H)``."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]))
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype="float64")
