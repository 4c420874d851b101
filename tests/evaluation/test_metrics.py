import math

import pytest
import torch

from video3d.evaluation.metrics import compute_metrics, mean_class_accuracy, rank_classes, topk_accuracy


def test_rank_classes_puts_the_prediction_first_then_orders_by_probability():
    probs = torch.tensor([[0.1, 0.5, 0.4], [0.2, 0.3, 0.5]])
    ranked = rank_classes(probs, torch.tensor([2, 2]), k=3)
    assert ranked.tolist() == [[2, 1, 0], [2, 1, 0]]


def test_rank_classes_breaks_probability_ties_by_lower_class_index():
    probs = torch.tensor([[0.25, 0.25, 0.25, 0.25]])
    assert rank_classes(probs, torch.tensor([3]), k=4).tolist() == [[3, 0, 1, 2]]


def test_rank_classes_caps_k_at_the_number_of_classes():
    assert rank_classes(torch.tensor([[0.7, 0.3]]), torch.tensor([0]), k=5).shape == (1, 2)


def test_topk_accuracy_counts_labels_within_the_first_k_columns():
    ranked = torch.tensor([[0, 1, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    labels = torch.tensor([0, 2, 1, 0])
    assert topk_accuracy(ranked, labels, 1) == pytest.approx(25.0)
    assert topk_accuracy(ranked, labels, 2) == pytest.approx(50.0)
    assert topk_accuracy(ranked, labels, 3) == pytest.approx(100.0)


def test_mean_class_accuracy_weights_classes_equally_on_an_unbalanced_set():
    # class 0: 4 of 4 right; class 1: 0 of 1; class 2: 1 of 2 -> (100 + 0 + 50) / 3 = 50 %,
    # while plain top-1 is 5 / 7 = 71.43 %.
    labels = torch.tensor([0, 0, 0, 0, 1, 2, 2])
    preds = torch.tensor([0, 0, 0, 0, 0, 2, 1])
    assert mean_class_accuracy(preds, labels) == pytest.approx(50.0)
    probs = torch.nn.functional.one_hot(preds, 4).float()
    metrics = compute_metrics(probs, preds, labels)
    assert metrics["top1"] == pytest.approx(500 / 7)
    assert metrics["mean_class_acc"] == pytest.approx(50.0)


def test_mean_class_accuracy_ignores_classes_without_test_videos():
    # class 3 has no video: averaging only classes 0 and 1 gives (100 + 50) / 2.
    labels = torch.tensor([0, 1, 1])
    preds = torch.tensor([0, 1, 3])
    assert mean_class_accuracy(preds, labels) == pytest.approx(75.0)


def test_top5_uses_the_voted_class_even_when_it_is_not_the_most_probable():
    # the label (3) ranks sixth by probability, but it is the prediction: top-1 and top-5 hit.
    probs = torch.tensor([[0.3, 0.2, 0.15, 0.01, 0.12, 0.11, 0.11]])
    metrics = compute_metrics(probs, torch.tensor([3]), torch.tensor([3]))
    assert metrics["top1"] == pytest.approx(100.0)
    assert metrics["top5"] == pytest.approx(100.0)


def test_top5_on_a_hand_computed_toy_set():
    probs = torch.tensor([
        [0.30, 0.25, 0.20, 0.10, 0.08, 0.07],  # label 4: fifth -> top-5 hit
        [0.30, 0.25, 0.20, 0.10, 0.08, 0.07],  # label 5: sixth -> miss
        [0.05, 0.05, 0.10, 0.10, 0.20, 0.50],  # label 5: first -> top-1 hit
    ])
    preds = probs.argmax(dim=1)
    metrics = compute_metrics(probs, preds, torch.tensor([4, 5, 5]))
    assert metrics["top1"] == pytest.approx(100 / 3)
    assert metrics["top5"] == pytest.approx(200 / 3)


def test_metrics_of_no_videos_are_nan():
    empty = torch.zeros(0, 3)
    metrics = compute_metrics(empty, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert all(math.isnan(value) for value in metrics.values())
