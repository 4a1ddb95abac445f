"""Dataset summaries and synthetic data from the command line.

    python -m datasets <name> [<path>] [--json] [-o key=value ...]   summary of a dataset on disk
    python -m datasets synth <name> <dir> [--seed N] [-o key=value ...]   write synthetic data in its layout

Without a path, the dataset is read from its default place (datasets/paths.py).
`-o` passes loader / writer options (e.g. `-o usage=PrivateTest`, `-o layout=original`).
A dataset that cannot be read prints one line on stderr and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys

import datasets
from datasets.base import DatasetError
from datasets.paths import default_path


def _option(text):
    """'key=value' -> (key, value), the value as int or float when it reads as one."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            pass
    return key, value


def _table(summary):
    """The summary as plain text: counts per split and class, then subjects, skips and notes."""
    lines = [f"{summary['dataset']}: {summary['path']}",
             f"items: {summary['total']} of shape {tuple(summary['item_shape'])} ({summary['rows_read']} read)"]
    classes = list(summary["classes"])
    columns = dict(summary["per_split_classes"] or {}) | {"total": summary["classes"]}
    width = max(len(c) for c in classes + ["class"])
    lines.append("  ".join([f"{'class':<{width}}"] + [f"{s:>11}" for s in columns]))
    for name in classes:
        lines.append("  ".join([f"{name:<{width}}"] + [f"{columns[s][name]:>11}" for s in columns]))
    lines.append("  ".join([f"{'all':<{width}}"] + [f"{sum(columns[s].values()):>11}" for s in columns]))
    for field in ("subjects", "sequences"):
        if summary[field] is not None:
            lines.append(f"{field}: {summary[field]}")
    lines.append(f"skipped: {len(summary['skipped'])}")
    for reason, count in summary["skipped_by_reason"].items():
        example = next(s["where"] for s in summary["skipped"] if s["reason"] == reason)
        lines.append(f"  {count} x {reason} (e.g. {example})")
    if summary["altered"]:
        lines.append(f"altered: {len(summary['altered'])}")
    for reason, count in summary["altered_by_reason"].items():
        example = next(s["where"] for s in summary["altered"] if s["reason"] == reason)
        lines.append(f"  {count} x {reason} (e.g. {example})")
    lines += [f"note: {note}" for note in summary["notes"]]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    synth = bool(argv) and argv[0] == "synth"
    names = "{" + ",".join(sorted(datasets.LOADERS)) + "}"
    usage = None if synth else (f"%(prog)s [-h] [--json] [-o KEY=VALUE] {names} [path]\n"
                                f"       %(prog)s synth [-h] [--seed N] [-o KEY=VALUE] {names} dir")
    parser = argparse.ArgumentParser(prog="python -m datasets" + (" synth" if synth else ""), usage=usage,
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(datasets.LOADERS))
    parser.add_argument("path", nargs=None if synth else "?",
                        help=None if synth else "file or folder (default: its place under the default data dir)")
    parser.add_argument("-o", "--option", type=_option, action="append", default=[], metavar="KEY=VALUE")
    if synth:
        parser.add_argument("--seed", type=int, default=0)
    else:
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv[1:] if synth else argv)
    options = dict(args.option)
    try:
        if synth:
            print(datasets.write_synthetic(args.name, args.path, seed=args.seed, **options))
            return 0
        summary = datasets.load(args.name, args.path or default_path(args.name), **options).summary()
    except (DatasetError, OSError, KeyError, ValueError, TypeError) as error:  # bad data, name or option: one line
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary) if args.json else _table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
