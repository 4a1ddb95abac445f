"""Renderings of run records, never a second source of truth: `run` writes one run's report.md,
`scoreboard` the scoreboard and each paper's runs index, `cells` the numbers as text they share."""
