#!/usr/bin/env python3
"""Training time of "today's recipe" (issue 20) at W1 and one wider shape, same-run paired ratios.

W1 = one shuffled epoch of all 60000 training images, f32, one thread, no validation:
  mlp train --train-size 60000 --val-size 0 --validation false --epochs 1 --precision f32
            --threads 1 --early-stopping false --hidden H --batch-size B <variant flags>
timed by the run's own `train_wall_s` (summary.json: the training loop alone; data loading and
the final evaluation are outside it). `mlp throughput` has no optimiser or activation knobs, so
this runs `mlp train` as a user would, one process at a time, from a private copy of the binary
(a rebuild during the run changes nothing) into a temporary directory.

Every round runs each (shape, variant) once, the order rotated from round to round so that the
shared machine's load falls on all alike. Reported per shape: each variant's median seconds and
the median of its per-round ratios to the baseline of the same shape and round (plain SGD, the
default sigmoid, lr 0.1), with the ratios' quartiles; then the issue's two targets.

Usage:
  python3 scripts/bench_modern.py [--reps 9] [--variants adam,relu-he] [--shapes 64x32]
                                  [--out results/bench-modern/w1.md]
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_common import ROOT, BinarySnapshot, command_line, cpu_flags, cpu_model, git_head

W1_FLAGS = ["--train-size", "60000", "--val-size", "0", "--validation", "false", "--epochs", "1",
            "--precision", "f32", "--threads", "1", "--early-stopping", "false", "--quiet",
            "--force"]
SHAPES = {"64x32": (64, 32), "256x128": (256, 128)}  # hidden [H] / batch B; the first is W1
BASELINE = "sgd"
VARIANTS = {  # name: (flags, what it is)
    "sgd": ([], "plain SGD, sigmoid, lr 0.1 (the defaults; baseline)"),
    "improved": (["--activation", "improved"], "improved sigmoid 1.7159 tanh(2x/3)"),
    "relu-he": (["--activation", "relu", "--init", "he"], "ReLU + He init"),
    "momentum": (["--momentum", "0.9"], "SGD + momentum 0.9"),
    "adam": (["--optimizer", "adam", "--lr", "0.001"], "Adam"),
    "adamw": (["--optimizer", "adamw", "--weight-decay", "0.01", "--lr", "0.001"],
              "AdamW, decoupled decay 0.01"),
    "sgd-wd": (["--weight-decay", "1e-4"], "SGD + coupled L2 1e-4"),
    "dropout": (["--dropout", "0.2"], "SGD + dropout 0.2"),
    "cosine": (["--lr-schedule", "cosine"], "SGD, cosine schedule"),
}
TARGETS = [  # (variant, against, limit, shape): the targets at W1, as paired ratios
    ("adam", "sgd", 1.3, "64x32"),
    ("relu-he", "sgd", 1.0, "64x32"),
]


def run_mlp(binary, out_dir, hidden, batch, flags):
    """One W1 process: (train_wall_s, final train accuracy, the plan's first-layer kernel)."""
    cmd = [str(binary), "train", *W1_FLAGS, "--hidden", str(hidden), "--batch-size", str(batch),
           *flags, "--out", str(out_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench-modern: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    summary = json.loads((out_dir / "summary.json").read_text())
    plan = json.loads((out_dir / "config.json").read_text())["plan"]
    return summary["train_wall_s"], summary["final_train_acc"], plan["first_layer_train"]


def paired(times, shape, a, b):
    """Median and quartiles of the per-round ratios a / b at `shape`."""
    ratios = [x / y for x, y in zip(times[(shape, a)], times[(shape, b)])]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return statistics.median(ratios), q[0], q[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=9, help="rounds (default 9)")
    ap.add_argument("--variants", help=f"subset of {','.join(VARIANTS)} (the baseline always runs)")
    ap.add_argument("--shapes", help=f"subset of {','.join(SHAPES)}")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench-modern" / "w1.md"))
    args = ap.parse_args()
    variants = [BASELINE] + [v for v in (args.variants.split(",") if args.variants else VARIANTS)
                             if v != BASELINE]
    shapes = args.shapes.split(",") if args.shapes else list(SHAPES)
    if any(v not in VARIANTS for v in variants) or any(s not in SHAPES for s in shapes) \
            or args.reps < 1:
        ap.error("unknown variant or shape, or --reps < 1")

    snapshot = BinarySnapshot("mlp-modern-")
    tmp = Path(tempfile.mkdtemp(prefix="bench-modern-"))
    started, load_start = datetime.datetime.now(datetime.timezone.utc), os.getloadavg()
    pairs = [(s, v) for s in shapes for v in variants]
    times = {p: [] for p in pairs}
    accs, kernels = {}, {}
    try:
        for r in range(args.reps):
            k = r % len(pairs)
            for s, v in pairs[k:] + pairs[:k]:
                t, accs[(s, v)], kernels[(s, v)] = run_mlp(snapshot.path, tmp / "run", *SHAPES[s],
                                                           VARIANTS[v][0])
                times[(s, v)].append(t)
            print(f"bench-modern: round {r + 1}/{args.reps}, load {os.getloadavg()[0]:.2f}",
                  file=sys.stderr)
        rebuilt = snapshot.rebuilt()
    finally:
        snapshot.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    finished, load_end = datetime.datetime.now(datetime.timezone.utc), os.getloadavg()

    lines = [f"Command: `{command_line(__file__)}`", "",
             f"{started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC on {cpu_model()} ({os.cpu_count()} "
             f"CPUs; {cpu_flags()}), load average {load_start[0]:.2f} at start, {load_end[0]:.2f} "
             f"at end. Binary: a copy of target/release/mlp built {snapshot.mtime_utc()} "
             f"(sha256 {snapshot.sha256[:16]}{', rebuilt during the run' if rebuilt else ''}); "
             f"git {git_head()}. {args.reps} rounds.", ""]
    rows = []
    for s in shapes:
        hidden, batch = SHAPES[s]
        lines += [f"[{hidden}] / batch {batch}:", "",
                  "| variant | flags | first layer | median s | ratio to baseline (median) "
                  "| ratio quartiles | train acc |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for v in variants:
            med, q1, q3 = paired(times, s, v, BASELINE)
            rows.append({"shape": s, "variant": v, "flags": VARIANTS[v][0],
                         "times": times[(s, v)], "median_s": statistics.median(times[(s, v)]),
                         "paired_ratio": med, "ratio_q1": q1, "ratio_q3": q3,
                         "final_train_acc": accs[(s, v)], "first_layer_train": kernels[(s, v)]})
            lines.append(f"| {v}: {VARIANTS[v][1]} | `{' '.join(VARIANTS[v][0]) or '-'}` | "
                         f"{kernels[(s, v)]} | {rows[-1]['median_s']:.3f} | {med:.2f} | "
                         f"{q1:.2f}-{q3:.2f} | {accs[(s, v)]:.4f} |")
        lines.append("")
    targets = []
    for v, b, limit, s in TARGETS:
        if (s, v) in times and (s, b) in times:
            med, q1, q3 = paired(times, s, v, b)
            targets.append({"variant": v, "against": b, "shape": s, "limit": limit,
                            "paired_ratio": med, "met": med <= limit})
            lines.append(f"- {v} / {b} at {s}: {med:.3f} (quartiles {q1:.2f}-{q3:.2f}), target "
                         f"<= {limit}: {'met' if med <= limit else 'MISSED'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    raw = {"started": started.isoformat(), "finished": finished.isoformat(),
           "command": command_line(__file__), "binary_sha256": snapshot.sha256,
           "binary_rebuilt_during_run": rebuilt, "load": [load_start, load_end],
           "w1_flags": W1_FLAGS, "runs": rows, "targets": targets}
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
