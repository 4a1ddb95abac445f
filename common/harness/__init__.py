"""What runs and judges papers; a paper never needs to open it.

- `cli`: `python -m papers ...`; `bench`: `make bench`;
- `run/`: the runner (the per-fold loop, resume), its plan, the run record and its provenance;
- `judge/`: claims files, metrics aggregated with intervals, and the verdicts;
- `report/`: renderings of run records (a run's report.md, the scoreboard, the runs index);
- `audit/`: what each paper's own printed numbers imply, recomputed.
"""
