"""The audit on hand-made claims: consistent numbers pass, each planted inconsistency is found."""
import textwrap

import pytest

from common.audit import audit
from common.claims import ABOVE, BELOW, INCONCLUSIVE, REPRODUCED, ClaimsError, load_claims, verdict

CLAIMS = textwrap.dedent("""
    paper: toy
    claims:
      - {id: acc, source: T1, dataset: toy, metric: accuracy, reported: 0.75, printed: "75%", experiment: main}
      - {id: typo, source: T1, dataset: toy, metric: accuracy, reported: 0.57, printed: "75%", experiment: main}
      - {id: abstract, source: Abstract, dataset: toy, metric: accuracy, reported: 0.7500, printed: "75.00%", experiment: main, quantity: main_acc}
      - {id: table, source: T9, dataset: toy, metric: accuracy, reported: 0.7502, printed: "75.02%", experiment: main, quantity: main_acc}
      - {id: conclusion, source: Sec 6, dataset: toy, metric: accuracy, reported: 0.80, printed: "80%", experiment: main, quantity: main_acc}
    confusion_matrices:
      - id: cm_ok
        source: Fig 1
        class_names: [a, b]
        matrix: [[30, 10], [15, 45]]
        reported: {accuracy: 0.75, recall: {a: 0.75, b: 0.75}}
        dataset_counts: {a: 40, b: 60}
      - id: cm_planted
        source: Fig 2
        class_names: [a, b]
        matrix: [[30, 10], [15, 45]]
        reported: {accuracy: 0.90}
        dataset_counts: {a: 41}
    per_class_tables:
      - id: t_ok
        source: T2
        rows: {a: {precision: 0.6667, recall: 0.75, f1: 0.7059, support: 40}, b: {precision: 0.8182, recall: 0.75, f1: 0.7826, support: 60}}
      - id: t_planted
        source: T3
        rows: {a: {precision: 0.90, recall: 0.75, f1: 0.70, support: 40}, b: {precision: 0.95, recall: 0.75, f1: 0.84, support: 60}}
    summaries:
      - {id: ci_ok, source: T4, mean: 0.75, std: 0.02, n: 15, ci95: [0.7389, 0.7611]}
      - {id: ci_planted, source: T5, mean: 0.75, std: 0.02, n: 15, ci95: [0.70, 0.80]}
    model_summaries:
      - {id: ms_ok, source: T6, layers: [{name: a, params: 10}, {name: b, params: 5}], total_params: 15, trainable_params: 15, non_trainable_params: 0}
      - {id: ms_planted, source: T7, layers: [{name: a, params: 10}, {name: b, params: 5}], total_params: 16}
""")


@pytest.fixture
def findings(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIMS)
    return audit(load_claims(path))


def test_consistent_numbers_pass(findings):
    for f in findings:
        if f.item.endswith("_ok") or f.item == "acc":
            assert f.consistent, f


def test_every_planted_inconsistency_is_found(findings):
    bad = {(f.item, f.check) for f in findings if not f.consistent}
    assert ("typo", "transcription") in bad
    assert ("cm_planted", "confusion -> accuracy") in bad
    assert ("cm_planted", "confusion row total") in bad
    assert ("t_planted", "F1 = 2PR/(P+R)") in bad
    assert ("t_planted", "predictions add up") in bad
    assert ("ci_planted", "CI from mean, std, n") in bad
    assert ("ms_planted", "layer params add up") in bad
    stated_twice = {f.implied.split(":")[0]: f.consistent for f in findings if f.check == "one result, stated twice"}
    assert stated_twice == {"table": True, "conclusion": False}
    planted = next(f for f in findings if f.item == "cm_planted" and f.check == "confusion -> accuracy")
    assert "0.9" in planted.paper and "0.75" in planted.implied  # both sides are shown


def test_claims_without_a_way_to_check_them_are_refused(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - {id: x, source: s, dataset: d, metric: accuracy, reported: 0.5, printed: '50%'}\n")
    with pytest.raises(ClaimsError, match="why_not_checkable"):
        load_claims(path)


def test_verdicts():
    several = {"mean": 0.70, "ci95": [0.68, 0.72], "n": 5}
    assert verdict(0.71, several) == REPRODUCED
    assert verdict(0.75, several) == BELOW  # the paper reports more than we achieve
    assert verdict(0.60, several) == ABOVE
    single = {"mean": 0.70, "ci95": [0.70, 0.70], "n": 1}
    assert verdict(0.715, single) == REPRODUCED
    assert verdict(0.73, single, tolerance=0.01) == BELOW
    wide = {"mean": 0.51, "ci95": [0.04, 0.98], "n": 3}
    assert verdict(0.85, wide) == INCONCLUSIVE  # a CI this wide would "reproduce" almost anything
    assert verdict(5_530_309, {"mean": 5_530_309, "ci95": [5_530_309, 5_530_309], "n": 3}, unit="parameters") == REPRODUCED


def test_a_loss_claim_prints_as_a_number_and_an_accuracy_as_a_percentage():
    from common.report import _achieved
    loss = {"mean": 1.2921, "std": 0.0, "ci95": [1.2921, 1.2921], "n": 1}
    assert _achieved(loss, "cross-entropy") == "1.292 (1 run)"
    assert _achieved({**loss, "mean": 0.6012}) == "60.12% (1 run)"
    assert _achieved({"mean": 5530309.0, "std": 0.0, "ci95": [5530309.0, 5530309.0], "n": 3}, "parameters") == \
        "5,530,309 [5,530,309, 5,530,309] (n=3)"
