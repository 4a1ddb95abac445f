"""The verdict rules, the intervals and the scoreboard's choice of run, each on constructed runs."""
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import papers
from common.harness.judge.claims import ClaimsError, load_claims
from common.harness.judge.evaluation import aggregate
from common.harness.judge.verdicts import (
    ABOVE,
    BELOW,
    DEGENERATE,
    INCONCLUSIVE,
    NOT_COMPARABLE,
    REPRODUCED,
    compare,
    judge,
)
from common.harness.report.cells import achieved, reported
from common.harness.report.run import write_run
from common.harness.report.scoreboard import finished_runs, speaking_run, write_scoreboard
from common.harness.run import record as run_record
from common.toolkit.experiment import FoldResult

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FER2013 = papers.experiments("sdl_stn")["fer2013"]
FER2013_CLAIMS = Path(__file__).resolve().parents[1] / "papers" / "sdl_stn" / "claims.yaml"


def fold(name, test_index, train=100, val=20):
    return SimpleNamespace(name=name, test_index=np.asarray(test_index), train=range(train), val=range(val),
                           test=range(len(test_index)))


def predictions(y_true, accuracy, seed=0):
    """Scores whose argmax is right for the first `accuracy` share of the items, wrong (next class) after."""
    y_true = np.asarray(y_true)
    right = np.arange(len(y_true)) < round(accuracy * len(y_true))
    y_pred = np.where(right, y_true, (y_true + 1) % len(CLASSES))
    scores = np.random.default_rng(seed).uniform(0, 0.5, (len(y_true), len(CLASSES)))
    scores[np.arange(len(y_true)), y_pred] = 1.0
    return scores


def balanced_labels(n):
    return np.arange(n) % len(CLASSES)


def one_run(n=700, accuracy=0.7, name="official"):
    y = balanced_labels(n)
    results = {name: FoldResult(y, predictions(y, accuracy), history={"loss": [1.0, 0.9]}, epochs=2)}
    return results, [fold(name, np.arange(n))]


def make_record(tmp_path, results, folds, config_overrides=None, smoke=False, written="2026-01-01 00:00:00",
                exp=FER2013):
    config = exp.resolved_config(False, config_overrides or {})
    data = tmp_path / "data.csv"
    data.write_text("stand-in for the dataset file")
    summary = {"total": 1000, "path": str(data), "skipped": [], "splits": None}
    record = run_record.build(exp, config, "hash", smoke, summary, folds, results,
                              aggregate(results, folds, CLASSES), CLASSES, data)
    record.written = written
    return record


def claim(reported, kind="point", unit="fraction", **extra):
    return {"id": "c", "source": "test", "dataset": "fer2013", "metric": "accuracy", "reported": reported,
            "printed": "", "unit": unit, "kind": kind, "measures": "test", "experiment": "fer2013", **extra}


def test_a_model_that_predicts_one_class_is_a_degenerate_run(tmp_path):
    y = balanced_labels(700)
    one_class = np.zeros((700, len(CLASSES)))
    one_class[:, 3] = 1.0  # every face "happy", as the collapsed FER2013 run
    results = {"official": FoldResult(y, one_class, epochs=300)}
    record = make_record(tmp_path, results, [fold("official", np.arange(700))])
    assert record.degenerate and "happy" in record.degenerate["official"][0]
    for c in load_claims(FER2013_CLAIMS)["claims"]:
        if c["experiment"] == "fer2013":
            assert judge(c, record)[0] == DEGENERATE  # not even the happy recall of 100% "reproduces"


def test_a_non_finite_loss_makes_a_run_degenerate(tmp_path):
    results, folds = one_run()
    results["official"].history = {"loss": [1.0, float("nan")]}
    assert "non-finite" in " ".join(make_record(tmp_path, results, folds).degenerate["official"])


def test_a_cut_down_run_is_not_comparable_and_says_why(tmp_path):
    results, folds = one_run(accuracy=0.75)
    record = make_record(tmp_path, results, folds, {"epochs": 70, "protocol": {"repeats": 1}})
    verdict, why = judge(claim(0.7492), record)
    assert verdict == NOT_COMPARABLE and "70/300 epochs" in why and "1 of 15 repeats" in why


