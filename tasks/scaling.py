"""One scaler object for inputs and targets, fitted on the training span only."""

from __future__ import annotations

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.preprocessing import MinMaxScaler, StandardScaler


def _make(method: str) -> TransformerMixin:
    if method == "minmax":
        return MinMaxScaler()
    if method == "standard":
        return StandardScaler()
    raise ValueError(f"unknown scaler {method!r} (allowed: minmax, standard)")


class SeriesScaler:
    """Scales model inputs (per column) and targets (one shared column).

    Both scikit-learn scalers are fitted on rows of the training span only, so no
    statistic of the validation or test spans reaches the model. Values outside the
    training range map outside ``[0, 1]`` with ``minmax``; that is why the default
    target is the log-return (see ``FeaturesConfig.target_transform``).

    Args:
        method: ``minmax`` or ``standard``.
    """

    def __init__(self, method: str = "minmax") -> None:
        self.method = method
        self.inputs = _make(method)
        self.targets = _make(method)
        self.fitted = False

    def fit(self, train_inputs: np.ndarray, train_targets: np.ndarray) -> SeriesScaler:
        """Fit on the training span.

        Args:
            train_inputs: Input rows of the training span, shape ``(n, F)``.
            train_targets: Targets of the training origins, shape ``(m, H)``.
        """
        self.inputs.fit(np.asarray(train_inputs, dtype="float64"))
        self.targets.fit(np.asarray(train_targets, dtype="float64").reshape(-1, 1))
        self.fitted = True
        return self

    def transform_inputs(self, values: np.ndarray) -> np.ndarray:
        """Scale input rows ``(n, F)``."""
        return self.inputs.transform(np.asarray(values, dtype="float64"))

    def inverse_inputs(self, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform_inputs`."""
        return self.inputs.inverse_transform(np.asarray(values, dtype="float64"))

    def transform_targets(self, values: np.ndarray) -> np.ndarray:
        """Scale targets of any shape (NaN stays NaN)."""
        v = np.asarray(values, dtype="float64")
        return self.targets.transform(v.reshape(-1, 1)).reshape(v.shape)

    def inverse_targets(self, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform_targets`."""
        v = np.asarray(values, dtype="float64")
        return self.targets.inverse_transform(v.reshape(-1, 1)).reshape(v.shape)

    def state(self) -> dict[str, object]:
        """Return the fitted statistics as plain data (for logging)."""
        keys = ("data_min_", "data_max_") if self.method == "minmax" else ("mean_", "scale_")
        return {
            "method": self.method,
            "inputs": {k: getattr(self.inputs, k).tolist() for k in keys},
            "targets": {k: getattr(self.targets, k).tolist() for k in keys},
        }
