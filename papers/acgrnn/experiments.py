"""The experiments: the paper's pipeline on FER2013 under its 10-fold CV and under the official split.

Per fold (Section "Results and interpretations": "all data samples were arbitrarily
split into k groups", k = 10): each backbone is trained on the fold's training part
(best epoch on a validation part carved from it), its features are extracted once for
the fold's training, validation and test images and cached in the fold's work folder,
then the ACGRNN is trained on the fused features (RMSProp) and predicts the test part.
Table 1's training column is the same metrics on the fold's own training images.
Extra fold metrics: each backbone's own test accuracy (what fusion adds), the face
stage's counts on the test part, and the training-column metrics.

How it runs: each backbone is a ReplicaRecipe, trained for every fold before the
ACGRNN stage (the runner's `train_stages` hook, common.toolkit.train.replicas.train_stage): on JAX the
folds of one backbone train together as replicas of one compiled step (the GPU
path), on TensorFlow fold after fold through Keras fit. The ACGRNN, a small network
on feature vectors, trains per fold through Keras fit on both backends.
"""
from __future__ import annotations

import sys

import keras
import numpy as np

from common.toolkit.data.pipeline import make_pipeline, to_float
from common.toolkit.data.protocols import stratified_subsample
from common.toolkit.eval import plots
from common.toolkit.eval.metrics import classification_metrics
from common.toolkit.experiment import Experiment, FoldResult, deep_merge, stored_fold_result
from common.toolkit.train.fit import fit, predict
from common.toolkit.train.recipe import ReplicaRecipe
from common.toolkit.train.replicas import train_stage
from papers.acgrnn.face_stage import face_stage
from papers.acgrnn.model import build_acgrnn, build_backbone

PAPER = "acgrnn"
STREAMS = ("efficientnet", "inception")
PARTS = ("train", "val", "test")

CONFIG = {
    "protocol": {"kind": "stratified_kfold", "k": 10, "val_fraction": 0.1},
    "seed": 0,
    # The dataset is cut to this many images (stratified by official split and class) before the face stage;
    # None = every image, as the paper.
    "max_train_images": None,
    "face": {"upscale": 3, "min_confidence": 0.9, "landmark_upscale": 4},
    "backbones": {
        "architecture": "full",  # keras.applications EfficientNetB3 / InceptionResNetV2; "small": stand-ins
        "weights": {"efficientnet": None, "inception": None},  # a local weights file each (ImageNet), else scratch
        "efficientnet": {"input_size": 300, "batch_size": 16},
        "inception": {"input_size": 299, "batch_size": 32},
        "learning_rate": 1e-4,  # Adam, as printed for both
        "output": "sigmoid",  # as printed (with binary cross-entropy); "softmax": categorical cross-entropy
        "epochs": 30,
        "early_stopping_patience": 5,
        "width": 16,  # the "small" stand-ins' base width
    },
    "geometry": True,  # the 68-landmark stream fused beside the two backbones
    "model": {"projection": 256, "position_size": 16, "fusion": "sum", "filters": 64, "windows": [2, 3],
              "attention_windows": [1, 3], "gru_units": 64, "dropout": 0.5},
    "optimizer": "rmsprop",
    "learning_rate": 1e-3,
    "batch_size": 64,
    "epochs": 100,
    "early_stopping_patience": 10,
}

OFFICIAL = {"kind": "official", "train": "Training", "val": "PublicTest", "test": "PrivateTest"}

# CI: tiny stand-in backbones on the 48x48 faces, a few epochs, the first of 2 folds of synthetic FER2013 (a fold
# trains three networks: the second fold cost CI 35 CPU-s and checked only the per-fold loop, which is common code).
SMOKE = {"protocol": {"k": 2, "folds_to_run": 1}, "synthetic": {"n_train": 420, "n_public": 70, "n_private": 70},
         "backbones": {"architecture": "small", "width": 8, "efficientnet": {"input_size": 48},
                       "inception": {"input_size": 48}, "epochs": 3, "learning_rate": 3e-3},
         "model": {"projection": 64, "position_size": 8, "filters": 16, "gru_units": 16},
         "epochs": 10, "early_stopping_patience": 5, "batch_size": 32}
# The variants (one part changed) smoke shorter: the headline experiment's smoke checks the paper's pipeline in
# full; theirs only that the changed part trains and learns.
VARIANT_SMOKE = deep_merge(SMOKE, {"epochs": 5, "backbones": {"epochs": 2}})


# ---- Face identification (MTCNN), alignment and the 68-landmark geometry ----------------------------------

def prepare(ds, config):
    """The stratified cut (CPU configuration only), then MTCNN, alignment and the 68-point geometry."""
    ds = stratified_subsample(ds, config["max_train_images"], config["seed"])
    return face_stage(ds, config["face"])


# ---- Feature extraction: each backbone trained on the task first, its pooled features cached per fold ----

