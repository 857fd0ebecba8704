"""MLflow's Keras callback as a variant's training uses it.

Kept apart from ``runs.py`` because it subclasses a Keras callback: importing it loads
Keras, which only a process that trains needs (``runs.epoch_callback`` imports it then).
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.keras import MlflowCallback


class EpochCallback(MlflowCallback):
    """MLflow's Keras callback, less what would mislead in the run's charts or slow it down.

    MLflow's own ``on_train_begin`` logs the optimizer's settings and the model summary.
    Per epoch, ``loss``, ``val_loss`` and ``learning_rate`` go to the active run of the
    thread that trains (see :func:`variant_run`) with the epoch as step. Three things
    differ from MLflow's: the values are logged synchronously (its asynchronous queue
    makes ending every run wait about a second for the flush), non-finite values are
    left out (a diverged epoch's NaN loss would flatten the chart; the run's ``error``
    tag says what happened), and the ``validation_*`` copies of ``val_*`` without a step
    are not logged.
    """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        finite = {k: float(v) for k, v in (logs or {}).items() if np.isfinite(v)}
        if self.log_every_epoch and finite:
            mlflow.log_metrics(finite, step=epoch, synchronous=True)

    def on_test_end(self, logs: dict | None = None) -> None:  # noqa: D102
        return None
