"""`make bench`: run every paper's benchmarks, write one JSON per benchmark, print a table.

A paper lists its benchmarks in `BENCHMARKS = {name: function(quick) -> dict}`;
each returns {"what": ..., "figures": {name: number}} and, for a side-by-side
comparison, "comparison": {"ours": ..., "theirs": ..., "ratio": ...}.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from common.training import environment


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
    from common.pipeline import augmentation, make_pipeline, to_float
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
    """Milliseconds per call of common.metrics.classification_metrics on a fold the size of FER2013's PrivateTest,
    beside scikit-learn's functions for the metrics it computes directly (confusion matrix, MCC, per-class ROC AUC
    and average precision: what it called before 2026-12). Every run's intervals bootstrap it 100 times per fold."""
    from sklearn import metrics as skm

    from common.evaluation import BOOTSTRAP_SAMPLES
    from common.metrics import classification_metrics
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


# Published dense peak FLOP/s of accelerators, by the precision XLA computes float32 matmuls and
# convolutions in on them (TF32 tensor cores) and bfloat16. SXM parts (NVIDIA data sheets).
PEAK_FLOPS = {"H200": {"float32": 494.7e12, "bfloat16": 989.4e12},
              "H100": {"float32": 494.7e12, "bfloat16": 989.4e12},
              "A100": {"float32": 156e12, "bfloat16": 312e12}}


def engine_benchmark(recipe, config, *, image_size, num_classes, quick, caller):
    """The replica engine on `recipe`'s model with synthetic data: per replica count R, the step time,
    images/s per replica and in all, model FLOPs utilisation, and the speed-up of R replicas trained
    together over R runs of one (R x the one-replica epoch time / the R-replica epoch time).

    Runs on JAX; from another backend it reruns `caller` ("module:function") in a JAX subprocess.
    FLOPs are XLA's count of one compiled training step of one replica (forward, backward, optimizer,
    augmentation); the peak is the device's published figure (PEAK_FLOPS), unknown for a CPU.
    """
    import keras
    if keras.backend.backend() != "jax":
        return _in_jax_subprocess(caller, quick)
    import jax

    from common.engine import Engine, Replica
    from common.experiment import Fold
    from datasets.base import Dataset, Provenance

    on_cpu = jax.default_backend() == "cpu"
    n = (64 if quick else 128) if on_cpu else (2048 if quick else 8192)  # a CPU is 100x slower
    counts = (1, 2) if quick else ((1, 2, 4) if on_cpu else (1, 5, 15, 30))
    rng = np.random.default_rng(0)
    ds = Dataset("synthetic", rng.integers(0, 256, (n, image_size, image_size), dtype=np.uint8),
                 rng.integers(0, num_classes, n), [str(c) for c in range(num_classes)], Provenance("synthetic"))
    config = {**config, "oversample": False, "epochs": 2}
    precision = config.get("precision", "float32")
    rows, flops = {}, None
    for count in counts:
        folds = [Fold(f"repeat{r}", r, r, ds, ds.subset(np.arange(64)), ds.subset(np.arange(64))) for r in range(count)]
        engine = Engine(recipe, [Replica.build(recipe, fold, config) for fold in folds], config)
        state = engine._to_device(engine.initial_state())
        positions, active = engine.epoch_order(0, state["stopped"])
        args = [jax.device_put(a, engine.split) for a in (positions, active, np.full(engine.n, 1e-3, np.float32))]
        seconds = []
        for _ in range(2):  # the first call compiles
            start = time.perf_counter()
            variables, loss, _ = engine.train_epoch(state["variables"], *args, engine.pool, engine.train_index,
                                                    engine.train_labels)
            np.asarray(loss)
            seconds.append(time.perf_counter() - start)
            state["variables"] = variables
        epoch_seconds = seconds[1]
        steps = int(engine.steps[0])
        if flops is None:
            flops = _step_flops(engine, state)
        print(f"engine bench: {count} replicas, {steps} steps of {engine.batch}: compile + epoch {seconds[0]:.1f}s, "
              f"epoch {epoch_seconds:.2f}s", file=sys.stderr, flush=True)
        images_per_replica = steps * engine.batch / epoch_seconds
        rows[count] = {"step_ms": 1000 * epoch_seconds / steps, "images_per_s_per_replica": images_per_replica,
                       "images_per_s_total": images_per_replica * engine.n, "epoch_seconds": epoch_seconds,
                       "compile_seconds": seconds[0] - epoch_seconds}
    device = jax.devices()[0].device_kind
    peak = next((p[precision] for name, p in PEAK_FLOPS.items() if name in device), None)
    figures = {"load_average_1min": os.getloadavg()[0],  # a shared machine slows every figure
               "params": int(engine.model.count_params()), "train_step_gflops_per_replica": flops / 1e9 if flops else None,
               "devices": len(jax.devices()), "peak_tflops": peak / 1e12 if peak else None}
    for count, row in rows.items():
        speed_up = count * rows[1]["epoch_seconds"] / row["epoch_seconds"]
        achieved = flops * count * steps / row["epoch_seconds"] if flops else None
        figures |= {f"R{count}_{k}": v for k, v in row.items() if k != "epoch_seconds"}
        figures[f"R{count}_speed_up_over_sequential"] = speed_up
        figures[f"R{count}_achieved_tflops"] = achieved / 1e12 if achieved else None
        figures[f"R{count}_mfu"] = achieved / peak if achieved and peak else None
    return {"what": f"replica engine (common/engine.py), {engine.model.name}, batch {engine.batch}, "
                    f"{precision}, synthetic {image_size}x{image_size} images, {steps} steps per epoch; replica counts "
                    f"{list(counts)}; speed-up = R x the one-replica epoch time / the R-replica epoch time; MFU "
                    f"peak: {'published ' + device + ' figure' if peak else 'unknown for this device, not computed'}",
            "figures": figures, "device_kind": device}


def _step_flops(engine, state):
    """XLA's FLOP count of one replica's compiled training step, or None where the backend gives none."""
    import jax
    one = jax.tree_util.tree_map(lambda v: np.asarray(v[0]), state["variables"])
    positions = np.zeros(engine.batch, np.int32)
    compiled = jax.jit(engine.replica_step).lower(
        one, positions, np.bool_(True), np.float32(1e-3), engine.pool, np.asarray(engine.train_index[0]),
        np.asarray(engine.train_labels[0])).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"]) if cost and cost.get("flops") else None


def _in_jax_subprocess(caller, quick):
    """Run benchmark `caller` ("module:function") under KERAS_BACKEND=jax; its record, or why not."""
    import importlib.util
    import subprocess
    if importlib.util.find_spec("jax") is None:
        return {"what": f"{caller}: JAX is not installed, not measured", "figures": {}}
    module, function = caller.split(":")
    code = (f"import json; from {module} import {function}; "
            f"print('RECORD' + json.dumps({function}(quick={quick}), default=str))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "KERAS_BACKEND": "jax"})
    if done.returncode != 0:
        raise RuntimeError(f"{caller} under JAX failed: {done.stderr[-2000:]}")
    record = json.loads(done.stdout.split("RECORD", 1)[1])
    record["what"] += " (run under KERAS_BACKEND=jax in a subprocess)"
    return record
