"""Judging a run: `claims` (a paper's claims.yaml), `evaluation` (metrics over folds), `intervals` (95% intervals)
and `verdicts` (a claim against the run that speaks for it)."""
