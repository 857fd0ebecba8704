"""The ``live`` section of a config: the nightly loop's calendar, cadence, scores and decay."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from pricecast.configs.base import Strict, repeated


class LiveConfig(Strict):
    """The nightly loop: trading calendar, retraining cadence, live scoring and decay."""

    calendar: Annotated[
        str,
        Field(
            title="Exchange calendar",
            description="exchange_calendars name of the sessions forecasts target (XNYS, ...)",
            pattern=r"^[A-Z0-9]{2,8}$",
        ),
    ] = "XNYS"
    retrain_every: Annotated[
        int,
        Field(
            ge=1,
            le=250,
            title="Retrain every",
            description="Sessions between retrainings; nights in between reuse the models",
        ),
    ] = 5
    score_windows: Annotated[
        list[Annotated[int, Field(ge=1, le=1000)]],
        Field(
            min_length=1,
            json_schema_extra={"uniqueItems": True},
            title="Score windows",
            description="Live scores over the last N matured forecasts, for each N",
        ),
    ] = [20, 60]
    decay_window: Annotated[
        int,
        Field(
            ge=1,
            title="Decay window",
            description="Matured forecasts compared with persistence to detect decay",
        ),
    ] = 20
    decay_margin: Annotated[
        float,
        Field(
            ge=0,
            le=10,
            title="Decay margin",
            description="Retrain when live MASE exceeds persistence's by more than this share",
        ),
    ] = 0.1
    catch_up_limit: Annotated[
        int,
        Field(
            ge=0,
            le=250,
            title="Catch-up limit",
            description="Missed sessions a nightly run backfills, oldest first, before its own",
        ),
    ] = 10
    experiment_suffix: Annotated[
        str,
        Field(
            min_length=1,
            max_length=40,
            pattern=r"^[A-Za-z0-9._-]+$",
            title="Live experiment suffix",
            description="Live scores go to the MLflow experiment <experiment><suffix>",
        ),
    ] = "-live"

    @model_validator(mode="after")
    def _decay_window(self) -> LiveConfig:
        if dupes := repeated([str(n) for n in self.score_windows]):
            raise ValueError(f"score_windows must be unique; repeated: {', '.join(dupes)}")
        if self.decay_window not in self.score_windows:
            raise ValueError(
                f"decay_window ({self.decay_window}) must be one of score_windows "
                f"{self.score_windows}"
            )
        return self