def backbone_config(config, kind):
    """One backbone's training, in the keys a ReplicaRecipe reads (epochs, batch_size, learning_rate, ...)."""
    options = config["backbones"]
    return {"architecture": options["architecture"], "input_size": options[kind]["input_size"],
            "weights": options["weights"][kind], "width": options["width"], "output": options["output"],
            "batch_size": options[kind]["batch_size"], "learning_rate": options["learning_rate"],
            "epochs": options["epochs"], "early_stopping_patience": options["early_stopping_patience"]}


def backbone_recipe(kind, output):
    """EfficientNet-B3 or Inception-ResNet-V2 as a classifier of the fold's faces: Adam at a constant rate, best
    epoch and early stopping on validation accuracy; a sigmoid output with binary cross-entropy as printed, or
    softmax with (sparse) categorical cross-entropy. Its `finish` extracts the fold's features."""
    def build_model(fold, config):
        return build_backbone(kind, len(fold.train.class_names), architecture=config["architecture"],
                              input_size=config["input_size"], face_size=fold.train.images.shape[1],
                              output=config["output"], weights=config["weights"], width=config["width"])
    return ReplicaRecipe(build_model=build_model, build_optimizer=adam, from_logits=False,
                         loss="binary" if output == "sigmoid" else "sparse_categorical", finish=cache_features)


def adam(config):
    return keras.optimizers.Adam(config["learning_rate"])


def cache_features(model, fold, config, ctx):
    """z_k: the trained (best-epoch) backbone's pooled last feature map of the fold's training, validation
    and test faces, extracted once and saved in the backbone's work folder (features.npz)."""
    extractor = keras.Model(model.input, model.get_layer("features").output)
    features = {part: predict(extractor, make_pipeline(to_float(getattr(fold, part).images), batch_size=256))
                for part in PARTS}
    np.savez(ctx.work_dir / "features.npz", **features)
    print(f"acgrnn: {model.name} features of {fold.name} extracted into {ctx.work_dir / 'features.npz'}",
          file=sys.stderr)
    return {}


def train_backbones(folds, config, work_root, run_dir, smoke):
    """Both backbones of every fold (the runner's train_stages hook): on JAX each backbone's folds train as
    replicas of one compiled step, on TensorFlow fold after fold through Keras fit. A fold's backbone trained
    before (its fold_result.pkl and features.npz in work_root/<fold>/<backbone>/) is not trained again."""
    for kind in STREAMS:
        train_stage(backbone_recipe(kind, config["backbones"]["output"]), folds, backbone_config(config, kind),
                    work_root, run_dir, smoke, stage=kind)


def backbone_features(work_dir):
    """({part: features}, the backbone's FoldResult) of one fold's trained backbone."""
    result = stored_fold_result(work_dir)
    if result is None:
        raise FileNotFoundError(f"{work_dir}: no trained backbone; run the experiment through "
                                "common.harness.run.runner, whose train_stages hook (train_backbones) trains the backbones of every fold first")
    with np.load(work_dir / "features.npz") as stored:
        return {part: stored[part] for part in PARTS}, result


# ---- Fusion and the ACGRNN (RMSProp) ----------------------------------------------------------------------

def standardised(streams):
    """Each stream scaled by the training part's mean and std (features of a scratch-trained net vary widely)."""
    out = {}
    for name, parts in streams.items():
        mean, std = parts["train"].mean(axis=0), parts["train"].std(axis=0) + 1e-6
        out[name] = {part: ((x - mean) / std).astype(np.float32) for part, x in parts.items()}
    return out


def train_and_evaluate(fold, config, ctx):
    """The ACGRNN on the fused features of the fold's two backbones (trained by `train_backbones`) and its
    68-landmark geometry; Keras fit per fold on both backends (a small network on feature vectors)."""
    parts = {name: getattr(fold, name) for name in PARTS}
    n_classes = len(fold.train.class_names)
    onehot = {name: keras.utils.to_categorical(part.labels, n_classes) for name, part in parts.items()}
    streams, extra, per_item, seconds, images_seen = {}, {}, {}, 0.0, 0
    for kind in STREAMS:
        streams[kind], backbone = backbone_features(ctx.work_dir / kind)
        correct = (backbone.y_prob.argmax(1) == backbone.y_true).astype(float)
        per_item[f"{kind}_test_accuracy"], extra[f"{kind}_test_accuracy"] = correct, float(correct.mean())
        seconds += backbone.train_seconds
        images_seen += backbone.train_images
    if config["geometry"]:
        streams["geometry"] = {name: part.geometry for name, part in parts.items()}
    streams = standardised(streams)

    def inputs(part):
        return {name: values[part] for name, values in streams.items()}
    model = build_acgrnn({name: values["train"].shape[1] for name, values in streams.items()}, n_classes,
                         **config["model"])
    model.compile(optimizer=keras.optimizers.RMSprop(config["learning_rate"]), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    batch = config["batch_size"]
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=config["early_stopping_patience"], mode="max")
    history, acgrnn_seconds = fit(model, make_pipeline(inputs("train"), onehot["train"], batch_size=batch,
                                                       training=True, seed=fold.seed),
                                  make_pipeline(inputs("val"), onehot["val"], batch_size=batch),
                                  epochs=config["epochs"], work_dir=ctx.work_dir / "acgrnn", monitor="val_accuracy",
                                  callbacks=[stop], verbose=2)
    y_prob = predict(model, make_pipeline(inputs("test"), batch_size=256))
    train_prob = predict(model, make_pipeline(inputs("train"), batch_size=256))

    extra |= training_column(fold.train.labels, train_prob, fold.train.class_names)
    extra |= {"test_faces_mtcnn_found_count": float(fold.test.mtcnn_found.sum()),
              "test_faces_mtcnn_missing_count": float((~fold.test.mtcnn_found).sum()),
              "test_faces_dlib_box_found_count": float(fold.test.dlib_face_found.sum())}
    if ctx.first_fold:
        plots.roc_pr(fold.train.labels, train_prob, fold.train.class_names, ctx.figure_dir / "train_roc.png",
                     ctx.figure_dir / "train_pr.png")
    return FoldResult(fold.test.labels, y_prob, history, extra, seconds + acgrnn_seconds, len(history["loss"]),
                      images_seen + len(history["loss"]) * len(fold.train),
                      train_y_true=fold.train.labels, train_y_prob=train_prob, extra_per_item=per_item)


