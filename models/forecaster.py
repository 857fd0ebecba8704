"""A trained model with everything needed to forecast from raw prices.

:class:`Forecaster` bundles the Keras model, the fitted scaler and the window logic
(inputs, window length, target transform). It takes a frame of recent prices and returns
prices — never scaled values — for the next sessions of its exchange. The MLflow pyfunc registered
as a ticker's champion wraps one (see ``flows/tracking.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import keras
import numpy as np
import pandas as pd

from pricecast.models.inference import predict_shared
from pricecast.tasks.calendar import next_sessions
from pricecast.tasks.features import input_frame, prices_from_targets
from pricecast.tasks.intervals import ewma_volatility, shifted
from pricecast.tasks.scaling import SeriesScaler
from pricecast.tasks.series import next_dates
from pricecast.tasks.validate import at
from pricecast.tasks.windows import windows


@dataclass(frozen=True)
class ForecastSpec:
    """How raw prices become model inputs and model outputs become prices.

    Attributes:
        ticker: The symbol the model was trained on.
        target: Target price column.
        inputs: Input column names (see ``tasks.features.input_frame``).
        window: Lookback length.
        horizon: Steps the model outputs.
        transform: ``log_return``, ``level`` or ``diff``.
        variant: Variant name.
        trained_until: Last date of the data the model was fitted on (ISO date).
        calendar: Exchange calendar whose sessions the forecasts target (prices).
        frequency: Pandas offset alias of a generic series' dates, or ``steps:<interval>``
            for integer steps (``None``: prices, which follow ``calendar``).
        bands: Residual quantiles per bound column (``lower_80``, ...) and step ahead,
            from the validation span the model did not train on (``None``: no bands).
        relative: The quantiles are log ratios (prices), not differences.
        volatility_halflife: The quantiles are of residuals over the EWMA volatility
            of one-step moves (this half-life) at their origin; a band multiplies them
            by the volatility at its own origin (``None``: plain residuals).
    """

    ticker: str
    target: str
    inputs: list[str]
    window: int
    horizon: int
    transform: str
    variant: str
    trained_until: str
    calendar: str = "XNYS"
    frequency: str | None = None
    bands: dict[str, list[float]] | None = None
    relative: bool = True
    volatility_halflife: float | None = None

    def to_json(self) -> str:
        """Serialise to JSON."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ForecastSpec:
        """Read from JSON."""
        return cls(**json.loads(text))


class Forecaster:
    """Forecast prices from a price frame with a trained model.

    Args:
        model: The trained Keras model.
        scaler: The scaler fitted on the model's training span.
        spec: Inputs, window, horizon and transform.
    """

    def __init__(self, model: keras.Model, scaler: SeriesScaler, spec: ForecastSpec) -> None:
        self.model, self.scaler, self.spec = model, scaler, spec

    @property
    def min_rows(self) -> int:
        """Price rows needed for one forecast."""
        differenced = {"log_return", "diff"} & set(self.spec.inputs)
        return self.spec.window + (1 if differenced else 0)

    def _inputs(self, prices: pd.DataFrame) -> pd.DataFrame:
        missing = [
            c
            for c in {self.spec.target, *self.spec.inputs} - {"log_return", "log_volume", "diff"}
            if c not in prices.columns
        ]
        if "log_volume" in self.spec.inputs and "volume" not in prices.columns:
            missing.append("volume")
        if missing:
            raise ValueError(f"price frame lacks column(s) {', '.join(sorted(missing))}")
        return input_frame(prices, self.spec.inputs, self.spec.target)

    def forecast_at(self, prices: pd.DataFrame, origins: pd.Index) -> np.ndarray:
        """Forecast prices ``(n, H)`` at several origin dates in one batched call.

        Only prices up to each origin are used for that origin's forecast.

        Args:
            prices: Price frame indexed by date (sorted).
            origins: Dates (or integer steps) of the last known price of each forecast.

        Raises:
            ValueError: If an origin lacks ``window`` days of history or is not a date
                of ``prices``.
        """
        feats = self._inputs(prices)
        rows = feats.index.get_indexer(origins)
        if (rows < 0).any():
            bad = origins[rows < 0][0]
            what = "row" if isinstance(bad, int | np.integer) else "trading day"
            raise ValueError(f"origin {at(bad)} is not a {what} of the price frame")
        if (rows < self.spec.window - 1).any():
            raise ValueError(
                f"an origin has fewer than {self.spec.window} days of history before it"
            )
        scaled = self.scaler.transform_inputs(feats.to_numpy(dtype="float64")).astype("float32")
        x = windows(scaled, self.spec.window)[rows - self.spec.window + 1]
        out = self.scaler.inverse_targets(predict_shared(self.model, x))
        anchors = prices[self.spec.target].loc[feats.index[rows]].to_numpy(dtype="float64")
        return prices_from_targets(out, anchors, self.spec.transform)

    def bands(
        self, forecasts: np.ndarray, prices: pd.DataFrame, origins: pd.Index
    ) -> dict[str, np.ndarray]:
        """Bounds around forecasts ``(n, h)`` made at ``origins`` (``{}`` without bands).

        Each step ahead is moved by the residual quantiles the spec keeps for it, scaled
        by the volatility of the prices up to each origin when the spec says so.
        """
        f = np.asarray(forecasts, dtype="float64")
        unit = np.ones((len(f), 1))
        if self.spec.bands and self.spec.volatility_halflife is not None:
            target = prices[self.spec.target]
            vol = ewma_volatility(
                target.to_numpy(dtype="float64"),
                self.spec.relative,
                self.spec.volatility_halflife,
            )
            unit = vol[target.index.get_indexer(origins)][:, None]
        return {
            col: shifted(f, unit * np.asarray(q[: f.shape[1]], "float64"), self.spec.relative)
            for col, q in (self.spec.bands or {}).items()
        }

    def forecast(self, prices: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
        """Forecast the sessions after the last price (the spec's calendar or frequency).

        Args:
            prices: Recent prices indexed by date, at least :attr:`min_rows` rows.
            horizon: Days ahead (default and maximum: the model's horizon).

        Returns:
            A frame with columns ``date`` and ``forecast`` (prices), one row per day
            ahead, then ``lower_80, upper_80, ...`` when the spec keeps bands.

        Raises:
            ValueError: If the frame is too short, lacks a column, or the horizon exceeds
                the model's.
        """
        h = self.spec.horizon if horizon is None else horizon
        if not 1 <= h <= self.spec.horizon:
            raise ValueError(
                f"horizon {h} is outside 1..{self.spec.horizon} (the model forecasts "
                f"{self.spec.horizon} day(s) ahead)"
            )
        if len(prices) < self.min_rows:
            raise ValueError(
                f"{len(prices)} price rows given; the model needs at least {self.min_rows}"
            )
        last = prices.index[-1]
        values = self.forecast_at(prices, prices.index[-1:])[0, :h]
        if self.spec.frequency:
            dates = next_dates(last, h, self.spec.frequency)
        else:
            dates = next_sessions(last, h, self.spec.calendar)
        bands = self.bands(values[None, :], prices, prices.index[-1:])
        bounds = {c: v[0] for c, v in bands.items()}
        return pd.DataFrame({"date": dates, "forecast": values, **bounds})
