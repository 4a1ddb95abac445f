import numpy as np
import pytest
from sklearn import metrics as skm

from common.toolkit.eval.metrics import classification_metrics

CLASSES = ["a", "b", "c", "d"]


@pytest.fixture
def random_predictions():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 300)
    scores = rng.random((300, 4))
    scores[np.arange(300), y_true] += 0.4  # better than chance, not perfect
    return y_true, scores / scores.sum(1, keepdims=True)


@pytest.mark.parametrize("scores_as", ["given", "tied", "one class"])
def test_metrics_agree_with_scikit_learn(random_predictions, scores_as):
    y_true, scores = random_predictions
    if scores_as == "tied":  # many equal scores: ranks and the ROC curve must treat ties alike
        scores = np.round(scores, 1)
    if scores_as == "one class":  # every item predicted "a": MCC's degenerate case
        scores = np.column_stack([scores[:, 0] + 1, scores[:, 1:]])
    y_pred = scores.argmax(1)
    m = classification_metrics(y_true, scores, CLASSES)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert m["macro_precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro", zero_division=0))
    assert m["macro_recall"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro"))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y_true, y_pred))
    assert m["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred).tolist()
    for c, name in enumerate(CLASSES):
        positives = y_true == c
        assert m["per_class"][name]["roc_auc"] == pytest.approx(skm.roc_auc_score(positives, scores[:, c]))
        assert m["per_class"][name]["pr_ap"] == pytest.approx(skm.average_precision_score(positives, scores[:, c]))
        tn = np.sum((y_true != c) & (y_pred != c))
        fp = np.sum((y_true != c) & (y_pred == c))
        assert m["per_class"][name]["specificity"] == pytest.approx(tn / (tn + fp))


def test_absent_class_has_no_auc_and_is_left_out_of_macro_averages(random_predictions):
    y_true, scores = random_predictions
    keep = y_true != 3
    m = classification_metrics(y_true[keep], scores[keep], CLASSES)
    assert m["per_class"]["d"]["roc_auc"] is None
    y_pred = scores[keep].argmax(1)
    assert m["macro_recall"] == pytest.approx(skm.recall_score(y_true[keep], y_pred, labels=[0, 1, 2], average="macro"))


def test_no_interval_leaves_its_metrics_range_on_a_tiny_sample():
    """Two folds of 7 test items whose rates spread widely (as in a smoke run): the t-interval of their mean
    is wider than the range, and every interval is clipped to it (a backbone's accuracy is a rate too)."""
    from types import SimpleNamespace

    from common.harness.judge.evaluation import aggregate, metric_range
    from common.toolkit.experiment import FoldResult
    classes = ["a", "b", "c"]
    rng = np.random.default_rng(0)
    results, folds = {}, []
    for i, (extra_rate, gain) in enumerate([(0.99, 0.9), (0.4, -0.8)]):
        y = np.arange(7) % 3
        results[f"fold{i}"] = FoldResult(y, rng.uniform(size=(7, 3)), train_seconds=1.0, train_images=10, extra={
            "efficientnet_test_accuracy": extra_rate, "train_mcc": gain, "accuracy_gain": gain,
            "pca_explained_variance": extra_rate, "total_params": 100.0})
        folds.append(SimpleNamespace(name=f"fold{i}", test_index=np.arange(7) + 7 * i, train=range(20),
                                     val=range(5), test=range(7)))
    metrics = aggregate(results, folds, classes)["metrics"]
    assert metric_range("efficientnet_test_accuracy") == (0.0, 1.0) and metric_range("train_mcc") == (-1.0, 1.0)
    assert metrics["efficientnet_test_accuracy"]["ci95"][1] == 1.0 and metrics["accuracy_gain"]["ci95"][0] == -1.0
    for name, summary in metrics.items():
        low, high = metric_range(name)
        if summary["ci95"][0] is not None:
            assert low <= summary["ci95"][0] <= summary["ci95"][1] <= high, (name, summary["ci95"])
