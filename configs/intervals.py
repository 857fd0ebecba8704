"""The ``intervals`` section: which prediction intervals every forecast carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pricecast.configs.base import Strict


class IntervalsConfig(Strict):
    """Prediction intervals of every model and baseline in the walk-forward backtest.

    By default each level's band is split-conformal: the signed residuals of forecasts
    the model made out of sample (its validation span, then its own matured backtest
    forecasts; a baseline's past forecasts) give the quantiles around the point forecast.
    ``method`` can instead band the learned variants' walk-forward backtest by a
    quantile head; baselines, the test span, the registered model and the nightly
    ledger stay conformal, as the head is trained only inside the backtest.

    Attributes:
        method: ``conformal``; ``quantile``: each learned variant's backtest bands are
            the quantiles of a head of the same configuration trained with pinball loss
            at each refit; ``cqr``: those quantiles conformalised on the head's past
            misses (window and min_residuals as for conformal).
        levels: Nominal coverages of the central intervals, e.g. ``[0.8, 0.95]``.
        window: Latest calibration residuals kept per step ahead (a rolling window, so
            the bands follow volatility as it changes).
        min_residuals: Fewest residuals a band is built from; a forecast with fewer
            behind it gets no band (NaN) rather than a band from a handful of errors.
        volatility_halflife: Scale every residual by the exponentially weighted
            volatility of the one-day moves up to its origin, with this half-life in
            rows (normalised conformal: bands widen as soon as volatility rises);
            ``null``: plain residuals.
    """

    method: Annotated[
        Literal["conformal", "quantile", "cqr"],
        Field(
            title="Interval method",
            description="Bands of the learned variants' backtest: conformal, quantile (a "
            "pinball-trained quantile head) or cqr (its quantiles conformalised); baselines, "
            "the test span, the registered model and the ledger are always conformal",
        ),
    ] = "conformal"
    levels: Annotated[
        list[Annotated[float, Field(gt=0, lt=1)]],
        Field(
            min_length=1,
            max_length=5,
            title="Interval levels",
            description="Nominal coverages of the central intervals, each in (0, 1), "
            "unique and in increasing order, e.g. [0.8, 0.95]",
        ),
    ] = [0.8, 0.95]
    window: Annotated[
        int,
        Field(
            ge=20,
            le=5000,
            title="Calibration window",
            description="Latest out-of-sample residuals per step ahead that calibrate a band",
        ),
    ] = 250
    min_residuals: Annotated[
        int,
        Field(
            ge=2,
            le=1000,
            title="Fewest residuals",
            description="A forecast with fewer calibration residuals behind it gets no band",
        ),
    ] = 20

    volatility_halflife: Annotated[
        float | None,
        Field(
            gt=0,
            le=1000,
            title="Volatility half-life",
            description="Scale residuals by the EWMA volatility of daily moves with this "
            "half-life in rows (null: unscaled residuals)",
        ),
    ] = 10.0

    @field_validator("levels")
    @classmethod
    def _sorted_unique(cls, levels: list[float]) -> list[float]:
        if len(set(levels)) != len(levels) or levels != sorted(levels):
            raise ValueError(f"levels must be unique and in increasing order, got {levels}")
        if len({f"{100 * v:g}" for v in levels}) != len(levels):
            raise ValueError(f"levels {levels} give the same column name twice")
        return levels

    @model_validator(mode="after")
    def _window_holds_min(self) -> IntervalsConfig:
        if self.min_residuals > self.window:
            raise ValueError(
                f"min_residuals {self.min_residuals} exceeds the window of {self.window} "
                "residuals: no band could ever be built"
            )
        return self


def check_interval_method(config: Any) -> None:
    """Refuse an ``intervals.method`` the rest of the run configuration cannot run.

    A quantile head is trained only inside the walk-forward backtest, on a target whose
    per-step quantiles add up to quantiles of the price; the champion guard scores the
    registered model's bands, which are conformal whatever the method.

    Args:
        config: The :class:`~pricecast.configs.schema.RunConfig` being validated.

    Raises:
        ValueError: Naming ``intervals.method`` and what it lacks.
    """
    intervals = config.intervals
    if intervals is None or intervals.method == "conformal":
        return
    method = f"intervals.method '{intervals.method}'"
    if config.backtest is None:
        raise ValueError(f"{method} bands the walk-forward backtest: backtest must not be null")
    if config.features.target_transform == "diff":
        raise ValueError(
            f"{method} needs features.target_transform log_return or level, not diff "
            "(per-step quantiles of differences do not add up to quantiles of the price)"
        )
    if config.champion.metric == "interval_score":
        raise ValueError(
            f"{method} cannot back champion.metric 'interval_score': the guard scores the "
            "registered model's bands, which are conformal"
        )
