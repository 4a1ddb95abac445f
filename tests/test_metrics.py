import numpy as np
import pytest
from sklearn import metrics as skm

from common.metrics import classification_metrics

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
