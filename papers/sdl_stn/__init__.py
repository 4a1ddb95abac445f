"""Khan, Singh and Agrawal, "Enhancing feature extraction technique through Spatial Deep Learning
model for Facial Emotion Detection", AETiC 7(2), 2023: a 4-conv CNN beside two spatial-transformer
(SDL) modules, on FER2013, CK+ and FERG."""
from papers.sdl_stn.experiments import (CK_PLUS_IMAGE_SPLIT, CK_PLUS_SUBJECT_10FOLD, FER2013, FER2013_LOW_LR, FERG,
                                        engine_throughput, training_throughput)

EXPERIMENTS = {exp.name: exp for exp in (FER2013, FER2013_LOW_LR, CK_PLUS_IMAGE_SPLIT, CK_PLUS_SUBJECT_10FOLD, FERG)}
DEFAULT_EXPERIMENTS = ["fer2013"]
BENCHMARKS = {"training_throughput": training_throughput, "engine_throughput": engine_throughput}