def test_a_run_of_the_first_folds_only_is_a_sample_of_the_folds_it_ran():
    from common.harness.judge.verdicts import recipe_differences
    kfold = papers.experiments("sdl_stn")["ckplus_subject_10fold"]
    def fold_differences(overrides):
        config = kfold.resolved_config(False, overrides)
        return [d for d in recipe_differences(run_record.recipe_fields(kfold, config)) if "folds" in d[1]]
    assert fold_differences({"protocol": {"folds_to_run": 3}}) == [("sample", "3 of 10 folds trained")]
    assert fold_differences({"protocol": {"k": 5}}) == [("other recipe", "folds 5 (our full recipe; the paper gives "
                                                         "none: 10)")]  # another k trains on another share
    assert fold_differences({}) == []


def test_the_papers_recipe_gets_a_verdict(tmp_path):
    results, folds = one_run(n=3500, accuracy=0.75)
    record = make_record(tmp_path, results, folds, {"protocol": {"repeats": 15}})
    assert record.deviations and not any(d.startswith(("Cut-down", "Other recipe")) for d in record.deviations)
    assert judge(claim(0.7492), record)[0] == REPRODUCED
    assert judge(claim(0.80), record)[0] == BELOW
    assert judge(claim(0.70), record)[0] == ABOVE


def test_a_one_epoch_run_does_not_replace_a_full_run_on_the_scoreboard(tmp_path):
    root = tmp_path / "results"
    full, folds = one_run(n=3500, accuracy=0.75)
    for name, overrides, written in (("full", {"protocol": {"repeats": 15}}, "2026-01-01 00:00:00"),
                                     ("smoke-length", {"epochs": 1}, "2026-02-01 00:00:00")):
        run_dir = root / "sdl_stn" / "fer2013" / name
        run_dir.mkdir(parents=True)
        write_run(run_dir, make_record(tmp_path, full, folds, overrides, written=written))
    board = write_scoreboard(root).read_text()
    assert "(sdl_stn/fer2013/full/report.md)" in board and "smoke-length/report.md" not in board
    assert "smoke-length" in (root / "sdl_stn" / "RUNS.md").read_text()  # listed, not hidden
    assert {r.run_id for r in finished_runs(root)["sdl_stn", "fer2013"]} == {"full", "smoke-length"}


def test_a_bound_is_scored_as_a_bound():
    achieved = {"mean": 0.90, "ci95": [0.88, 0.92], "n": 1}
    assert compare(claim(0.85, "lower_bound"), achieved)[0] == REPRODUCED
    assert compare(claim(0.85), achieved)[0] == ABOVE  # the same number read as a point
    assert compare(claim(0.95, "lower_bound"), achieved)[0] == BELOW
    assert compare(claim(0.95, "upper_bound"), achieved)[0] == REPRODUCED
    assert compare(claim([0.80, 0.87], "range"), achieved)[0] == ABOVE


def test_a_wide_interval_is_inconclusive_for_every_unit():
    assert compare(claim(0.85), {"mean": 0.80, "ci95": [0.70, 0.90], "n": 3})[0] == INCONCLUSIVE
    loss = claim(0.91, unit="loss", metric="train_loss")
    assert compare(loss, {"mean": 1.0, "ci95": [0.7, 1.3], "n": 3})[0] == INCONCLUSIVE
    assert compare(loss, {"mean": 0.92, "ci95": [0.90, 0.94], "n": 3})[0] == REPRODUCED
    assert compare(loss, {"mean": 0.92, "ci95": [None, None], "n": 1})[0] == INCONCLUSIVE  # no interval at all


