"""The audit on hand-made claims: every check stays quiet on consistent numbers (the `*_ok`
items) and fires on a planted inconsistency (the `*_planted` items)."""
import textwrap

import pytest

from common.audit import IMPLAUSIBLE, audit, to_markdown
from common.claims import ClaimsError, load_claims

# A toy paper: two classes a, b; 100 test items (40 a, 60 b); the confusion matrix [[30, 10], [15, 45]]
# gives accuracy 0.75, P 0.6667 / 0.8182, R 0.75 / 0.75, F1 0.7059 / 0.7826, specificity 0.75 / 0.75,
# MCC 0.4924. Every `_ok` entry agrees with it; every `_planted` one breaks one definition.
TOY = "{dataset: toy, protocol: hold-out, unit: fraction, experiment: main"
CLAIMS = textwrap.dedent(f"""
    paper: toy
    claims:
      - {TOY}, id: acc_ok, source: T1, metric: accuracy, measures: test, reported: 0.75, printed: "75%", runs: 1, test_items: 100}}
      - {TOY}, id: typo_planted, source: T1, metric: accuracy, measures: test, reported: 0.57, printed: "75%"}}
      - {TOY}, id: bound_ok, source: T1, metric: val_accuracy, measures: validation, kind: lower_bound, reported: 0.85, printed: "+85%"}}
      - {TOY}, id: words_ok, source: T1, metric: output_units, measures: model, reported: 6, unit: count, printed: "35 inputs and six outputs"}}
      # one result in three places: the abstract disagrees, and its value is the other dataset's
      - {TOY}, id: abstract, source: Abstract, metric: accuracy, measures: test, reported: 0.80, printed: "80%", quantity: main_acc}}
      - {TOY}, id: table, source: T9, metric: accuracy, measures: test, reported: 0.7502, printed: "75.02%", quantity: main_acc}}
      - {TOY}, id: text, source: Sec 5, metric: accuracy, measures: test, reported: 0.750, printed: "75.0%", quantity: main_acc}}
      - {TOY}, id: other_ds, source: T10, metric: accuracy, measures: test, reported: 0.8, printed: "80%", quantity: other_acc}}
      - {TOY}, id: other_ds_2, source: Sec 6, metric: accuracy, measures: test, reported: 0.8, printed: "80.0%", quantity: other_acc}}
      # granularity: one run on 33 items is k/33 (96.97% or 100%), never 98.5%
      - {TOY}, id: gran_ok, source: T2, metric: accuracy, measures: test, reported: 0.9697, printed: "96.97%", runs: 1, test_items: 33}}
      - {TOY}, id: gran_planted, source: T2, metric: accuracy, measures: test, reported: 0.985, printed: "98.5%", runs: 1, test_items: 33}}
      # cross-entropy of one run's training data against its training accuracy
      - {{dataset: toy, protocol: p, experiment: run_ok, id: loss_ok, source: T3, metric: train_loss, measures: training, reported: 0.9, unit: loss, printed: "0.9"}}
      - {{dataset: toy, protocol: p, experiment: run_ok, id: tacc_75, source: T3, metric: train_accuracy, measures: training, reported: 0.75, unit: fraction, printed: "75%"}}
      - {{dataset: toy, protocol: p, experiment: run_bad, id: loss_planted, source: T4, metric: train_loss, measures: training, reported: 0.005, unit: loss, printed: "0.005"}}
      - {{dataset: toy, protocol: p, experiment: run_bad, id: tacc_planted, source: T4, metric: train_accuracy, measures: training, reported: 0.6, unit: fraction, printed: "60%"}}
    summaries:
      - {{id: ci_ok, source: T4, mean: 0.75, std: 0.02, n: 15, ci95: [0.7389, 0.7611]}}
      - {{id: ci_planted, source: T5, mean: 0.75, std: 0.02, n: 15, ci95: [0.70, 0.80]}}
      - {{id: std_ok, source: T6, mean: 0.9, std: 0.02, n: 15, ci95: [0.8889, 0.9111], test_items: 100}}
      - {{id: std_planted, source: T7, mean: 0.99512, std: 0.0026, n: 15, ci95: [0.9937, 0.9966], test_items: [32, 33]}}
    confusion_matrices:
      - id: cm_ok
        source: Fig 1
        class_names: [a, b]
        matrix: [[30, 10], [15, 45]]
        reported: {{accuracy: 0.75, recall: {{a: 0.75, b: 0.75}}}}
        dataset_counts: {{a: 40, b: 60}}
      - id: cm_planted
        source: Fig 2
        class_names: [a, b]
        matrix: [[30, 10], [15, 45]]
        reported: {{accuracy: 0.90}}
        dataset_counts: {{a: 41}}
    per_class_tables:
      - id: t_ok
        source: T2
        rows:
          a: {{precision: 0.6667, recall: 0.75, f1: 0.7059, specificity: 0.75, support: 40}}
          b: {{precision: 0.8182, recall: 0.75, f1: 0.7826, specificity: 0.75, support: 60}}
        macro: {{f1: 0.7443, recall: 0.75}}
        reported_accuracy: 0.75
        reported_mcc: 0.4924
      - id: t_planted  # F1 outside [P, R], counts not whole, accuracy above every recall, wrong macro/specificity/MCC
        source: T3
        rows:
          a: {{precision: 0.90, recall: 0.71, f1: 0.70, specificity: 0.50, support: 40}}
          b: {{precision: 0.95, recall: 0.75, f1: 0.84, specificity: 0.90, support: 60}}
        macro: {{f1: 0.90}}
        reported_accuracy: 0.90
        reported_mcc: 0.10
      - id: limit_planted  # every one of 55 items right and nothing else called a: a strong claim
        source: T4
        rows:
          a: {{precision: 1, recall: 1, f1: 1, support: 55}}
          b: {{precision: 0.5, recall: 0.5, f1: 0.5, support: 90}}
      - id: limit_ok  # perfect on 5 items happens
        source: T5
        rows:
          a: {{precision: 1, recall: 1, f1: 1, support: 5}}
          b: {{precision: 0.5, recall: 0.5, f1: 0.5, support: 90}}
    count_tables:
      - {{id: counts_ok, source: T6, counts: {{a: 40, b: 60}}, total: 100, dataset_counts: {{a: 40, b: 60}}}}
      - {{id: counts_planted, source: T7, counts: {{a: 40, b: 60}}, total: 99, dataset_counts: {{a: 41, b: 60}}}}
    model_summaries:
      - id: ms_ok
        source: T6
        layers:
          - {{name: features, type: TimeDistributed, output_shape: [null, 3, 512], params: 100}}
          - {{name: lstm, type: Bidirectional, cell: LSTM, output_shape: [null, 3, 256], params: 656384}}
          - {{name: dense, type: Dense, output_shape: [null, 128], params: 32896}}
          - {{name: bn, type: BatchNormalization, output_shape: [null, 128], params: 512}}
        total_params: 689892
        trainable_params: 689636
        non_trainable_params: 256
      - id: ms_planted
        source: T7
        layers:
          - {{name: a, type: Dense, output_shape: [null, 10], params: 110}}
          - {{name: b, type: Dense, output_shape: [null, 5], params: 60}}
          - {{name: c, type: BatchNormalization, output_shape: [null, 5], params: 20}}
        total_params: 200
        trainable_params: 195
""")


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "claims.yaml"
    path.write_text(CLAIMS)
    return audit(load_claims(path))


