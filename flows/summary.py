"""The run summary: one typed record for ``summary.json``, the CLI table and Prefect artifacts.

Words are kept apart here as everywhere: ``best_model`` is the model with the lowest
backtest error (a baseline can be it); ``champion_version`` is the registry version the
``champion`` alias points at, which the best model becomes only through the guard.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, computed_field


def _nan_if_null(value: Any) -> Any:
    return math.nan if value is None else value


Metric = Annotated[float, BeforeValidator(_nan_if_null)]
"""A metric: ``summary.json`` (strict JSON) writes an undefined one (NaN) as ``null``,
and reading it back gives NaN again."""


class BacktestSummary(BaseModel):
    """A ticker's walk-forward backtest and the champion guard's decision."""

    n_origins: int
    horizon: int
    seconds: float = Field(description="backtest work: the variants' backtests and this step")
    model_seconds: dict[str, float]
    best_model: str = Field(description="lowest backtest error, baselines included")
    decision: str = Field(description="the champion guard's reason, one sentence")
    promoted: bool = Field(description="whether the best model took the champion alias")
    registered_version: str | None
    champion_version: str | None = Field(description="the version @champion points at now")
    refit_seconds: float = Field(
        0.0, description="training the registered version on every row (0: nothing refitted)"
    )
    refit_variant: str | None = Field(
        None, description="the variant refitted on every row for the registry (or None)"
    )
    refit_version: str | None = Field(
        None,
        description="the version holding that refit: registered now, or an identical one "
        "registered before (nothing trained then)",
    )
    models: dict[str, dict[str, list[Metric]]]
    plot: str


class BacktestFailure(BaseModel):
    """Why a ticker's backtest or champion step failed (its test-span results stand)."""

    error: str


class MlflowRuns(BaseModel):
    """A ticker's MLflow runs: the parent, and the child and model of each variant."""

    parent_run_id: str
    runs: dict[str, str]
    model_uris: dict[str, str]


class Timings(BaseModel):
    """Seconds spent per stage of one ticker (model work apart from orchestration)."""

    prepare: float
    train: dict[str, float]
    evaluate: float
    log: dict[str, float]
    report: float
    samples_per_second: dict[str, float]
    epochs: dict[str, float]
    fits: dict[str, float] = Field(
        default_factory=dict,
        description="trainings each variant ran to be evaluated (test table and backtest)",
    )


class TickerSummary(BaseModel):
    """One ticker's results: test-span metrics of every model and baseline, and more."""

    source: str
    test_span: list[str]
    notes: list[str]
    models: dict[str, dict[str, Metric]]
    failed_variants: dict[str, str]
    plot: str
    predictions: str
    mlflow: MlflowRuns
    timings: Timings
    backtest: BacktestSummary | BacktestFailure | None = None

    @computed_field(
        description="trainings per variant in this run: to be evaluated, plus "
        "the registered version's refit on every row"
    )
    @property
    def trainings(self) -> dict[str, int]:
        """Trainings per variant in this run: its evaluation fits and any registry refit."""
        out = {name: int(n) for name, n in self.timings.fits.items()}
        bt = self.backtest
        if isinstance(bt, BacktestSummary) and bt.registered_version and bt.refit_variant:
            out[bt.refit_variant] = out.get(bt.refit_variant, 0) + 1
        return out


class RunSummary(BaseModel):
    """The whole run, as written to ``summary.json``."""

    experiment: str
    experiment_id: str
    tracking_uri: str
    flow_run_id: str | None
    output_dir: str
    tickers: dict[str, TickerSummary] = {}
    failed: dict[str, str] = {}
    flow_seconds: float = 0.0

    def rows(self) -> list[dict[str, Any]]:
        """One row per ticker × model: test metrics, backtest MASE at h=1, best and champion.

        The CLI table and the Prefect table artifact both print these rows. Baselines
        scored only in the backtest (drift, moving average) get a row without test
        metrics. A backtest with prediction intervals adds their coverage and width
        per level and the interval score, at h=1.
        """
        rows = []
        for ticker, info in self.tickers.items():
            bt = info.backtest if isinstance(info.backtest, BacktestSummary) else None
            names = list(info.models) + [
                m for m in (bt.models if bt else {}) if m not in info.models
            ]
            for name in names:
                row: dict[str, Any] = {"ticker": ticker, "model": name}
                row.update({k: round(v, 4) for k, v in info.models.get(name, {}).items()})
                if bt and name in bt.models:
                    row["backtest_mase_h1"] = round(bt.models[name]["mase"][0], 4)
                    row.update(
                        {
                            f"backtest_{k}_h1": round(v[0], 4)
                            for k, v in bt.models[name].items()
                            if k.startswith(("coverage_", "width_")) or k == "interval_score"
                        }
                    )
                    row["backtest_best"] = name == bt.best_model
                    row["champion"] = name == bt.best_model and bt.promoted
                rows.append(row)
        return rows
