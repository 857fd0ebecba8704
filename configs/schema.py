"""Pydantic models for a run's configuration.

A YAML file in ``configs/`` loads into :class:`RunConfig`; the same model is the typed
parameter of the Prefect ``forecast`` flow, so the Prefect UI renders it as an editable
form (every field titled and described; the sections in the order a user edits them:
tickers and dates, window and horizon, variants, epochs) and rejects bad values with the
field's name.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from pricecast.configs.backtest import BacktestConfig, ChampionConfig
from pricecast.configs.base import ExperimentName, Strict, repeated
from pricecast.configs.data import DERIVED_INPUTS, PRICE_COLUMNS, DataConfig
from pricecast.configs.intervals import IntervalsConfig, check_interval_method
from pricecast.configs.live import LiveConfig
from pricecast.configs.model import (
    FeaturesConfig,
    RunnerConfig,
    SplitConfig,
    TrainingConfig,
    VariantConfig,
    check_scope,
)
from pricecast.configs.series import check_series_features, series_defaults

__all__ = [
    "DERIVED_INPUTS",
    "PRICE_COLUMNS",
    "BacktestConfig",
    "ChampionConfig",
    "DataConfig",
    "FeaturesConfig",
    "IntervalsConfig",
    "LiveConfig",
    "RunConfig",
    "RunnerConfig",
    "SplitConfig",
    "TrainingConfig",
    "VariantConfig",
]


def _section(title: str, description: str) -> Any:
    return Field(title=title, description=description)


class RunConfig(Strict):
    """A whole run: data, features, model variants, training, split, backtest and more."""

    @model_validator(mode="before")
    @classmethod
    def _series_defaults(cls, data: Any) -> Any:
        return series_defaults(data)

    data: Annotated[DataConfig, _section("Data", "Tickers, dates and the price source")]
    features: Annotated[
        FeaturesConfig, _section("Features", "Window, horizon, inputs and scaling")
    ] = FeaturesConfig()
    variants: Annotated[
        list[VariantConfig],
        Field(
            min_length=1,
            title="Variants",
            description="Recurrent models trained per ticker, each with its own name",
        ),
    ]
    training: Annotated[
        TrainingConfig, _section("Training", "Epochs, batch, learning rate, stopping, dispatch")
    ] = TrainingConfig()
    experiment: Annotated[
        ExperimentName,
        Field(
            title="Experiment",
            description=(
                "MLflow experiment name, also the folder of the run's outputs and artifacts: "
                "letters, digits, '.', '_' and '-', starting with a letter or digit"
            ),
        ),
    ] = "pricecast"
    split: Annotated[
        SplitConfig, _section("Split", "Train / validation / test spans, by dates or fraction")
    ] = SplitConfig()
    backtest: Annotated[
        BacktestConfig | None,
        _section("Backtest", "Walk-forward backtest after training (empty: off)"),
    ] = None
    champion: Annotated[
        ChampionConfig, _section("Champion", "How the backtest's winner becomes @champion")
    ] = ChampionConfig()
    intervals: Annotated[
        IntervalsConfig | None,
        _section("Intervals", "Prediction intervals of every forecast (empty: none)"),
    ] = IntervalsConfig()
    runner: Annotated[
        RunnerConfig, _section("Runner", "Where the flow's tasks run, and how many at once")
    ] = RunnerConfig()
    live: Annotated[
        LiveConfig, _section("Live", "The nightly loop: calendar, retraining, live scores")
    ] = LiveConfig()

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, value: list[VariantConfig]) -> list[VariantConfig]:
        if dupes := repeated([v.name for v in value]):
            raise ValueError(f"variant names must be unique; repeated: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _spans(self) -> RunConfig:
        s, d = self.split, self.data
        if s.test_start and d.start and s.test_start <= d.start:
            raise ValueError(
                f"split.test_start ({s.test_start}) must be after data.start ({d.start})"
            )
        if s.test_start and d.end and s.test_start > d.end:
            raise ValueError(f"split.test_start ({s.test_start}) is after data.end ({d.end})")
        check_series_features(self)
        last = s.test_end or d.end
        if s.test_start and last and d.kind == "prices":
            # Sessions in the test span bound how many targets it can hold.
            from pricecast.tasks.calendar import sessions_between

            bdays = len(sessions_between(s.test_start, last, self.live.calendar))
            if bdays < self.features.horizon:
                raise ValueError(
                    f"features.horizon ({self.features.horizon}) is longer than the test span "
                    f"{s.test_start}..{last} ({bdays} {self.live.calendar} sessions)"
                )
        if self.champion.h > self.features.horizon:
            raise ValueError(
                f"champion.h ({self.champion.h}) exceeds features.horizon ({self.features.horizon})"
            )
        if self.champion.metric == "interval_score" and self.intervals is None:
            raise ValueError(
                "champion.metric 'interval_score' ranks prediction intervals: "
                "intervals must not be null"
            )
        check_interval_method(self)
        check_scope(self)
        return self

    def variant(self, name: str) -> VariantConfig:
        """Return the variant called ``name``.

        Raises:
            KeyError: If no variant has that name.
        """
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)
