"""The report's figures: confusion matrix, ROC and PR curves, training curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from sklearn.metrics import auc, precision_recall_curve, roc_curve


def confusion(cm, class_names, path, title="Confusion matrix (rows: true, columns: predicted)"):
    cm = np.asarray(cm)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    labels = np.array([[f"{n}\n{p:.0%}" for n, p in zip(r_n, r_p)] for r_n, r_p in zip(cm, share)])
    size = 1.0 + 0.8 * len(class_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(share, annot=labels, fmt="", cmap="Blues", vmin=0, vmax=1, cbar=False,
                xticklabels=class_names, yticklabels=class_names, ax=ax, annot_kws={"fontsize": 8})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def roc_pr(y_true, y_score, class_names, roc_path, pr_path):
    """One-vs-rest ROC and precision-recall curves, one line per class present in y_true."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    for path, kind in ((roc_path, "roc"), (pr_path, "pr")):
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        for c, name in enumerate(class_names):
            positives = y_true == c
            if positives.all() or not positives.any():
                continue
            if kind == "roc":
                fpr, tpr, _ = roc_curve(positives, y_score[:, c])
                ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.2f})")
            else:
                precision, recall, _ = precision_recall_curve(positives, y_score[:, c])
                ax.plot(recall, precision, label=name)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], "k--", lw=0.8)
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, one vs rest")
        else:
            ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, one vs rest")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def training_curves(histories: dict[str, dict], path):
    """Loss and accuracy per epoch, train and validation, one line per fold or repeat."""
    keys = {k for h in histories.values() for k in h if not k.startswith("val_")}
    accuracy_key = next((k for k in sorted(keys) if "acc" in k), "accuracy")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (key, label) in zip(axes, [("loss", "loss"), (accuracy_key, accuracy_key)]):
        for fold, history in histories.items():
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + key)
                if values:
                    ax.plot(range(1, len(values) + 1), values, style, lw=1,
                            label=f"{fold} {'val' if prefix else 'train'}")
        ax.set(xlabel="epoch", ylabel=label, title=label)
        if len(histories) <= 4:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def claims_forest(rows, colors, path):
    """One line per claim, in percent: the paper's number (black: a diamond, a bound's arrowhead, a range's bar)
    beside ours (the mean and its 95% interval, coloured by verdict). rows: dicts with label, reported, kind,
    mean, ci95 and verdict, rates as fractions."""
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.3 * len(rows)))
    for y, row in enumerate(rows):
        lo, hi = row["ci95"]
        color = colors[row["verdict"]]
        if lo is not None:
            ax.plot([100 * lo, 100 * hi], [y, y], color=color, lw=4, alpha=0.5, solid_capstyle="butt")
        ax.plot(100 * row["mean"], y, "o", color=color, ms=5)
        if row["kind"] == "range":
            ax.plot([100 * v for v in row["reported"]], [y, y], color="black", lw=1.5)
        else:
            marker = {"lower_bound": ">", "upper_bound": "<"}.get(row["kind"], "D")
            ax.plot(100 * row["reported"], y, marker, color="black", ms=5, mfc="none" if marker == "D" else "black")
    ax.set_yticks(range(len(rows)), [row["label"] for row in rows], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("percent (a gain: percentage points)")
    shown = dict.fromkeys(row["verdict"] for row in rows)
    handles = [plt.Line2D([], [], color=colors[v], lw=4, alpha=0.6, marker="o", label=f"ours: {v}") for v in shown]
    handles.append(plt.Line2D([], [], color="black", ls="", marker="D", mfc="none", label="the paper's number"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title("The claims our runs decide: the paper's number beside our mean and 95% interval", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
