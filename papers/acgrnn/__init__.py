"""Gandhi, Geetha and Reddy, "Spontaneous Micro-facial Expression Detection using Attention-based
Convolutional Gated Recurrent Neural Networks with RMSProp Optimization" (2024/25): MTCNN faces,
EfficientNetB3 + InceptionResNetV2 features fused by sum, an attention convolutional GRU, on FER2013."""

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
