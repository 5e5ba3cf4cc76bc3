#!/usr/bin/env python3
"""Plot the training curves of `mlp` run directories, like the 2021 TDT4265 A2 report.

Usage:
  python scripts/plot_runs.py RUN_DIR [RUN_DIR ...] --out fig.png
      Two subplots: left, training loss (per step, mean over chunks of 10 steps at the
      chunk's middle step, with a mean +- std band) and validation loss per check;
      right, training and validation accuracy per check. One colour per run.
  python scripts/plot_runs.py RUN_DIR [RUN_DIR ...] --metric val_loss --out fig.svg
      One metric (val_loss | val_acc | train_acc | train_loss) across runs, e.g. the
      report's task-3 build-up figures.

  A RUN_DIR without steps.csv is treated as a sweep directory (e.g. results/study/) and
  expanded to its run subdirectories that have steps.csv.

Options:
  --out PATH            output file; .png or .svg (required)
  --ylim-loss A B       y-limits of the loss axis (also used by --metric *_loss)
  --ylim-acc A B        y-limits of the accuracy axis (also used by --metric *_acc)
  --no-train-loss       leave the training loss out of the loss subplot
  --title TEXT          figure title
  --smooth N            steps per chunk for the training loss (default 10, 1 = raw)
  --partial             also read steps.csv.partial / checks.csv.partial of unfinished runs

Labels are the run directories' names (parent/name when two names collide).
Needs numpy and matplotlib only (see scripts/requirements-plot.txt).
"""

import argparse
import csv
import math
import os
import sys

import numpy as np

STEPS_FILE = "steps.csv"
CHECKS_FILE = "checks.csv"
METRICS = ("val_loss", "val_acc", "train_acc", "train_loss")
# Order of the report's runs; anything else follows alphabetically.
REPORT_ORDER = ("basic", "iw", "is", "momentum", "is-iw", "all",
                "4a", "4b", "4-64", "4c", "4d", "4e")


def die(msg):
    print(f"plot_runs.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def find_file(run_dir, name, allow_partial):
    path = os.path.join(run_dir, name)
    if os.path.isfile(path):
        return path
    partial = path + ".partial"
    if os.path.isfile(partial):
        if allow_partial:
            return partial
        die(f"{path} does not exist (only {partial}: the run is unfinished; "
            f"pass --partial to plot it anyway)")
    die(f"{path} does not exist")


def has_steps(d, allow_partial):
    p = os.path.join(d, STEPS_FILE)
    return os.path.isfile(p) or (allow_partial and os.path.isfile(p + ".partial"))


def order_key(name):
    return (REPORT_ORDER.index(name), "") if name in REPORT_ORDER else (len(REPORT_ORDER), name)


def expand(dirs, allow_partial):
    """RUN_DIRs as given, with sweep directories replaced by their run subdirectories."""
    runs = []
    for d in dirs:
        if not os.path.exists(d):
            die(f"{d} does not exist")
        if not os.path.isdir(d):
            die(f"{d} is not a directory")
        if has_steps(d, allow_partial):
            runs.append(d)
            continue
        subs = [e for e in os.listdir(d)
                if os.path.isdir(os.path.join(d, e)) and has_steps(os.path.join(d, e), allow_partial)]
        if not subs:
            partial_hint = "" if allow_partial else " (pass --partial for unfinished runs)"
            die(f"{d} has no {STEPS_FILE} and no run subdirectories with one{partial_hint}")
        runs.extend(os.path.join(d, e) for e in sorted(subs, key=order_key))
    return runs


def labels_for(runs):
    names = [os.path.basename(os.path.normpath(r)) for r in runs]
    out = []
    for r, n in zip(runs, names):
        if names.count(n) > 1:
            parent = os.path.basename(os.path.dirname(os.path.abspath(r)))
            n = f"{parent}/{n}"
        out.append(n)
    return out


def read_csv(path, columns):
    """Columns of a CSV as float arrays (empty cells -> NaN)."""
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                die(f"{path} is empty")
            missing = [c for c in columns if c not in header]
            if missing:
                die(f"{path} lacks column(s) {', '.join(missing)} (header: {','.join(header)})")
            idx = [header.index(c) for c in columns]
            data = [[] for _ in columns]
            for lineno, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) < len(header):  # a partial file's last line may be cut short
                    if path.endswith(".partial"):
                        break
                    die(f"{path}:{lineno}: expected {len(header)} fields, got {len(row)}")
                for col, i in zip(data, idx):
                    cell = row[i].strip()
                    try:
                        col.append(float(cell) if cell else math.nan)
                    except ValueError:
                        die(f"{path}:{lineno}: not a number: {cell!r}")
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}")
    return {c: np.asarray(v, dtype=float) for c, v in zip(columns, data)}


def load_run(run_dir, allow_partial):
    steps = read_csv(find_file(run_dir, STEPS_FILE, allow_partial), ["step", "train_loss"])
    checks = read_csv(find_file(run_dir, CHECKS_FILE, allow_partial),
                      ["step", "val_loss", "val_acc", "train_acc"])
    return steps, checks


