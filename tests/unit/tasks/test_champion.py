"""The champion guard: only a recurrent model that beats persistence and the champion wins."""

from __future__ import annotations

import pytest

from pricecast.tasks.champion import decide


def _summary(**mase):
    return {name: {"mase": [v], "rmse": [v * 2]} for name, v in mase.items()}


def test_baseline_winner_is_never_registered():
    d = decide(_summary(lstm=1.2, persistence=1.0, drift=1.1, moving_average=1.5))
    assert (d.best_model, d.candidate, d.promote) == ("persistence", None, False)
    assert "persistence baseline" in d.reason


def test_winner_beating_persistence_with_no_champion_is_promoted():
    d = decide(_summary(lstm=0.9, gru=0.95, persistence=1.0, drift=1.1, moving_average=1.5))
    assert (d.best_model, d.candidate, d.promote) == ("lstm", "lstm", True)
    assert "beats persistence" in d.reason


def test_deliberately_bad_candidate_is_not_promoted_over_a_better_champion():
    # Beats persistence, loses to the champion scored on the same backtest.
    d = decide(
        _summary(lstm=0.95, persistence=1.0, drift=1.1, moving_average=1.5),
        current=0.90,
        current_label="champion v3",
        has_current=True,
    )
    assert (d.candidate, d.promote) == ("lstm", False)
    assert "does not beat champion v3 (0.9000)" in d.reason


def test_candidate_beating_champion_and_persistence_is_promoted():
    d = decide(
        _summary(gru=0.80, persistence=1.0, drift=1.1, moving_average=1.5),
        current=0.90,
        current_label="champion v3",
        has_current=True,
    )
    assert d.promote and "champion v3 (0.9000)" in d.reason


def test_unscorable_champion_is_kept():
    d = decide(
        _summary(gru=0.80, persistence=1.0, drift=1.1, moving_average=1.5),
        current=None,
        current_label="champion v2 (ValueError: horizon)",
        has_current=True,
    )
    assert not d.promote and "could not be scored" in d.reason


def test_tie_with_persistence_is_not_promoted():
    # min() picks the first of equal values; a tie never counts as beating persistence.
    d = decide(_summary(rnn=1.0, persistence=1.0, drift=1.1, moving_average=1.5))
    assert not d.promote


@pytest.mark.parametrize("metric", ["rmse"])
def test_other_metric(metric):
    d = decide(_summary(rnn=0.4, persistence=0.5, drift=0.6, moving_average=0.7), metric=metric)
    assert d.best_model == "rnn" and d.promote


def test_min_improvement_margin():
    summary = _summary(rnn=0.995, persistence=1.0, drift=1.1, moving_average=1.5)
    assert decide(summary).promote  # 0.5 % better: promoted with no margin
    d = decide(summary, min_improvement=0.01)
    assert not d.promote and "by 1.0%" in d.reason
    assert decide(
        _summary(rnn=0.98, persistence=1.0, drift=1.1, moving_average=1.5), min_improvement=0.01
    ).promote


def test_interval_score_decides_with_the_same_rule():
    def summary(**score):
        # MASE ranks the other way round, so only interval_score can pick the winner.
        return {n: {"mase": [1.0 / v], "interval_score": [v]} for n, v in score.items()}

    scores = summary(lstm=0.08, gru=0.09, persistence=0.1, drift=0.11)
    d = decide(scores, "interval_score")
    assert (d.best_model, d.candidate, d.promote) == ("lstm", "lstm", True)
    assert "interval_score 0.0800 beats persistence (0.1000)" in d.reason
    d = decide(
        scores, "interval_score", current=0.07, current_label="champion v2", has_current=True
    )
    assert (d.candidate, d.promote) == ("lstm", False)
    d = decide(summary(lstm=0.12, persistence=0.1), "interval_score")
    assert (d.best_model, d.promote) == ("persistence", False)
    assert decide(scores, "mase").best_model == "drift"
