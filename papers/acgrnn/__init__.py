"""Gandhi, Geetha and Reddy, "Spontaneous Micro-facial Expression Detection using Attention-based
Convolutional Gated Recurrent Neural Networks with RMSProp Optimization" (2024/25): MTCNN faces,
EfficientNetB3 + InceptionResNetV2 features fused by sum, an attention convolutional GRU, on FER2013."""
from papers.acgrnn.experiments import DEFAULT_EXPERIMENTS, EXPERIMENTS
from papers.acgrnn.audit import audit_findings as AUDIT  # Table 1 vs Fig. 7, beside the shared audit
