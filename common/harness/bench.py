"""`make bench`: run every paper's benchmarks, write one JSON per benchmark, print a table.

A paper lists its benchmarks in `BENCHMARKS = {name: function(quick) -> dict}`;
each returns {"what": ..., "figures": {name: number}} and, for a side-by-side
comparison, "comparison": {"ours": ..., "theirs": ..., "ratio": ...}.
"""
from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import numpy as np

from common.toolkit.train.fit import environment


def run_benchmarks(benchmarks: dict, out_dir, quick=False):
    """benchmarks: {"paper/name": function}; one JSON each into out_dir (`make bench`: runs/bench/, scratch;
    `make bench-commit`: results/bench/, the committed figures), each naming the machine that made it.
    Returns the records written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    records = []
    for name, function in benchmarks.items():
        print(f"bench {name} ...", flush=True)
        start = time.perf_counter()
        try:
            record = {"status": "ok", **function(quick)}
        except Exception as error:  # one broken benchmark must not hide the others' figures
            record = {"status": "failed", "what": name, "error": f"{type(error).__name__}: {error}",
                      "traceback": traceback.format_exc(limit=5)}
        record.update(name=name, quick=quick, seconds=round(time.perf_counter() - start, 1),
                      device=env["device"], backend=env["backend"], environment=env,
                      written=time.strftime("%Y-%m-%d %H:%M:%S"))
        device_tag = "" if env["device"].startswith("cpu") else "__gpu"  # a GPU run keeps the CPU figures
        (out_dir / f"{name.replace('/', '__')}{device_tag}.json").write_text(json.dumps(record, indent=1, default=str))
        records.append(record)
    print(table(records))
    print(f"figures of {env['device']} ({env['platform']}, {env['backend']}) written to {out_dir}")
    return records


def table(records):
    lines = [f"{'benchmark':40s} {'status':8s} figures"]
    for r in records:
        figures = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in r.get("figures", {}).items())
        if r.get("comparison", {}).get("ratio") is not None:
            figures += f"; ratio ours/theirs={r['comparison']['ratio']:.3g}"
        lines.append(f"{r['name']:40s} {r['status']:8s} {figures or r.get('error', '')}")
    return "\n".join(lines)


def pipeline_throughput(quick):
    """Images per second the shared input pipeline delivers (augmented and plain), to compare
    with a model's training throughput: the pipeline must never be what limits a step."""
    from common.toolkit.data.pipeline import augmentation, make_pipeline, to_float
    n = 2048 if quick else 16384
    rng = np.random.default_rng(0)
    x, y = to_float(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)), rng.integers(0, 7, n)
    figures = {}
    for label, augment in (("plain", None), ("augmented", augmentation())):
        data = make_pipeline(x, y, batch_size=64, training=True, augment=augment)
        for _ in data:  # the first pass fills the cache
            pass
        start = time.perf_counter()
        for _ in data:
            pass
        figures[f"{label}_images_per_s"] = n / (time.perf_counter() - start)
    return {"what": f"tf.data pipeline, {n} 48x48 grayscale images, batch 64, one epoch after a warm-up",
            "figures": figures}


def fer2013_load_seconds(quick):
    """Seconds to read and validate the real FER2013 CSV (skipped when it is not beside the checkout)."""
    import datasets
    from datasets.paths import default_path
    try:
        path = default_path("fer2013")
    except ValueError as error:  # an installed suite without a data dir
        return {"what": f"FER2013 load: {error}; not measured", "figures": {}}
    if not path.exists():
        return {"what": f"FER2013 load: {path} not found, not measured", "figures": {}}
    start = time.perf_counter()
    ds = datasets.load("fer2013", path)
    return {"what": f"load + validate {path.name} ({len(ds)} rows, xz-compressed)",
            "figures": {"seconds": time.perf_counter() - start, "rows": len(ds)}}


def metrics_milliseconds(quick):
    """Milliseconds per call of common.toolkit.eval.metrics.classification_metrics on a fold the size of FER2013's
    PrivateTest, beside scikit-learn's functions for the metrics it computes directly (confusion matrix, MCC, per-class ROC AUC
    and average precision: what it called before 2026-12). Every run's intervals bootstrap it 100 times per fold."""
    from sklearn import metrics as skm

    from common.harness.judge.evaluation import BOOTSTRAP_SAMPLES
    from common.toolkit.eval.metrics import classification_metrics
    n, k = 3589, 7
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, k, n)
    scores = rng.random((n, k))
    scores[np.arange(n), y_true] += 0.5  # better than chance, not perfect
    scores /= scores.sum(axis=1, keepdims=True)

    def with_scikit_learn():
        y_pred = scores.argmax(axis=1)
        skm.confusion_matrix(y_true, y_pred, labels=list(range(k)))
        skm.matthews_corrcoef(y_true, y_pred)
        for c in range(k):
            skm.roc_auc_score(y_true == c, scores[:, c])
            skm.average_precision_score(y_true == c, scores[:, c])

    def milliseconds(function, calls=5 if quick else 50):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        return 1e3 * (time.perf_counter() - start) / calls
    ours = milliseconds(lambda: classification_metrics(y_true, scores, [str(c) for c in range(k)]))
    theirs = milliseconds(with_scikit_learn)
    return {"what": f"classification_metrics on {n} items x {k} classes (ours: every metric of a fold; theirs: "
                    "scikit-learn's confusion matrix, MCC, ROC AUC and AP alone)",
            "figures": {"ours_ms": ours, "scikit_learn_ms": theirs,
                        "bootstrap_seconds_per_fold": ours * BOOTSTRAP_SAMPLES / 1e3},
            "comparison": {"ours": ours, "theirs": theirs, "ratio": ours / theirs}}


SHARED_BENCHMARKS = {"common/pipeline": pipeline_throughput, "datasets/fer2013_load": fer2013_load_seconds,
                     "common/metrics": metrics_milliseconds}
