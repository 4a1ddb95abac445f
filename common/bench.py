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

from common.training import environment

BENCH_DIR = Path(__file__).resolve().parents[1] / "results" / "bench"


def run_benchmarks(benchmarks: dict, quick=False, out_dir=BENCH_DIR):
    """benchmarks: {"paper/name": function}. Returns the records written."""
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
        (out_dir / f"{name.replace('/', '__')}.json").write_text(json.dumps(record, indent=1, default=str))
        records.append(record)
    print(table(records))
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
