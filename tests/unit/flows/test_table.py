"""One comparison frame feeds the terminal table and the Prefect table artifact."""

from __future__ import annotations

import io
import math

from rich.console import Console

from pricecast.flows.summary import BacktestSummary, MlflowRuns, RunSummary, TickerSummary, Timings
from pricecast.flows.table import artifact_rows, comparison_frame, print_comparison


def _metrics(rmse: float, mase: float, da: float = 0.5) -> dict[str, float]:
    return {"rmse": rmse, "mae": rmse / 2, "mape": 1.0, "mase": mase, "directional_accuracy": da}


def _ticker(models: dict, backtest: BacktestSummary | None = None) -> TickerSummary:
    return TickerSummary(
        source="sample",
        test_span=["2020-05-12", "2020-12-11"],
        notes=[],
        models=models,
        failed_variants={},
        plot="KO/forecast.png",
        predictions="KO/predictions.csv",
        mlflow=MlflowRuns(parent_run_id="p", runs={}, model_uris={}),
        timings=Timings(
            prepare=0, train={}, evaluate=0, log={}, report=0, samples_per_second={}, epochs={}
        ),
        backtest=backtest,
    )


def _summary() -> RunSummary:
    backtest = BacktestSummary(
        n_origins=250,
        horizon=1,
        seconds=1.0,
        model_seconds={},
        best_model="lstm",
        decision="lstm beats persistence",
        promoted=True,
        registered_version="1",
        champion_version="1",
        models={m: {"mase": [v]} for m, v in [("lstm", 0.9), ("persistence", 1.0), ("drift", 1.1)]},
        plot="KO/backtest.png",
    )
    return RunSummary(
        experiment="e",
        experiment_id="1",
        tracking_uri="sqlite:///x.db",
        flow_run_id=None,
        output_dir="/tmp/o",
        tickers={
            "KO": _ticker(
                {"lstm": _metrics(0.7, 2.1), "persistence": _metrics(0.8, 2.2, math.nan)},
                backtest,
            ),
            "MSFT": _ticker({"gru": _metrics(2.0, 1.3), "persistence": _metrics(1.9, 1.2)}),
        },
        failed={"XOM": "no data"},
    )


def test_frame_marks_each_tickers_best_model_and_the_champion():
    frame = comparison_frame(_summary())
    assert list(frame.columns) == [
        "ticker", "model", "rmse", "mae", "mape", "mase", "directional_accuracy",
        "backtest_mase_h1", "best", "champion",
    ]  # fmt: skip
    best = frame[frame["best"]][["ticker", "model"]].values.tolist()
    # KO: the backtest's winner; MSFT (no backtest): the lowest test MASE.
    assert best == [["KO", "lstm"], ["MSFT", "persistence"]]
    assert frame[frame["champion"]]["model"].tolist() == ["lstm"]
    drift = frame[frame["model"] == "drift"].iloc[0]
    assert math.isnan(drift["rmse"]) and drift["backtest_mase_h1"] == 1.1


def test_artifact_rows_are_the_frame_with_empty_cells_for_missing_values():
    frame = comparison_frame(_summary())
    rows = artifact_rows(frame)
    assert len(rows) == len(frame) == 5
    persistence = rows[1]
    assert persistence["model"] == "persistence" and persistence["directional_accuracy"] is None
    assert rows[2]["model"] == "drift" and rows[2]["rmse"] is None


def test_plain_table_has_full_headers_no_escapes_and_the_notes():
    out = io.StringIO()
    print_comparison(_summary(), Console(file=out, width=200))
    text = out.getvalue()
    assert "\x1b" not in text
    assert not set(text) & set("━┃│╇─")
    for header in ("RMSE", "MAPE %", "directional accuracy", "backtest MASE h=1", "best"):
        assert header in text
    assert "KO: backtest 250 origins, MASE h=1: lstm 0.900" in text
    assert "KO: best: lstm — promoted to @champion: lstm beats persistence" in text
    assert "XOM: FAILED: no data" in text
    lstm = next(line for line in text.splitlines() if "| lstm " in line)
    assert lstm.rstrip(" |").endswith("best @champion")
