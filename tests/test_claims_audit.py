"""The audit on hand-made claims: every check stays quiet on consistent numbers (the `*_ok`
items) and fires on a planted inconsistency (the `*_planted` items)."""
import textwrap

import pytest

from common.harness.audit import IMPLAUSIBLE, audit, to_markdown
from common.harness.judge.claims import ClaimsError, load_claims

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


# The text against the tables and the text's descriptions: each family fires on a planted inconsistency and stays
# quiet on a consistent twin. A toy paper of two datasets (d1: 50 subjects; d2: 80) and a printed layer table.
TEXT = textwrap.dedent(f"""
    paper: toy
    claims:
      - {TOY}, id: ours, source: T1, metric: accuracy, measures: test, reported: 0.6275, printed: "0.6275"}}
      - {TOY}, id: base, source: T1, metric: accuracy, measures: test, reported: 0.3206, printed: "0.3206"}}
      - {TOY}, id: ours_2, source: T1, metric: accuracy, measures: test, reported: 0.4298, printed: "0.4298"}}
      - {TOY}, id: base_2, source: T1, metric: accuracy, measures: test, reported: 0.4411, printed: "0.4411"}}
      - {TOY}, id: train, source: T3, metric: train_accuracy, measures: training, reported: 0.8972, printed: "89.72"}}
      - {TOY}, id: val, source: T3, metric: val_accuracy, measures: validation, reported: 0.853, printed: "85.30"}}
      - {TOY}, id: headline_ok, source: Conclusion, metric: accuracy, measures: test, reported: 0.62, printed: "62%", headline: true, of: [ours]}}
      - {TOY}, id: headline_planted, source: Conclusion, metric: accuracy, measures: test, reported: 0.42, printed: "42%", headline: true, of: [ours]}}
      - {TOY}, id: headline_training_planted, source: Abstract, metric: accuracy, measures: test, reported: 0.89, printed: "89%", headline: true, of: [train, val]}}
      - {TOY}, id: p_ok, source: T4, metric: macro_precision, measures: test, reported: 0.93, printed: "93"}}
      - {TOY}, id: r_ok, source: T4, metric: macro_recall, measures: test, reported: 0.923, printed: "92.3"}}
      - {TOY}, id: f_ok, source: T4, metric: macro_f1, measures: test, reported: 0.80, printed: "80"}}
      - {TOY}, id: p_planted, source: T5, metric: macro_precision, measures: test, reported: 0.89, printed: "89"}}
      - {TOY}, id: r_planted, source: T5, metric: macro_recall, measures: test, reported: 0.872, printed: "87.2"}}
      - {TOY}, id: f_planted, source: T5, metric: macro_f1, measures: test, reported: 0.93, printed: "93"}}
      - {{dataset: d3, protocol: p, unit: fraction, experiment: x, id: size_ok, source: T6, metric: accuracy, measures: test, reported: 0.985, printed: "98.5%"}}
      - {{dataset: d3, protocol: p, unit: fraction, experiment: x, id: size_planted, source: T6, metric: accuracy, measures: test, reported: 0.9947, printed: "99.47%"}}
    statements:
      - {{id: cmp_ok, source: S1, printed: "ours beats the base by 30%", higher: [[ours, base]], difference: 30%}}
      - {{id: cmp_planted, source: S2, printed: "ours beats all, in both tables", higher: [[ours, base], [ours_2, base_2]]}}
      - {{id: gap_planted, source: S3, printed: "24% above the base", higher: [[ours, base]], difference: 24%}}
      - {{id: gap_bound_ok, source: S4, printed: "more than 0.3 above", higher: [[ours, base]], difference: "0.3", difference_kind: lower_bound}}
    facts:
      - {{id: n, source: A, printed: "50 people", about: d1.subjects, value: 50}}
      - {{id: n_again, source: B, printed: "roughly 40 people", about: d1.subjects, value: 40, approx: true}}
      - {{id: female, source: A, printed: "42% female", about: d1.female, value: 42%, share_of: d1.subjects, partition: gender}}
      - {{id: male, source: A, printed: "58% male", about: d1.male, value: 58%, share_of: d1.subjects, partition: gender}}
      - {{id: race_a, source: A, printed: "7.4% a", about: d1.a, value: 7.4%, share_of: d1.subjects, partition: race}}
      - {{id: race_b, source: A, printed: "92.6% b", about: d1.b, value: 92.6%, share_of: d1.subjects, partition: race}}
      - {{id: n2, source: A, printed: "80 people", about: d2.subjects, value: 80}}
      - {{id: train_share, source: A, printed: "80% train", about: d2.train, value: 80%, share_of: d2.subjects, partition: split}}
      - {{id: val_share, source: A, printed: "20% val", about: d2.val, value: 20%, share_of: d2.subjects, partition: split}}
      - {{id: train_count, source: A, printed: "64 train", about: d2.train, value: 64, part_of: d2.subjects, partition: split}}
      - {{id: val_count, source: A, printed: "16 val", about: d2.val, value: 16, part_of: d2.subjects, partition: split}}
      - {{id: n1_count_planted, source: B, printed: "40 train", about: d1.train, value: 40, part_of: d1.subjects, partition: split}}
      - {{id: n1_val_planted, source: B, printed: "8 val", about: d1.val, value: 8, part_of: d1.subjects, partition: split}}
      - {{id: n1_val_share, source: B, printed: "10% val", about: d1.val, value: 10%, share_of: d1.subjects}}
      - {{id: age_a, source: A, printed: "aged 18 to 50", about: d1.age, value: [18, 50], unit: range}}
      - {{id: age_b, source: B, printed: "aged 18 to 30", about: d1.age, value: [18, 30], unit: range}}
      - {{id: classes, source: A, printed: "happy, sad", about: d2.classes, value: [happy, sad]}}
      - {{id: class_count, source: B, printed: "two classes", about: d2.class_count, value: 2}}
      - {{id: units_ok, source: C, printed: "128 and 64 units", about: net.recurrent_units, value: [128, 64], model: ms}}
      - {{id: out_planted, source: C, printed: "six output units", about: net.output_units, value: 6, model: ms}}
      - {{id: in_planted, source: C, printed: "35 input units", about: net.recurrent_input_units, value: 35, model: ms}}
      - {{id: uni_planted, source: C, printed: "a unidirectional LSTM", about: net.LSTM_layers, value: 1, model: ms}}
      - {{id: bi_ok, source: C, printed: "two bidirectional LSTMs", about: net.Bidirectional_layers, value: 2, model: ms}}
      - {{id: steps_ok, source: C, printed: "three frames", about: net.timesteps, value: 3, model: ms}}
      - {{id: size, source: C, printed: "10% of 327 images", about: d3.test_items, value: [32, 33]}}
      - {{id: runs, source: C, printed: "n = 15", about: d3.runs, value: 15}}
    model_summaries:
      - id: ms
        source: T9
        layers:
          - {{name: td, type: TimeDistributed, output_shape: [null, 3, 512], params: 1}}
          - {{name: bi1, type: Bidirectional, cell: LSTM, output_shape: [null, 3, 256], params: 1}}
          - {{name: bi2, type: Bidirectional, cell: LSTM, output_shape: [null, 128], params: 1}}
          - {{name: out, type: Dense, output_shape: [null, 5], params: 1}}
""")


