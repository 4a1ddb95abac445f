"""Code every paper shares, in two rooms (each imports `datasets`, never `papers`):

- `common.toolkit`: what a paper builds with (the experiment contract, data protocols and pipelines, faces,
  training and the replica engine, metrics and plots). It never imports the harness.
- `common.harness`: what runs and judges papers (the command line, the runner and its run record, claims and
  verdicts, reports and the scoreboard, the audit, benchmarks).
"""
