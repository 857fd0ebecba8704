"""Pydantic models for a run's configuration.

A YAML file in ``configs/`` loads into :class:`RunConfig`; the same model is the typed
parameter of the Prefect ``forecast`` flow, so the Prefect UI renders it as an editable
form and rejects bad values with the field's name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pricecast.configs.backtest import BacktestConfig, ChampionConfig
from pricecast.configs.base import ExperimentName, Strict
from pricecast.configs.intervals import IntervalsConfig
from pricecast.configs.live import LiveConfig
from pricecast.configs.series import (
    SeriesConfig,
    check_data_kind,
    check_series_features,
    series_defaults,
)

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
"""Columns of a normalised price frame, in order."""

DERIVED_INPUTS: tuple[str, ...] = ("log_return", "log_volume")
"""Inputs computed from the price columns (see ``tasks.features``)."""

Source = Literal["auto", "yfinance", "cache", "csv", "sample"]
Cell = Literal["rnn", "lstm", "gru"]
InputName = Literal[
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "log_return",
    "log_volume",
    "value",
    "diff",
]
TargetColumn = Literal["open", "high", "low", "close", "adj_close", "value"]

_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,14}$")
_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")


_Strict = Strict


class DataConfig(_Strict):
    """Where prices come from and which span is used.

    Attributes:
        tickers: Symbols to forecast (upper case, e.g. ``AAPL``).
        source: ``auto`` tries Yahoo, then the local cache, then the bundled sample;
            the other values force one source.
        csv_path: For ``source: csv``: a Yahoo-export CSV file, or a pattern containing
            ``{ticker}``. Relative paths resolve against ``FORECAST_HOME``.
        start: First date requested (inclusive); ``None`` = all history available.
        end: Last date requested (inclusive); ``None`` = up to today.
        target: Price column that is forecast (``value`` for ``kind: series``).
        kind: ``prices`` (Yahoo-style OHLCV) or ``series`` (any numeric CSV columns).
        series: How a ``kind: series`` CSV is read (see ``configs/series.py``).
        null_rows: What to do with rows whose prices are all missing: ``drop`` or ``ffill``.
        retries: Retries of the Yahoo download (exponential backoff).
        retry_delay_seconds: First backoff delay; doubles on each retry.
        rate_limit_pause_seconds: Extra pause before retrying after a rate-limit answer.
    """

    tickers: Annotated[list[str], Field(min_length=1)]
    source: Source = "auto"
    csv_path: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    target: TargetColumn = "adj_close"
    null_rows: Literal["drop", "ffill"] = "drop"
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    retry_delay_seconds: Annotated[float, Field(ge=0, le=600)] = 1.0
    rate_limit_pause_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    kind: Annotated[
        Literal["prices", "series"],
        Field(title="Data kind", description="prices: Yahoo-style OHLCV; series: a date,value CSV"),
    ] = "prices"
    series: Annotated[
        SeriesConfig | None,
        Field(title="Series", description="Columns, dates and frequency of a kind 'series' CSV"),
    ] = None

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, value: list[str]) -> list[str]:
        out = [t.strip().upper() for t in value]
        bad = [t for t in out if not _TICKER.match(t)]
        if bad:
            raise ValueError(f"not a ticker symbol: {', '.join(map(repr, bad))}")
        if len(set(out)) != len(out):
            raise ValueError("tickers must be unique")
        return out

    @model_validator(mode="after")
    def _span(self) -> DataConfig:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        if self.source == "csv" and not self.csv_path:
            raise ValueError("source 'csv' needs csv_path")
        check_data_kind(self)
        return self


class FeaturesConfig(_Strict):
    """How the series is turned into supervised windows.

    Attributes:
        window: Lookback length (days of inputs per sample).
        horizon: Days ahead to forecast (the model outputs ``horizon`` values).
        inputs: Input columns; ``None`` = the target alone (as a level or log-return,
            following ``target_transform``).
        target_transform: ``log_return`` models log(p[t+h] / p[t]) and rebuilds prices from
            the last known price (robust to level drift); ``level`` models the scaled price
            itself (a train-only scaler maps later, higher prices outside its range);
            ``diff`` models the first differences and rebuilds the values by a cumulative
            sum from the last known one (any sign). ``kind: series`` defaults to ``level``.
        scaler: scikit-learn scaler fitted on the training span only.
    """

    window: Annotated[int, Field(ge=1, le=1000)] = 40
    horizon: Annotated[int, Field(ge=1, le=250)] = 1
    inputs: list[InputName] | None = None
    target_transform: Literal["log_return", "level", "diff"] = "log_return"
    scaler: Literal["minmax", "standard"] = "minmax"

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("inputs must name at least one column (or be null)")
            if len(set(value)) != len(value):
                raise ValueError("inputs must be unique")
        return value


class SplitConfig(_Strict):
    """Chronological train / validation / test split.

    By dates (``test_start``, optional ``train_end`` and ``test_end``) or, when
    ``test_start`` is unset, by ``test_fraction`` of the rows. The validation span is the
    last ``val_fraction`` of the training span; it drives early stopping. Windows of a
    span take their inputs from the days before it, so the test span needs only
    ``horizon`` days.

    Attributes:
        test_start: First test date.
        test_end: Last test date (default: the last date loaded).
        train_end: Last training date (default: the day before ``test_start``).
        test_fraction: Share of rows in the test span when ``test_start`` is unset.
        val_fraction: Share of the training span held out for validation.
    """

    test_start: dt.date | None = None
    test_end: dt.date | None = None
    train_end: dt.date | None = None
    test_fraction: Annotated[float, Field(gt=0, lt=0.9)] = 0.1
    val_fraction: Annotated[float, Field(gt=0, lt=0.9)] = 0.1

    @model_validator(mode="after")
    def _order(self) -> SplitConfig:
        if self.train_end and self.test_start and self.train_end >= self.test_start:
            raise ValueError(
                f"train_end ({self.train_end}) must be before test_start ({self.test_start})"
            )
        if self.test_end and self.test_start and self.test_end < self.test_start:
            raise ValueError(
                f"test_end ({self.test_end}) must not be before test_start ({self.test_start})"
            )
        if (self.train_end or self.test_end) and not self.test_start:
            raise ValueError("train_end/test_end need test_start")
        return self


class VariantConfig(_Strict):
    """One recurrent model variant.

    Attributes:
        name: Identifier used in tables, MLflow and ``summary.json``.
        cell: ``rnn`` (SimpleRNN), ``lstm`` or ``gru``.
        units: Units per recurrent layer.
        layers: Number of stacked recurrent layers.
        dropout: Dropout after each recurrent layer (not recurrent dropout, which would
            disable the cuDNN kernels).
        bidirectional: Wrap each recurrent layer in ``Bidirectional``.
        strategy: Multi-step forecasting in the backtest: ``direct`` (one output per
            step ahead) or ``recursive`` (a one-step model fed its own predictions;
            univariate inputs only).
    """

    name: str
    cell: Cell
    units: Annotated[int, Field(ge=1, le=2048)] = 32
    layers: Annotated[int, Field(ge=1, le=8)] = 1
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    bidirectional: bool = False
    strategy: Literal["direct", "recursive"] = "direct"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be lower case letters, digits, '_' or '-', starting with a letter"
            )
        if value in {"persistence", "drift", "moving_average", "seasonal_naive"}:
            raise ValueError(f"{value!r} is reserved for a baseline")
        return value


class TrainingConfig(_Strict):
    """Optimiser and stopping rules shared by every variant.

    Attributes:
        epochs: Maximum epochs.
        batch_size: Mini-batch size.
        learning_rate: Adam learning rate.
        patience: EarlyStopping patience on ``val_loss`` (best weights restored).
        reduce_lr_patience: ReduceLROnPlateau patience (factor 0.5).
        seed: Seed for weights, dropout and shuffling; same seed → same metrics on CPU.
        mixed_precision: Compute in float16 (``mixed_float16``; the output layer stays
            float32). Only used where a GPU is present.
        dispatch: ``inprocess`` runs the ``train`` flow inside the ``forecast`` flow;
            ``deployment`` submits it with ``run_deployment`` (e.g. to a GPU work pool).
        deployment: The ``train`` deployment used with ``dispatch: deployment``.
        dispatch_timeout_seconds: How long to wait for a dispatched training run.
    """

    epochs: Annotated[int, Field(ge=1, le=10000)] = 50
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 32
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 1e-3
    patience: Annotated[int, Field(ge=1)] = 8
    reduce_lr_patience: Annotated[int, Field(ge=1)] = 4
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 42
    mixed_precision: bool = False
    dispatch: Literal["inprocess", "deployment"] = "inprocess"
    deployment: Annotated[str, Field(pattern=r"^[^/]+/[^/]+$")] = "train/train-gpu"
    dispatch_timeout_seconds: Annotated[float, Field(gt=0)] = 6 * 3600.0


class RunnerConfig(_Strict):
    """How the ``forecast`` flow's tasks run (tickers fan out on this runner).

    Attributes:
        kind: ``threads`` (default), ``processes`` (one process per task), or ``dask``
            (``prefect-dask``: an existing cluster at ``dask_address``, or a local
            cluster of ``max_workers`` worker processes).
        max_workers: Threads, processes or local Dask workers; also how many variants
            of one ticker the in-process ``train`` flow trains at once.
        dask_address: Scheduler address of an existing Dask cluster
            (``tcp://host:8786``); ``None`` starts a local cluster on 127.0.0.1.
    """

    kind: Literal["threads", "processes", "dask"] = "threads"
    max_workers: Annotated[int, Field(ge=1, le=64)] = 4
    dask_address: str | None = None


class RunConfig(_Strict):
    """A whole run: data, features, split, model variants and training.

    Attributes:
        experiment: MLflow experiment name.
        data: Price source and span.
        features: Window, horizon, inputs and scaling.
        split: Train / validation / test split.
        variants: Model variants trained per ticker.
        training: Shared training settings.
        runner: Concurrency of the flow's tasks.
        backtest: Walk-forward backtest after training (``null``: off).
        champion: Champion selection from the backtest.
        intervals: Prediction intervals of every backtest forecast (``null``: none).
        live: The nightly loop (used by ``forecast/nightly`` and ``forecast replay``).
    """

    @model_validator(mode="before")
    @classmethod
    def _series_defaults(cls, data: Any) -> Any:
        return series_defaults(data)

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
    data: DataConfig
    features: FeaturesConfig = FeaturesConfig()
    split: SplitConfig = SplitConfig()
    variants: Annotated[list[VariantConfig], Field(min_length=1)]
    training: TrainingConfig = TrainingConfig()
    runner: RunnerConfig = RunnerConfig()
    backtest: BacktestConfig | None = None
    champion: ChampionConfig = ChampionConfig()
    intervals: IntervalsConfig | None = IntervalsConfig()
    live: LiveConfig = LiveConfig()

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, value: list[VariantConfig]) -> list[VariantConfig]:
        names = [v.name for v in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
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