def failed(findings, item):
    return {f.check for f in findings if f.item == item and not f.consistent}


def test_consistent_numbers_pass(findings):
    for f in findings:
        if f.item.endswith("_ok"):
            assert f.consistent, f
    checked = {f.check for f in findings if f.item.endswith("_ok")}
    assert {"granularity", "cross-entropy >= (1 - accuracy) ln 2", "std possible for N runs on M items",
            "whole counts", "min(P,R) <= F1 <= max(P,R)", "min recall <= accuracy <= max recall",
            "macro f1 = mean of the rows", "specificity from the counts", "MCC from the counts",
            "layer params from shapes", "non-trainable >= batch-norm statistics", "counts add up",
            "counts vs dataset"} <= checked


def test_single_claims(findings):
    assert failed(findings, "typo_planted") == {"transcription"}
    assert not failed(findings, "bound_ok") and not failed(findings, "words_ok")  # "+85%", "six"


def test_one_result_stated_in_several_places(findings):
    main = next(f for f in findings if f.item == "main_acc")
    assert not main.consistent
    assert "Sec 5, T9: 75%" in main.paper and "Abstract: 80%" in main.paper  # who agrees with whom
    assert "Abstract: 80% equals other_acc as stated in T10, Sec 6" in main.detail  # a swap is named
    assert next(f for f in findings if f.item == "other_acc").consistent  # 80% and 80.0% agree


