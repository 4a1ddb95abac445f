"""The replica engine's benchmark, for a paper's `BENCHMARKS`: step time, images/s, FLOPs utilisation and the
speed-up of replicas trained together, on the paper's own `ReplicaRecipe` and synthetic data."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

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

    from common.toolkit.experiment import Fold
    from common.toolkit.train.engine import Engine, Replica
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
    return {"what": f"replica engine (common/toolkit/train/engine.py), {engine.model.name}, batch {engine.batch}, "
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
                          cwd=Path(__file__).resolve().parents[3], env={**os.environ, "KERAS_BACKEND": "jax"})
    if done.returncode != 0:
        raise RuntimeError(f"{caller} under JAX failed: {done.stderr[-2000:]}")
    record = json.loads(done.stdout.split("RECORD", 1)[1])
    record["what"] += " (run under KERAS_BACKEND=jax in a subprocess)"
    return record