@pytest.fixture(scope="module")
def text_findings(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "claims.yaml"
    path.write_text(TEXT)
    return audit(load_claims(path))


def one(findings, check, item):
    return next(f for f in findings if f.check == check and f.item == item)


def test_a_stated_comparison_is_checked_pair_by_pair_and_its_gap_in_points(text_findings):
    assert one(text_findings, "stated comparison", "cmp_ok").consistent
    assert one(text_findings, "stated difference", "cmp_ok").consistent  # 0.6275 - 0.3206 = 30.69 points: "30%" cut
    assert one(text_findings, "stated difference", "gap_bound_ok").consistent
    planted = one(text_findings, "stated comparison", "cmp_planted")  # "all": one pair of two goes the other way
    assert not planted.consistent and "ours_2 42.98% is not above base_2 44.11%" in planted.implied
    gap = one(text_findings, "stated difference", "gap_planted")
    assert not gap.consistent and "= 30.69% points" in gap.implied and gap.family == "comparison"


def test_a_headline_must_be_one_of_the_values_it_speaks_of(text_findings):
    assert one(text_findings, "headline vs the table values", "headline_ok").consistent  # 62.75% cut to 62%
    none = one(text_findings, "headline vs the table values", "headline_planted")
    assert not none.consistent and none.severity == "inconsistent" and "ours_2 (toy, 42.98%)" in none.implied
    training = one(text_findings, "headline vs the table values", "headline_training_planted")  # 89.72% training only
    assert not training.consistent and training.severity == IMPLAUSIBLE and "training 89.72%" in training.implied


def test_macro_f1_is_bounded_above_by_the_harmonic_mean_only(text_findings):
    # 80 lies below min(93, 92.3): possible for a macro average (per-class F1 are averaged after the harmonic mean)
    assert one(text_findings, "macro F1 <= 2PR/(P+R)", "f_ok").consistent
    planted = one(text_findings, "macro F1 <= 2PR/(P+R)", "f_planted")  # 93 above 2PR/(P+R) = 88.09
    assert not planted.consistent and planted.severity == "impossible" and "88.09%" in planted.implied


def test_a_single_class_f1_lies_between_its_precision_and_recall(findings):
    # the per-class table of the first toy: class a's F1 0.70 below min(P, R) = 0.71 fires, t_ok's rows do not
    outside = one(findings, "min(P,R) <= F1 <= max(P,R)", "t_planted")
    assert not outside.consistent and "a: F1 0.7 outside [0.71, 0.9]" in outside.paper
    assert one(findings, "min(P,R) <= F1 <= max(P,R)", "t_ok").consistent


def test_an_accuracy_fits_the_test_set_sizes_the_text_states(text_findings):
    assert one(text_findings, "granularity at the stated test-set sizes", "size_ok").consistent  # 473/480, 15 x 32
    planted = one(text_findings, "granularity at the stated test-set sizes", "size_planted")
    assert not planted.consistent and "1 or 15 run(s) on 32-33" in planted.detail


def test_dataset_arithmetic(text_findings):
    shares = {f.item: f for f in text_findings if f.check == "a share of N is k/N"}
    assert shares["d1.subjects (gender)"].consistent  # 42% and 58% of 50: 21 and 29 people
    race = shares["d1.subjects (race)"]  # 7.4% of 50 is 3.7 people
    assert not race.consistent and "7.4% of 50 is 3.7" in race.implied and "is 27" in race.detail
    assert one(text_findings, "split shares vs split counts", "d2.subjects (split)").consistent
    split = one(text_findings, "split shares vs split counts", "d1.subjects (split)")
    assert not split.consistent and "8 of 50 is 16.00%, the text's 10%" in split.implied
    assert one(text_findings, "parts add up to the whole", "d2.subjects (split)").consistent
    parts = one(text_findings, "parts add up to the whole", "d1.subjects (split)")  # 40 + 8 is not 50
    assert not parts.consistent and "they add up to 48" in parts.implied
    assert one(text_findings, "shares add up to 1", "d2.subjects (split)").consistent


def test_one_fact_one_value(text_findings):
    assert one(text_findings, "one fact, one value", "d1.subjects").consistent  # "roughly 40" is not read as 50
    # ... within one unit of its last digit: 40 +- 10 reaches 50
    assert one(text_findings, "one fact, one value", "d2.class_count").consistent  # a list of two names, "two classes"
    age = one(text_findings, "one fact, one value", "d1.age")
    assert not age.consistent and "18-50" in age.paper and "18-30" in age.paper


def test_the_architecture_text_against_the_printed_model_table(text_findings):
    checks = {f.item: f for f in text_findings if f.check == "architecture text vs the model table"}
    assert {item for item, f in checks.items() if not f.consistent} == {
        "net.output_units", "net.recurrent_input_units", "net.LSTM_layers"}
    assert "shows 512" in checks["net.recurrent_input_units"].implied and checks["net.timesteps"].consistent
    assert checks["net.recurrent_units"].consistent and checks["net.Bidirectional_layers"].consistent


def test_findings_are_plain_python_values(text_findings):
    import json
    json.dumps([vars(f) for f in text_findings])  # a numpy bool here broke results/audit.json
    assert all(type(f.consistent) is bool for f in text_findings)


def test_make_audit_runs_over_every_paper_and_writes_both_files(tmp_path):
    """The command `make audit` runs (`python -m papers audit`; `python -m papers` itself is run as a process by
    tests/test_bad_input.py), into a temporary folder."""
    import json

    import papers
    from common.harness.cli import main
    assert main(["audit", "--out", str(tmp_path)], papers) == 0
    written = json.loads((tmp_path / "audit.json").read_text())
    text = (tmp_path / "audit.md").read_text()
    assert set(written) == set(papers.PAPERS)
    for paper in papers.PAPERS:
        assert f'<a id="{paper}"></a>' in text and f"*{paper}: " in text  # its section and its closing note
        assert any(not f["consistent"] for f in written[paper])  # every paper has findings
