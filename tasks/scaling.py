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

    @classmethod
    def from_state(cls, state: dict[str, object]) -> SeriesScaler:
        """Rebuild a fitted scaler from :meth:`state`'s plain data (no unpickling).

        A model's scaler is stored as these few arrays, so loading a model from a
        store reads numbers and never executes a stored object.

        Raises:
            ValueError: If the data is not a fitted scaler's state (names the field).
        """
        method = state.get("method")
        if method not in ("minmax", "standard"):
            raise ValueError(f"scaler state: method {method!r} is not minmax or standard")
        scaler = cls(str(method))
        for part in ("inputs", "targets"):
            stats = state.get(part)
            if not isinstance(stats, dict):
                raise ValueError(f"scaler state: {part!r} is missing")
            _restore(getattr(scaler, part), str(method), stats, part)
        scaler.fitted = True
        return scaler


def _restore(sk: TransformerMixin, method: str, stats: dict, part: str) -> None:
    """Set a scikit-learn scaler's fitted attributes from its logged statistics."""
    keys = ("data_min_", "data_max_") if method == "minmax" else ("mean_", "scale_")
    try:
        a, b = (np.asarray(stats[k], dtype="float64").reshape(-1) for k in keys)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"scaler state: {part} lacks valid {' and '.join(keys)} ({err})") from None
    if a.shape != b.shape or not a.size or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"scaler state: {part} statistics are empty, unequal or not finite")
    if method == "minmax":
        # Fitting on the two extreme rows reproduces data_min_/data_max_ and the
        # derived scale_/min_ exactly as scikit-learn computes them.
        sk.fit(np.vstack([a, b]))
    else:
        sk.mean_, sk.scale_, sk.var_ = a, b, b**2
        sk.n_features_in_, sk.n_samples_seen_ = a.size, 2
