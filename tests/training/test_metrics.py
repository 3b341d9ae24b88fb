import numpy as np

from medpic.training.metrics import (
    binary_metrics,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    roc_auc,
    sigmoid,
)


def test_temperature_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20_000)
    y = rng.random(20_000) < sigmoid(true_logits)
    t = fit_temperature(true_logits * 3.0, y)  # a model three times too sure of itself
    assert abs(t - 3.0) < 0.15
    assert expected_calibration_error(sigmoid(true_logits * 3 / t), y) < 0.02
    assert expected_calibration_error(sigmoid(true_logits * 3), y) > 0.05


def test_threshold_is_chosen_where_the_classes_separate():
    p = np.array([0.1, 0.2, 0.3, 0.65, 0.7, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    t = choose_threshold(p, y)
    assert 0.3 < t <= 0.65
    assert binary_metrics(p, y, t).accuracy == 1.0


def test_roc_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(1)
    p, y = rng.random(300), rng.random(300) < 0.4
    pairs = [(a > b) + 0.5 * (a == b) for a in p[y] for b in p[~y]]
    assert abs(roc_auc(p, y) - np.mean(pairs)) < 1e-9


def test_confusion_counts_and_precision_recall():
    m = binary_metrics(np.array([0.9, 0.8, 0.2, 0.6, 0.1]), np.array([1, 1, 1, 0, 0]), 0.5)
    assert (m.tp, m.fp, m.fn, m.tn) == (2, 1, 1, 1)
    assert abs(m.precision - 2 / 3) < 1e-9 and abs(m.recall - 2 / 3) < 1e-9