def test_a_claims_file_with_a_fraction_above_one_is_rejected(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n- {id: table3_acc, source: Table 3, dataset: fer2013, metric: accuracy, "
                    "reported: 1.3, printed: '1.3', unit: fraction, experiment: fer2013}\n")
    with pytest.raises(ClaimsError, match=r"claims\.yaml: claim table3_acc: reported 1.3 is outside \[0.0, 1.0\]"):
        load_claims(path)


def test_a_single_runs_interval_widens_as_its_test_set_shrinks():
    widths = []
    for n in (2800, 700, 70):
        results, folds = one_run(n=n, accuracy=0.7)
        lo, hi = aggregate(results, folds, CLASSES)["metrics"]["accuracy"]["ci95"]
        widths.append(hi - lo)
    assert widths[0] < widths[1] < widths[2]
    assert widths[1] == pytest.approx(2 * 1.96 * np.sqrt(0.7 * 0.3 / 700), rel=0.05)


def test_each_test_item_counts_once_whatever_the_protocol():
    y = balanced_labels(70)
    repeats = {f"repeat{r}": FoldResult(y, predictions(y, 0.7, seed=r)) for r in range(3)}
    shared = aggregate(repeats, [fold(name, np.arange(70)) for name in repeats], CLASSES)
    assert np.sum(shared["confusion_matrix"]) == pytest.approx(70) and shared["test_items"] == 70
    kfold = {f"fold{i}": FoldResult(y[i::2], predictions(y[i::2], 0.7)) for i in range(2)}
    disjoint = aggregate(kfold, [fold(f"fold{i}", np.arange(70)[i::2]) for i in range(2)], CLASSES)
    assert np.sum(disjoint["confusion_matrix"]) == pytest.approx(70) and disjoint["test_items"] == 70


def test_repeats_on_one_test_set_keep_its_sampling_error():
    """Fifteen identical runs on 700 items have no spread, yet their mean is only known to the test set's
    precision: the interval keeps the binomial width of 700 items."""
    y = balanced_labels(700)
    results = {f"repeat{r}": FoldResult(y, predictions(y, 0.7)) for r in range(15)}
    summary = aggregate(results, [fold(n, np.arange(700)) for n in results], CLASSES)["metrics"]["accuracy"]
    assert summary["std"] == pytest.approx(0) and summary["ci95"][1] - summary["ci95"][0] == pytest.approx(
        2 * 1.96 * np.sqrt(0.7 * 0.3 / 700), rel=0.01)


def test_a_gain_over_a_baseline_tested_on_the_same_items_counts_their_sampling():
    """Three folds tested on the same 50 clips, the model 4 points below its baseline in each (wrong on 4 clips
    the baseline gets right, right on 2 it misses): the folds agree, so the spread over runs alone would be a
    point and reject a claimed +5. The clips' sampling makes it about +-10 points, which decides nothing; and a
    run that recorded only each fold's gain is not judged on it."""
    y = balanced_labels(50)
    model_right, baseline_right = np.ones(50), np.ones(50)
    model_right[:4], baseline_right[4:6] = 0, 0
    gain = model_right - baseline_right

    def summary(per_item):
        results = {f"fold{i}": FoldResult(y, predictions(y, 0.9), extra={"accuracy_gain": gain.mean()},
                                          extra_per_item={"accuracy_gain": gain} if per_item else {})
                   for i in range(3)}
        return aggregate(results, [fold(name, np.arange(50)) for name in results], CLASSES)["metrics"]["accuracy_gain"]
    claimed = claim(0.05, metric="accuracy_gain")
    per_clip, per_fold = summary(per_item=True), summary(per_item=False)
    assert per_clip["mean"] == pytest.approx(-0.04) and per_clip["method"] == "runs + test items"
    half = (per_clip["ci95"][1] - per_clip["ci95"][0]) / 2
    assert half == pytest.approx(1.96 * np.std(gain, ddof=1) / np.sqrt(50), rel=0.01)
    assert compare(claimed, per_clip) == (INCONCLUSIVE, "interval +-9.6 points is wider than +-5.0 points")
    assert per_fold["ci95"] == pytest.approx([-0.04, -0.04])
    verdict, why = compare(claimed, per_fold)
    assert verdict == INCONCLUSIVE and "the sampling of the test items is left out" in why


def test_reported_and_achieved_print_in_one_unit_with_clipped_bounds():
    loss = {"mean": 1.2921, "std": 0.0, "ci95": [None, None], "n": 1}
    assert achieved(loss, "loss") == "1.292 (1 run)"  # no interval: a single run without per-item data
    assert achieved({"mean": 0.6012, "ci95": [0.5851, 0.6171], "n": 1}) == "60.12% [58.51%, 61.71%] (1 run)"
    assert achieved({"mean": 5530309.0, "ci95": [5530309.0, 5530309.0], "n": 3}, "parameters") == \
        "5,530,309 [5,530,309, 5,530,309] (n=3)"
    assert reported(claim(0.85, "lower_bound")) == "≥ 85.00%" and reported(claim(0.91, unit="loss")) == "0.91"
    results, folds = one_run(n=20, accuracy=1.0)
    assert aggregate(results, folds, CLASSES)["metrics"]["accuracy"]["ci95"][1] == 1.0  # never above 100%


def repeats_of(accuracies, n=700):
    """One result per repeat on the same n test items, the r-th right on accuracies[r] of them."""
    y = balanced_labels(n)
    results = {f"repeat{r}": FoldResult(y, predictions(y, a, seed=r), history={"loss": [1.0]}, epochs=300)
               for r, a in enumerate(accuracies)}
    return results, [fold(name, np.arange(n)) for name in results]


def test_a_sample_of_the_protocols_repeats_gets_a_verdict_on_a_wider_interval(tmp_path):
    per_run = [0.74, 0.75, 0.76]
    sample = make_record(tmp_path, *repeats_of(per_run), {"protocol": {"repeats": 3}})
    full = make_record(tmp_path, *repeats_of(per_run * 5), {"protocol": {"repeats": 15}})
    verdict, why = judge(claim(0.75), sample)
    assert verdict == REPRODUCED and "a sample: 3 of 15 repeats" in why
    assert judge(claim(0.85), sample)[0] == BELOW
    width = lambda record: np.diff(record.metrics["accuracy"]["ci95"])[0]
    assert width(sample) > width(full)  # the same per-run results: only the number of runs differs
    assert sample.faithfulness < full.faithfulness


def test_one_run_of_a_protocol_of_several_is_not_a_sample(tmp_path):
    record = make_record(tmp_path, *repeats_of([0.75]), {"protocol": {"repeats": 1}})
    verdict, why = judge(claim(0.75), record)
    assert verdict == NOT_COMPARABLE and "1 of 15 repeats" in why and "no spread over runs" in why


def test_one_run_of_the_papers_recipe_that_collapsed_is_the_finding(tmp_path):
    """A failure needs no spread over runs: one collapsed run at the per-run recipe is a degenerate run and speaks
    before a cut-down run, while one cut short stays not comparable."""
    y = balanced_labels(700)
    one_class = np.zeros((700, len(CLASSES)))
    one_class[:, 3] = 1.0
    collapsed = {"repeat0": FoldResult(y, one_class, epochs=300)}
    full = make_record(tmp_path, collapsed, [fold("repeat0", np.arange(700))], {"protocol": {"repeats": 1}})
    verdict, why = judge(claim(0.7492), full)
    assert verdict == DEGENERATE and "'happy'" in why and "a sample: 1 of 15 repeats" in why
    short = make_record(tmp_path, collapsed, [fold("repeat0", np.arange(700))],
                        {"epochs": 70, "protocol": {"repeats": 1}}, written="2026-02-01 00:00:00")
    verdict, why = judge(claim(0.7492), short)
    assert verdict == NOT_COMPARABLE and "70/300 epochs" in why and "no spread" in why and "degenerate" in why
    assert speaking_run([full, short]) is full


def test_a_sample_at_a_shorter_length_or_another_rate_stays_not_comparable(tmp_path):
    results, folds = repeats_of([0.74, 0.75, 0.76])
    for overrides, reason in (({"epochs": 70}, "cut-down: 70/300 epochs"),
                              ({"learning_rate": 0.001}, "learning_rate 0.001 (paper: 0.03)")):
        record = make_record(tmp_path, results, folds, {"protocol": {"repeats": 3}, **overrides})
        verdict, why = judge(claim(0.75), record)
        assert verdict == NOT_COMPARABLE and reason in why


def test_a_collapsed_sample_of_the_papers_recipe_is_the_finding(tmp_path):
    """A degenerate run speaks when it is the most faithful comparable run; among runs that are not
    comparable, one that learned outranks one that did not, and more folds outrank fewer."""
    y = balanced_labels(700)
    one_class = np.zeros((700, len(CLASSES)))
    one_class[:, 5] = 1.0
    collapsed = {f"repeat{r}": FoldResult(y, one_class, epochs=300) for r in range(3)}
    printed = make_record(tmp_path, collapsed, [fold(n, np.arange(700)) for n in collapsed],
                          {"protocol": {"repeats": 3}}, written="2026-01-01 00:00:00")
    learned = make_record(tmp_path, *repeats_of([0.8] * 3), {"protocol": {"repeats": 3}, "learning_rate": 0.001},
                          written="2026-02-01 00:00:00")
    assert speaking_run([printed, learned]) is printed
    assert judge(claim(0.75), printed)[0] == DEGENERATE
    assert judge(claim(0.75), learned)[0] == NOT_COMPARABLE

    kfold = papers.experiments("sdl_stn")["ckplus_subject_10fold"]
    def subject_run(accuracy, folds, overrides, written):
        results, _ = repeats_of([accuracy] * folds, n=70)
        results = {f"fold{i}": r for i, r in enumerate(results.values())}
        return make_record(tmp_path, results, [fold(n, np.arange(70) + 70 * i) for i, n in enumerate(results)],
                           overrides, written=written, exp=kfold)
    ten_folds_learned = subject_run(0.7, 10, {"epochs": 5, "learning_rate": 0.001}, "2026-01-01 00:00:00")
    one_fold_collapsed = subject_run(0.0, 1, {"epochs": 10, "protocol": {"folds_to_run": 1}}, "2026-03-01 00:00:00")
    assert one_fold_collapsed.degenerate and not ten_folds_learned.degenerate
    assert speaking_run([ten_folds_learned, one_fold_collapsed]) is ten_folds_learned
    three_folds_learned = subject_run(0.7, 3, {"epochs": 5, "learning_rate": 0.001,
                                               "protocol": {"folds_to_run": 3}}, "2026-04-01 00:00:00")
    assert speaking_run([ten_folds_learned, three_folds_learned]) is ten_folds_learned


def test_where_the_paper_gives_no_length_the_length_rule_is_the_full_recipe(tmp_path):
    crnn = papers.experiments("crnn_candide")["crnn"]
    patience, most = crnn.config["early_stopping_patience"], crnn.config["epochs"]
    def epochs_field(overrides, trained):
        config = crnn.resolved_config(False, overrides)
        fields = {f["label"]: f for f in run_record.recipe_fields(crnn, config, trained)}
        from common.harness.judge.verdicts import recipe_differences
        return fields["epochs"], recipe_differences(fields.values())
    field, differences = epochs_field({}, [31, 40, most])
    assert field["rule"] == f"until the validation accuracy has not improved for {patience} epochs, at most {most}"
    assert differences == []
    # capped below the rule's length: cut-down, unless every fold stopped by the rule before the cap
    field, differences = epochs_field({"epochs": 12}, [12, 9, 12])
    assert differences == [("cut-down", f"12/{most} epochs (our full recipe: {field['rule']}; the paper gives none)")]
    assert epochs_field({"epochs": 40}, [31, 25, 38])[1] == []
    # another patience is another recipe
    assert epochs_field({"early_stopping_patience": 3}, [10, 9, 12])[1] == [
        ("other recipe", f"patience 3 (our full recipe; the paper gives none: {patience})")]
    # the scoreboard's epochs column does not present our cap as the paper's length
    from common.harness.report.scoreboard import _epochs
    field = epochs_field({}, [31, 40, most])[0]
    assert _epochs(SimpleNamespace(recipe=[field])) == f"{most} / none (ours {most})"
    printed = {"label": "epochs", "run": 70, "target": 300, "source": "paper"}
    assert _epochs(SimpleNamespace(recipe=[printed])) == "70 / 300"


def test_a_verdict_names_the_settings_the_paper_leaves_open(tmp_path):
    """sdl_stn's paper gives no batch size: a verdict on its recipe holds at ours, and says so; a verdict on a
    recipe the paper gives whole would name none."""
    sample = make_record(tmp_path, *repeats_of([0.74, 0.75, 0.76]), {"protocol": {"repeats": 3}})
    verdict, why = judge(claim(0.75), sample)
    assert verdict == REPRODUCED
    assert why.endswith(f"at our choices where the paper gives none: batch_size {FER2013.config['batch_size']}")
    assert "repeats" not in why.split("at our choices")[1]  # how many ran is the sample, not a setting
    whole = [{**field, "source": "paper"} for field in sample.recipe]
    assert judge(claim(0.75), SimpleNamespace(**{**vars(sample), "recipe": whole}))[1] == "a sample: 3 of 15 repeats"


def test_the_scoreboard_draws_the_claims_a_run_decides_and_no_stale_figure(tmp_path):
    root = tmp_path / "results"
    run_dir = root / "sdl_stn" / "fer2013" / "sample"
    run_dir.mkdir(parents=True)
    write_run(run_dir, make_record(tmp_path, *repeats_of([0.74, 0.75, 0.76]), {"protocol": {"repeats": 3}}))
    board = write_scoreboard(root).read_text()
    assert "](scoreboard.png)" in board and (root / "scoreboard.png").stat().st_size > 10_000
    shutil.rmtree(run_dir)  # the one deciding run gone: only a cut-down run is left, which decides nothing
    run_dir.with_name("cut").mkdir()
    write_run(run_dir.with_name("cut"), make_record(tmp_path, *repeats_of([0.74] * 3),
                                                    {"protocol": {"repeats": 3}, "epochs": 10}))
    assert "scoreboard.png" not in write_scoreboard(root).read_text() and not (root / "scoreboard.png").exists()


def test_rereport_renders_the_ablation_runs_and_their_scoreboard_too(tmp_path, monkeypatch):
    from common.harness.cli import main
    from common.harness.run import runner
    monkeypatch.setattr(runner, "DEFAULT_OUT", tmp_path / "results")
    for root in (tmp_path / "results", tmp_path / "results" / "ablations"):
        run_dir = root / "sdl_stn" / "fer2013" / "20260101-000000-abc"
        run_dir.mkdir(parents=True)
        write_run(run_dir, make_record(tmp_path, *one_run(), {"epochs": 20}))
        (run_dir / "report.md").write_text("an old rendering")
    assert main(["rereport"], papers) == 0
    for root in (tmp_path / "results", tmp_path / "results" / "ablations"):
        assert "cut-down: 20/300 epochs" in (root / "sdl_stn" / "fer2013" / "20260101-000000-abc" / "report.md").read_text()
        assert "20260101-000000-abc" in (root / "README.md").read_text()


def test_the_report_shows_each_folds_own_rates(tmp_path):
    y = balanced_labels(70)
    results = {f"fold{i}": FoldResult(y, predictions(y, 0.7), extra={"val_accuracy": val, "baseline_accuracy": 0.9,
                                                                      "total_params": 1000.0}, epochs=5)
               for i, val in enumerate((0.61, 0.83))}
    folds = [fold(name, np.arange(70) + 70 * i) for i, name in enumerate(results)]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_run(run_dir, make_record(tmp_path, results, folds, exp=papers.experiments("sdl_stn")["ckplus_subject_10fold"]))
    table = (run_dir / "report.md").read_text().split("## Per fold / run")[1]
    assert "| accuracy | baseline_accuracy | val_accuracy | epochs |" in table and "total_params" not in table
    assert "| fold1 | 100 | 20 | 70 | 70.00% | 90.00% | 83.00% | 5 |" in table
    assert run_record.RunRecord.read(run_dir).folds[0]["extra"]["val_accuracy"] == 0.61