def test_granularity_and_the_std_of_repeated_runs(findings):
    planted = next(f for f in findings if f.item == "gran_planted")
    assert not planted.consistent and "32/33 = 96.970%" in planted.implied and "33/33 = 100.000%" in planted.implied
    # a mean of 15 runs on 32-33 items cannot be 99.512%, nor have a std of 0.26 points
    assert failed(findings, "std_planted") == {"granularity", "std possible for N runs on M items"}


def test_cross_entropy_cannot_be_below_what_the_errors_cost(findings):
    # 40% of training items wrong cost at least 0.4 ln 2 = 0.277 nats each on average: 0.005 is impossible
    assert failed(findings, "loss_planted") == {"cross-entropy >= (1 - accuracy) ln 2"}


def test_a_training_figure_equal_to_a_test_figure_is_implausible(findings):
    same = [f for f in findings if f.check == "a training figure equals a test figure"]
    assert [f.item for f in same] == ["tacc_75"]  # 75% training = 75% test; tacc_planted's 60% matches no test figure
    assert same[0].severity == IMPLAUSIBLE and "T1 (75%)" in same[0].implied


def test_confusion_matrix(findings):
    assert failed(findings, "cm_planted") == {"confusion -> accuracy", "confusion row total"}


def test_per_class_table_definitions(findings):
    assert failed(findings, "t_planted") == {
        "F1 = 2PR/(P+R)", "min(P,R) <= F1 <= max(P,R)", "whole counts", "predictions add up",
        "min recall <= accuracy <= max recall", "per-class -> accuracy", "macro f1 = mean of the rows",
        "specificity from the counts", "MCC from the counts"}


def test_a_perfect_score_on_many_items_is_flagged_with_its_sample_size(findings):
    limit = [f for f in findings if f.check == "a metric at its limit on many items"]
    assert [f.item for f in limit] == ["limit_planted"]
    assert limit[0].severity == IMPLAUSIBLE and "55 items" in limit[0].detail


def test_printed_counts_and_model_summaries(findings):
    assert failed(findings, "counts_planted") == {"counts add up", "counts vs dataset"}
    assert failed(findings, "ms_planted") == {"layer params add up", "layer params from shapes",
                                              "non-trainable >= batch-norm statistics"}


def test_the_markdown_lists_failures_as_sentences_worst_first_then_every_check(findings):
    text = to_markdown("toy", findings)
    listed = [line for line in text.splitlines() if line[:1].isdigit()]
    severities = [line.split("**")[1] for line in listed]
    assert severities == sorted(severities, key=["impossible", "inconsistent", "implausible"].index)
    assert set(severities) == {"impossible", "inconsistent", "implausible"}
    assert "98.500% (one run on 33 items); not a multiple of 1/(N*M)" in text  # the quote, then the arithmetic
    assert '<a id="toy"></a>' in text and "*toy: " in text and "found by: " in text  # the closing note
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert "**impossible**" in rows[0] and rows[-1].split(" | ")[4] == "ok"


def test_claims_without_a_way_to_check_them_are_refused(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  - {id: x, source: s, dataset: d, metric: accuracy, reported: 0.5, printed: '50%', "
                    "unit: fraction}\n")
    with pytest.raises(ClaimsError, match="why_not_checkable"):
        load_claims(path)
