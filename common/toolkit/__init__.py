"""What a paper builds with. Never imports `common.harness` (tests/test_layout.py checks it).

- `experiment`: the contract types (Experiment, Fold, FoldResult, RunContext);
- `places`: where the suite writes, and its on-disk caches;
- `data/`: evaluation protocols (folds) and the input pipeline;
- `faces`: face detectors, landmarks, alignment and their per-image caches;
- `train/`: Keras fit with an exact-resume checkpoint, and the replica engine (one fold or all folds at once);
- `eval/`: classification metrics and the standard plots.
"""
