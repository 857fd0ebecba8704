"""The ``backtest`` and ``champion`` sections: the walk-forward and the guard over its winner."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pricecast.configs.base import Strict


class BacktestConfig(Strict):
    """Walk-forward backtest over rolling forecast origins.

    The origins are the last ``n_origins`` rows that still have a next day, every
    ``step`` rows. At each origin the model only sees rows strictly before it for
    training and scaling; the origin's own row is the last input of its forecast.

    Attributes:
        n_origins: Rows spanned by the forecast origins (the h=1 targets of a
            ``step: 1`` backtest are the last ``n_origins`` trading days). A ticker
            whose history is shorter is backtested on fewer origins, with a warning,
            down to 20 (times ``step``) after window + horizon + 50 training rows; a
            ticker shorter still fails with a message giving the numbers.
        step: Rows between consecutive origins.
        training_window: ``expanding`` (train on every row before the origin) or
            ``sliding`` (on the last ``training_window_length`` rows before it).
        training_window_length: Rows in a sliding training window (required for
            ``sliding``).
        refit_every: Refit the scaler and the (warm-started) model every this many
            origins; ``0`` trains once, on the rows before the first origin.
        refit_epochs: Epochs of each warm-started refit (``None``: ``training.epochs``).
        val_fraction: Share of each training set (its latest samples) held out for
            early stopping.
        ma_window: Days averaged by the moving-average baseline.
    """

    n_origins: Annotated[int, Field(ge=1, le=100_000)] = 250
    step: Annotated[int, Field(ge=1, le=10_000)] = 1
    training_window: Literal["expanding", "sliding"] = "expanding"
    training_window_length: Annotated[int | None, Field(ge=2)] = None
    refit_every: Annotated[int, Field(ge=0)] = 0
    refit_epochs: Annotated[int | None, Field(ge=1, le=10000)] = None
    val_fraction: Annotated[float, Field(gt=0, lt=0.9)] = 0.1
    ma_window: Annotated[int, Field(ge=1, le=1000)] = 5

    @model_validator(mode="after")
    def _sliding(self) -> BacktestConfig:
        if self.training_window == "sliding" and self.training_window_length is None:
            raise ValueError(
                "training_window 'sliding' needs training_window_length (rows per window)"
            )
        return self


class ChampionConfig(Strict):
    """How a ticker's champion is chosen from the backtest and guarded.

    Attributes:
        metric: Backtest metric that ranks the models (baselines included);
            ``interval_score`` ranks their prediction intervals (the mean Winkler score
            over the ``intervals`` levels, which must then be on).
        h: Step ahead at which the metric is compared.
        register_winner: Register RNN winners in the MLflow Model Registry as
            ``price-forecaster-<TICKER>``; the ``champion`` alias moves only when the
            winner beats persistence and the current champion on the same backtest.
        min_improvement: Relative margin the winner must clear over persistence and the
            current champion (``0.01`` = 1 % lower metric); 0 = any improvement.
    """

    metric: Literal["mase", "rmse", "mae", "mape", "interval_score"] = "mase"
    h: Annotated[int, Field(ge=1)] = 1
    register_winner: bool = True
    min_improvement: Annotated[float, Field(ge=0, lt=1)] = 0.0
