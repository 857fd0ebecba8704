"""The model sections: features (window, horizon), variants, training, split and runner."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from pricecast.configs.base import Strict, repeated
from pricecast.configs.choices import Cell, Dispatch, InputName, RunnerKind

_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")

REFERENCE_BATCH = 32
"""The batch size at which ``training.learning_rate`` applies as given."""


class FeaturesConfig(Strict):
    """How the series becomes supervised windows: lookback, horizon, inputs, scaling."""

    window: Annotated[
        int,
        Field(ge=1, le=1000, title="Window", description="Lookback: sessions of inputs per sample"),
    ] = 40
    horizon: Annotated[
        int,
        Field(
            ge=1,
            le=250,
            title="Horizon",
            description="Sessions ahead the model forecasts (one output each)",
        ),
    ] = 1
    inputs: Annotated[
        list[InputName] | None,
        Field(
            json_schema_extra={"uniqueItems": True},
            title="Inputs",
            description="Input columns, each once (empty: the target alone)",
        ),
    ] = None
    target_transform: Annotated[
        Literal["log_return", "level", "diff"],
        Field(
            title="Target transform",
            description="log_return: log(p[t+h]/p[t]); level: the scaled value; diff: first "
            "differences (any sign). A series defaults to level",
        ),
    ] = "log_return"
    scaler: Annotated[
        Literal["minmax", "standard"],
        Field(title="Scaler", description="scikit-learn scaler fitted on the training span only"),
    ] = "minmax"

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("inputs must name at least one column (or be null)")
            if dupes := repeated(value):
                raise ValueError(f"inputs must be unique; repeated: {', '.join(dupes)}")
        return value


class VariantConfig(Strict):
    """One recurrent model variant."""

    name: Annotated[
        str,
        Field(
            title="Name",
            description="Name in tables, MLflow and summary.json: lower case, digits, _ or -",
        ),
    ]
    cell: Annotated[Cell, Field(title="Cell", description="rnn (SimpleRNN), lstm or gru")]
    units: Annotated[
        int, Field(ge=1, le=2048, title="Units", description="Units per recurrent layer")
    ] = 32
    layers: Annotated[
        int, Field(ge=1, le=8, title="Layers", description="Stacked recurrent layers")
    ] = 1
    dropout: Annotated[
        float,
        Field(
            ge=0,
            lt=1,
            title="Dropout",
            description="Dropout after each recurrent layer (keeps the cuDNN kernels)",
        ),
    ] = 0.0
    bidirectional: Annotated[
        bool, Field(title="Bidirectional", description="Wrap each layer in Bidirectional")
    ] = False
    strategy: Annotated[
        Literal["direct", "recursive"],
        Field(
            title="Multi-step strategy",
            description="direct: one output per step ahead; recursive: a one-step model fed "
            "its own forecasts (univariate inputs only)",
        ),
    ] = "direct"

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


class TrainingConfig(Strict):
    """Optimiser, stopping rules and dispatch, shared by every variant."""

    epochs: Annotated[
        int, Field(ge=1, le=10000, title="Epochs", description="Maximum training epochs")
    ] = 50
    batch_size: Annotated[
        int, Field(ge=1, le=65536, title="Batch size", description="Mini-batch size")
    ] = 32
    learning_rate: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            title="Learning rate",
            description="Adam learning rate at a batch of 32 (see learning-rate scaling)",
        ),
    ] = 1e-3
    lr_scaling: Annotated[
        Literal["none", "sqrt", "linear"],
        Field(
            title="Learning-rate scaling",
            description="How the rate follows the batch size: learning_rate x (batch_size/32)"
            " to the power 0 (none), 1/2 (sqrt) or 1 (linear); the scaled rate must be <= 1",
        ),
    ] = "none"
    jit_compile: Annotated[
        bool,
        Field(
            title="XLA",
            description="Compile training and prediction steps with XLA: once per shape "
            "and process, faster epochs after a slower first one (on a GPU, models with cuDNN "
            "LSTM/GRU layers keep cuDNN instead)",
        ),
    ] = False
    steps_per_execution: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            title="Steps per execution",
            description="Batches run per call into TensorFlow (fewer Python round trips; "
            "callbacks see every n-th batch)",
        ),
    ] = 1
    patience: Annotated[
        int,
        Field(
            ge=1,
            title="Patience",
            description="Early stopping on val_loss after this many epochs (best weights kept)",
        ),
    ] = 8
    reduce_lr_patience: Annotated[
        int,
        Field(
            ge=1,
            title="Reduce-LR patience",
            description="Halve the learning rate after this many epochs without improvement",
        ),
    ] = 4
    seed: Annotated[
        int,
        Field(
            ge=0,
            le=2**31 - 1,
            title="Seed",
            description="Seed of weights, dropout and shuffling: same seed, same metrics on CPU",
        ),
    ] = 42
    mixed_precision: Annotated[
        bool,
        Field(
            title="Mixed precision",
            description="Compute in float16 where a GPU is present (output layer float32)",
        ),
    ] = False
    scope: Annotated[
        Literal["per_ticker", "global"],
        Field(
            title="Model scope",
            description="per_ticker: one model per variant and ticker; global: one model per "
            "variant trained on the pooled windows of every ticker, each ticker scaled on its "
            "own training rows",
        ),
    ] = "per_ticker"
    dispatch: Annotated[
        Dispatch,
        Field(
            title="Dispatch",
            description="inprocess: train inside the forecast flow run; deployment: submit "
            "to the train deployment (a GPU pool with a worker)",
        ),
    ] = "inprocess"
    deployment: Annotated[
        str,
        Field(
            pattern=r"^[^/]+/[^/]+$",
            title="Train deployment",
            description="flow/deployment name used with dispatch: deployment",
        ),
    ] = "train/train-gpu"
    dispatch_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            title="Dispatch timeout (s)",
            description="How long to wait for a dispatched training run to finish",
        ),
    ] = 6 * 3600.0

    @property
    def scaled_learning_rate(self) -> float:
        """The Adam learning rate used at ``batch_size`` (see ``lr_scaling``)."""
        power = {"none": 0.0, "sqrt": 0.5, "linear": 1.0}[self.lr_scaling]
        return self.learning_rate * (self.batch_size / REFERENCE_BATCH) ** power

    @model_validator(mode="after")
    def _scaled_rate(self) -> TrainingConfig:
        if self.scaled_learning_rate > 1:
            raise ValueError(
                f"learning_rate {self.learning_rate:g} scaled ({self.lr_scaling}) to "
                f"batch_size {self.batch_size} gives {self.scaled_learning_rate:g}; it must "
                "be <= 1: lower learning_rate or batch_size, or set lr_scaling"
            )
        return self


class SplitConfig(Strict):
    """Chronological train / validation / test split, by dates or by a fraction of rows.

    Windows of a span take their inputs from the days before it, so the test span needs
    only ``horizon`` days.
    """

    test_start: Annotated[
        dt.date | None,
        Field(title="Test start", description="First test date (empty: use test fraction)"),
    ] = None
    test_end: Annotated[
        dt.date | None,
        Field(title="Test end", description="Last test date (empty: the last date loaded)"),
    ] = None
    train_end: Annotated[
        dt.date | None,
        Field(title="Train end", description="Last training date (empty: before test start)"),
    ] = None
    test_fraction: Annotated[
        float,
        Field(
            gt=0,
            lt=0.9,
            title="Test fraction",
            description="Share of rows in the test span when test start is empty",
        ),
    ] = 0.1
    val_fraction: Annotated[
        float,
        Field(
            gt=0,
            lt=0.9,
            title="Validation fraction",
            description="Tail of the training span held out for early stopping",
        ),
    ] = 0.1

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


class RunnerConfig(Strict):
    """How the ``forecast`` flow's tasks run (tickers fan out on this runner)."""

    kind: Annotated[
        RunnerKind,
        Field(
            title="Runner",
            description="threads; processes (one per task); dask (a cluster at the address, "
            "or a local one)",
        ),
    ] = "threads"
    max_workers: Annotated[
        int,
        Field(
            ge=1,
            le=64,
            title="Workers",
            description="Threads, processes or local Dask workers; also variants trained at once",
        ),
    ] = 4
    dask_address: Annotated[
        str | None,
        Field(
            title="Dask address",
            description="Scheduler of an existing cluster, tcp://host:8786 (empty: local)",
        ),
    ] = None


def check_scope(config: Any) -> None:
    """Refuse what a global model (``training.scope: global``) cannot run, naming the field.

    One model serves every ticker, so it needs several tickers, trains in the flow's
    process (not per ticker on a deployment), is fitted once before the backtest's first
    origin (no refits), bands by conformal residuals (no quantile head of its own) and is
    not refitted per ticker for the registry.

    Raises:
        ValueError: Naming the field that conflicts with the global scope.
    """
    if config.training.scope != "global":
        return
    why = None
    if len(config.data.tickers) < 2:
        why = "data.tickers holds one ticker: pooling needs at least two"
    elif config.training.dispatch == "deployment":
        why = "training.dispatch 'deployment' trains per ticker; use 'inprocess'"
    elif config.backtest is not None and config.backtest.refit_every:
        why = "backtest.refit_every must be 0 (the pooled model is fitted once, before the origins)"
    elif config.intervals is not None and config.intervals.method != "conformal":
        why = (
            f"intervals.method {config.intervals.method!r} trains a quantile head per "
            "ticker; use 'conformal'"
        )
    elif config.champion.register_winner:
        why = "champion.register_winner refits the winner per ticker; set it to false"
    if why:
        raise ValueError(f"training.scope 'global': {why}")