def training_column(y_true, y_prob, class_names):
    """Table 1's training column (and Figs. 11-12's per-class AUC / AP): the metrics on the training images."""
    m = classification_metrics(y_true, y_prob, class_names)
    out = {f"train_{k}": m[k] for k in ("accuracy", "macro_precision", "macro_recall", "macro_specificity",
                                        "macro_f1", "mcc")}
    for cls, per in m["per_class"].items():
        for k in ("roc_auc", "pr_ap"):
            if per[k] is not None:
                out[f"per_class.{cls}.train_{k}"] = per[k]
    return out


DEVIATIONS = [
    "ImageNet weights cannot be obtained here: both backbones are trained from scratch on the fold's training "
    "images unless a local weights file is given (config backbones.weights).",
    "Backbones: config backbones.architecture 'full' is keras.applications' EfficientNetB3 and InceptionResNetV2 "
    "at backbones.*.input_size (300 / 299 as the paper); 'small' (the CPU configuration) is a few blocks of each "
    "family (MBConv + squeeze-excite; Inception-ResNet-A), not the paper's networks. config.json says which.",
    "The paper gives no epochs for the backbones or the ACGRNN, no RMSProp learning rate or batch size, no "
    "feature size and no filter / GRU sizes: ours are in config.json (best epoch by validation accuracy, early "
    "stopping), the validation part carved from each fold's training part.",
    "Geometry: the 68 dlib landmarks on the aligned face, normalised by the inter-ocular distance, are a third "
    "stream projected and summed with the two backbones' features (the paper names the geometric features "
    "without saying how they enter the fusion).",
    "The attention gate is a sigmoid of the attention convolution (the paper names a gating mechanism without "
    "its function); each (window, attention window) pair (2, 1) and (3, 3) is one branch, concatenated after "
    "max-over-time pooling.",
    "Images where MTCNN finds no face keep their original pixels (counted in the face-stage metrics); the paper "
    "does not say what it did with them.",
]


def experiment(name, title, config, paper_recipe, smoke=SMOKE, deviations=()):
    return Experiment(PAPER, name, title, "fer2013", config, train_and_evaluate, train_stages=train_backbones,
                      prepare=prepare, smoke_config=smoke, deviations=DEVIATIONS + list(deviations),
                      paper_recipe=paper_recipe)


KFOLD_RECIPE = {"protocol": "stratified_kfold", "folds": 10, "optimizer": "rmsprop"}

EXPERIMENTS = {e.name: e for e in (
    experiment("fer2013_kfold", "ACGRNN-RMSProp on FER2013, 10-fold CV over all images (Table 1, Figs. 7-12)",
               CONFIG, KFOLD_RECIPE),
    experiment("fer2013_official", "ACGRNN-RMSProp on FER2013's official split: Training / PublicTest / "
               "PrivateTest (beside the paper's protocol)", {**CONFIG, "protocol": OFFICIAL},
               {**KFOLD_RECIPE, "folds": None}, smoke={**VARIANT_SMOKE, "protocol": {}},
               deviations=["Protocol: the official split instead of the paper's 10-fold CV, so that the number "
                           "can be set beside published FER2013 results (PrivateTest)."]),
    experiment("fer2013_kfold_concat", "Fusion by concatenation instead of the element-wise sum (the paper's "
               "ablation, no number printed)", {**CONFIG, "model": {**CONFIG["model"], "fusion": "concat"}},
               KFOLD_RECIPE, smoke=VARIANT_SMOKE),
    experiment("fer2013_kfold_softmax", "Backbones trained with softmax and categorical cross-entropy instead of "
               "the printed sigmoid and binary cross-entropy", {**CONFIG, "backbones": {
                   **CONFIG["backbones"], "output": "softmax"}}, KFOLD_RECIPE, smoke=VARIANT_SMOKE),
)}
