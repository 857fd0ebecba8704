"""The ``backtest`` and ``champion`` sections: the walk-forward and the guard over its winner."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pricecast.configs.base import Strict


class BacktestConfig(Strict):
    """Walk-forward backtest over rolling forecast origins.

    The origins are the last ``n_origins`` rows that still have a next day, every
    ``step`` rows. At each origin the model only sees rows strictly before it for
    training and scaling; the origin's own row is the last input of its forecast. A
    ticker whose history is shorter is backtested on fewer origins, with a warning, down
    to 20 (times ``step``) after window + horizon + 50 training rows; a ticker shorter
    still fails with a message giving the numbers.
    """

    n_origins: Annotated[
        int,
        Field(
            ge=1,
            le=100_000,
            title="Origins",
            description="Forecast origins (with step 1: the last n trading days)",
        ),
    ] = 250
    step: Annotated[
        int,
        Field(ge=1, le=10_000, title="Step", description="Rows between consecutive origins"),
    ] = 1
    training_window: Annotated[
        Literal["expanding", "sliding"],
        Field(
            title="Training window",
            description="expanding: every row before the origin; sliding: the last "
            "training_window_length rows",
        ),
    ] = "expanding"
    training_window_length: Annotated[
        int | None,
        Field(
            ge=2,
            title="Sliding window length",
            description="Rows in a sliding training window (required for sliding)",
        ),
    ] = None
    refit_every: Annotated[
        int,
        Field(
            ge=0,
            title="Refit every",
            description="Refit scaler and warm-started model every n origins (0: train once)",
        ),
    ] = 0
    refit_epochs: Annotated[
        int | None,
        Field(
            ge=1,
            le=10000,
            title="Refit epochs",
            description="Epochs of each warm-started refit (empty: training epochs)",
        ),
    ] = None
    val_fraction: Annotated[
        float,
        Field(
            gt=0,
            lt=0.9,
            title="Validation fraction",
            description="Latest share of each training set held out for early stopping",
        ),
    ] = 0.1
    ma_window: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            title="Moving-average window",
            description="Days averaged by the moving-average baseline",
        ),
    ] = 5

    @model_validator(mode="after")
    def _sliding(self) -> BacktestConfig:
        if self.training_window == "sliding" and self.training_window_length is None:
            raise ValueError(
                "training_window 'sliding' needs training_window_length (rows per window)"
            )
        return self


class ChampionConfig(Strict):
    """How a ticker's champion is chosen from the backtest and guarded.

    The ``champion`` alias moves only when the winner beats persistence and the current
    champion on the same backtest by ``min_improvement``.
    """

    metric: Annotated[
        Literal["mase", "rmse", "mae", "mape", "interval_score"],
        Field(
            title="Metric",
            description="Backtest metric that ranks the models and baselines "
            "(interval_score: the mean Winkler score of their prediction intervals)",
        ),
    ] = "mase"
    h: Annotated[
        int, Field(ge=1, title="Step ahead", description="Step ahead at which models are compared")
    ] = 1
    register_winner: Annotated[
        bool,
        Field(
            title="Register winner",
            description="Register recurrent winners as price-forecaster-<TICKER> in MLflow",
        ),
    ] = True
    min_improvement: Annotated[
        float,
        Field(
            ge=0,
            lt=1,
            title="Minimum improvement",
            description="Relative margin over persistence and the champion (0.01 = 1 %)",
        ),
    ] = 0.0
