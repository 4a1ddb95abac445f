"""Running an experiment: `runner` (data, folds, the per-fold loop, resume), `plan` (how long, how many repeats),
`record` (the run record, metrics.json) and `provenance` (commit, command, data hash)."""