def smooth(steps, loss, n):
    """The 2021 starter code's plot_loss: mean/std over consecutive chunks of n steps,
    placed at the chunk's middle step; a trailing incomplete chunk is dropped."""
    if n <= 1 or len(loss) < n:
        return steps, loss, None
    k = len(loss) // n
    chunks = loss[: k * n].reshape(k, n)
    mid = steps[np.arange(k) * n + n // 2]
    return mid, chunks.mean(axis=1), chunks.std(axis=1)


def plot_train_loss(ax, steps, color, label, n, band_label=True):
    x, mean, std = smooth(steps["step"], steps["train_loss"], n)
    if std is None:
        ax.plot(x, mean, color=color, label=label)
        return
    ax.plot(x, mean, color=color, label=f"{label} mean over {n} steps")
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2,
                    label=f"{label} std over {n} steps" if band_label else None)


def has_values(a):
    return a.size > 0 and np.isfinite(a).any()


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Plot mlp run directories (steps.csv, checks.csv) as the 2021 report did.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("Options:")[0])
    p.add_argument("dirs", nargs="+", metavar="RUN_DIR", help="run or sweep directories")
    p.add_argument("--out", required=True, help="output file (.png or .svg)")
    p.add_argument("--metric", choices=METRICS, help="plot one metric across runs")
    p.add_argument("--ylim-loss", nargs=2, type=float, metavar=("A", "B"))
    p.add_argument("--ylim-acc", nargs=2, type=float, metavar=("A", "B"))
    p.add_argument("--no-train-loss", action="store_true")
    p.add_argument("--title")
    p.add_argument("--smooth", type=int, default=10, metavar="N")
    p.add_argument("--partial", action="store_true")
    args = p.parse_args(argv)

    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".png", ".svg"):
        die(f"--out must end in .png or .svg, got {args.out!r}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        die(f"output directory {out_dir} does not exist")

    runs = expand(args.dirs, args.partial)
    labels = labels_for(runs)
    data = [load_run(r, args.partial) for r in runs]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(runs) > len(colors):
        cmap = plt.get_cmap("tab20")
        colors = [cmap(i % 20) for i in range(len(runs))]
    xlabel = "Number of training steps"

    if args.metric:
        fig, ax = plt.subplots(figsize=(10, 6))
        for i, ((steps, checks), label) in enumerate(zip(data, labels)):
            c = colors[i]
            if args.metric == "train_loss":
                plot_train_loss(ax, steps, c, label, args.smooth, band_label=False)
            elif has_values(checks[args.metric]):
                ax.plot(checks["step"], checks[args.metric], color=c, label=label)
            else:
                print(f"plot_runs.py: warning: {label} has no {args.metric} values",
                      file=sys.stderr)
        is_loss = args.metric.endswith("loss")
        ylim = args.ylim_loss if is_loss else args.ylim_acc
        if ylim:
            ax.set_ylim(*ylim)
        names = {"val_loss": "Validation loss", "val_acc": "Validation accuracy",
                 "train_acc": "Training accuracy", "train_loss": "Training loss"}
        ax.set_ylabel("Cross Entropy Loss - Average" if is_loss else "Accuracy")
        ax.set_xlabel(xlabel)
        ax.set_title(args.title or names[args.metric])
        ax.legend()
        ax.grid(alpha=0.3)
    else:
        fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(20, 8))
        for i, ((steps, checks), label) in enumerate(zip(data, labels)):
            c = colors[i]
            if not args.no_train_loss:
                plot_train_loss(ax_l, steps, c, f"{label} training loss", args.smooth)
            if has_values(checks["val_loss"]):
                ax_l.plot(checks["step"], checks["val_loss"], color=c, linestyle="--",
                          label=f"{label} validation loss")
            if has_values(checks["train_acc"]):
                ax_a.plot(checks["step"], checks["train_acc"], color=c,
                          label=f"{label} training accuracy")
            if has_values(checks["val_acc"]):
                ax_a.plot(checks["step"], checks["val_acc"], color=c, linestyle="--",
                          label=f"{label} validation accuracy")
        if args.ylim_loss:
            ax_l.set_ylim(*args.ylim_loss)
        if args.ylim_acc:
            ax_a.set_ylim(*args.ylim_acc)
        ax_l.set_ylabel("Cross Entropy Loss - Average")
        ax_a.set_ylabel("Accuracy")
        ax_l.set_title("Loss")
        ax_a.set_title("Accuracy")
        for ax in (ax_l, ax_a):
            ax.set_xlabel(xlabel)
            ax.legend()
            ax.grid(alpha=0.3)
        if args.title:
            fig.suptitle(args.title)

    fig.tight_layout()
    try:
        fig.savefig(args.out, dpi=100 if ext == ".png" else None)
    except OSError as e:
        die(f"cannot write {args.out}: {e.strerror}")
    print(f"wrote {args.out} ({len(runs)} run(s): {', '.join(labels)})")


if __name__ == "__main__":
    main()
