"""Gandhi, Geetha and Reddy, "Spontaneous Micro-facial Expression Detection using Attention-based
Convolutional Gated Recurrent Neural Networks with RMSProp Optimization" (2024/25): MTCNN faces,
EfficientNetB3 + InceptionResNetV2 features fused by sum, an attention convolutional GRU, on FER2013."""

# What `python -m papers list` and `--help` show without importing Keras; tests/test_cli.py
# checks it against experiments.py. Experiment name -> (dataset, title), in the paper's order.
EXPERIMENT_INDEX = {
    "fer2013_kfold": ("fer2013", "ACGRNN-RMSProp on FER2013, 10-fold CV over all images (Table 1, Figs. 7-12)"),
    "fer2013_official": ("fer2013", "ACGRNN-RMSProp on FER2013's official split: Training / PublicTest / "
                                    "PrivateTest (beside the paper's protocol)"),
    "fer2013_kfold_concat": ("fer2013", "Fusion by concatenation instead of the element-wise sum (the paper's "
                                        "ablation, no number printed)"),
    "fer2013_kfold_softmax": ("fer2013", "Backbones trained with softmax and categorical cross-entropy instead of "
                                         "the printed sigmoid and binary cross-entropy"),
}
DEFAULT_EXPERIMENTS = ["fer2013_kfold", "fer2013_official"]


def __getattr__(name):
    """EXPERIMENTS imports Keras and TensorFlow (seconds): loaded on first use. AUDIT: the Table 1 vs
    Fig. 7 check that `make audit` adds to the shared checks."""
    if name == "EXPERIMENTS":
        from papers.acgrnn.experiments import EXPERIMENTS
        return EXPERIMENTS
    if name == "AUDIT":
        from papers.acgrnn.audit import audit_findings
        return audit_findings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
