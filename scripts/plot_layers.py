#!/usr/bin/env python3
"""Draw what `experiments/layers-4e.toml` measured inside the ten-layer 4e net (docs/4e.md).

Usage:
  python scripts/plot_layers.py results/layers-4e --out docs/4e-layers.png [--table FILE]

Reads layers.csv, checks.csv and summary.json of the sweep's runs (the run names of
experiments/layers-4e.toml) and draws one figure of six panels:
  top:    4e against [64] (4-64), seed 1: per-layer gradient norm over training (log scale),
          per-layer saturation over training, validation loss of 4e and [64] over 5 seeds and of
          4e on the reference kernels (best check marked o, stop marked x);
  bottom: the deep net with the tricks varied (improved sigmoid / plain sigmoid, fan-in /
          uniform(-1, 1) init): the gradient-norm profile across layers, the layer-0 over
          last-layer gradient ratio over training, and the saturation profile across layers.
"Early" is the check at step 125 (mean over the first 125 steps), "best" the check with the
lowest validation loss (summary.json's best_step).

--table FILE also writes the figures docs/4e.md quotes as markdown tables (stdout with '-').
Needs numpy and matplotlib only (scripts/requirements-plot.txt).
"""

import argparse
import csv
import json
import os
import sys

import numpy as np

EARLY_STEP = 125

# Runs of experiments/layers-4e.toml: (name, label, colour).
DEEP = [
    ("4e", "4e: improved sigmoid, fan-in init", "tab:red"),
    ("4e-sigmoid", "plain sigmoid, fan-in init", "tab:purple"),
    ("4e-uniform", "improved sigmoid, uniform(-1,1) init", "tab:orange"),
    ("4e-sigmoid-uniform", "plain sigmoid, uniform(-1,1) init", "tab:green"),
]
SHALLOW = ("4-64", "[64] (4-64)", "tab:blue")
SEEDS = {"4e": ["4e", "4e-s2", "4e-s3", "4e-s4", "4e-s5"],
         "4-64": ["4-64", "4-64-s2", "4-64-s3", "4-64-s4", "4-64-s5"]}
REFERENCE = "4e-reference"


def die(msg):
    print(f"plot_layers.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_csv(path):
    if not os.path.isfile(path):
        die(f"{path} does not exist (run `mlp sweep experiments/layers-4e.toml` first)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(s):
    return float(s) if s != "" else np.nan


class Run:
    """One run directory: its layer table as arrays indexed [check, layer]."""

    def __init__(self, root, name):
        d = os.path.join(root, name)
        self.name = name
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)["config"]
        summary_path = os.path.join(d, "summary.json")
        if not os.path.isfile(summary_path):
            die(f"{summary_path} does not exist: the run is unfinished")
        with open(summary_path) as f:
            self.summary = json.load(f)
        self.steps_per_epoch = -(-cfg["train_size"] // cfg["batch_size"])
        rows = read_csv(os.path.join(d, "layers.csv"))
        if not rows:
            die(f"{d}/layers.csv is empty (was the run trained with diagnostics = true?)")
        self.steps = np.array(sorted({int(r["step"]) for r in rows}))
        self.layers = max(int(r["layer"]) for r in rows) + 1
        index = {s: i for i, s in enumerate(self.steps)}
        self.cols = {}
        for col in ("grad_norm", "weight_norm", "spectral_norm", "update_ratio", "saturation"):
            a = np.full((len(self.steps), self.layers), np.nan)
            for r in rows:
                a[index[int(r["step"])], int(r["layer"])] = num(r[col])
            self.cols[col] = a
        self.checks = read_csv(os.path.join(d, "checks.csv"))
        self.epochs = self.steps / self.steps_per_epoch

    def at(self, col, step):
        i = np.searchsorted(self.steps, step)
        if i == len(self.steps) or self.steps[i] != step:
            die(f"{self.name}: no check at step {step}")
        return self.cols[col][i]

    @property
    def best(self):
        return self.summary["best_step"]

    @property
    def last(self):
        return int(self.steps[-1])

    def ratio(self):
        g = self.cols["grad_norm"]
        return g[:, 0] / g[:, -1]


def load(root):
    names = [n for n, _, _ in DEEP] + [SHALLOW[0], REFERENCE] + SEEDS["4e"] + SEEDS["4-64"]
    return {n: Run(root, n) for n in dict.fromkeys(names)}


def layer_colours(n):
    import matplotlib.pyplot as plt
    return plt.cm.viridis(np.linspace(0.0, 0.9, n))


def draw(runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    e4, m64 = runs["4e"], runs[SHALLOW[0]]
    fig, ax = plt.subplots(2, 3, figsize=(18, 10.5))
    fig.suptitle("Inside the ten-hidden-layer net (4e) and [64]: MNIST, f64, numpy stream, fast kernels "
                 "(results/layers-4e, experiments/layers-4e.toml)", fontsize=13)
    colours = layer_colours(e4.layers)

    # (a) gradient norm per layer over training.
    a = ax[0, 0]
    for l in range(e4.layers):
        a.plot(e4.epochs, e4.cols["grad_norm"][:, l], color=colours[l], lw=1.2)
    for l, ls in ((0, "--"), (1, ":")):
        a.plot(m64.epochs, m64.cols["grad_norm"][:, l], color="black", ls=ls, lw=1.6)
    a.set_yscale("log")
    a.set_title("(a) weight-gradient norm per layer, 4e vs [64] (seed 1)")
    a.set_xlabel("epoch")
    a.set_ylabel("|dL/dW| (Frobenius, mean since previous check)")
    a.axvline(e4.best / e4.steps_per_epoch, color="tab:red", lw=0.8, alpha=0.6)
    a.axvline(m64.best / m64.steps_per_epoch, color="black", lw=0.8, alpha=0.6)
    sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, (e4.layers - 1) / 0.9))
    cb = fig.colorbar(sm, ax=a, pad=0.01, ticks=range(0, e4.layers, 2))
    cb.set_label("4e layer (0 = input side, 10 = softmax)")
    a.legend(handles=[Line2D([], [], color="black", ls="--", label="[64] layer 0 (785x64)"),
                      Line2D([], [], color="black", ls=":", label="[64] layer 1 (softmax)"),
                      Line2D([], [], color="grey", lw=0.8, label="best check (4e red, [64] black)")],
             fontsize=8, loc="lower left")

    # (b) saturation per hidden layer over training.
    a = ax[0, 1]
    for l in range(e4.layers - 1):
        a.plot(e4.epochs, e4.cols["saturation"][:, l], color=colours[l], lw=1.2, label=f"4e layer {l}")
    a.plot(m64.epochs, m64.cols["saturation"][:, 0], color="black", ls="--", lw=1.6, label="[64] hidden layer")
    a.set_title("(b) saturated units per hidden layer (probe: 1000 val. images)")
    a.set_xlabel("epoch")
    a.set_ylabel("fraction with f'(z) < 1% of max")
    a.set_ylim(0, 1)
    a.legend(fontsize=7, ncol=2, loc="upper left")

    # (c) validation loss over seeds and kernels: where the stop falls.
    a = ax[0, 2]
    for key, colour in (("4-64", "tab:blue"), ("4e", "tab:red")):
        for i, n in enumerate(SEEDS[key]):
            r = runs[n]
            steps = np.array([int(c["step"]) for c in r.checks])
            loss = np.array([float(c["val_loss"]) for c in r.checks])
            ep = steps / r.steps_per_epoch
            a.plot(ep, loss, color=colour, lw=0.9, alpha=0.55,
                   label=f"{'4e' if key == '4e' else '[64]'}, seeds 1-5" if i == 0 else None)
            b = np.searchsorted(steps, r.best)
            a.plot(ep[b], loss[b], "o", color=colour, ms=6)
            a.plot(ep[-1], loss[-1], "x", color=colour, ms=7, mew=2)
    r = runs[REFERENCE]
    steps = np.array([int(c["step"]) for c in r.checks])
    loss = np.array([float(c["val_loss"]) for c in r.checks])
    a.plot(steps / r.steps_per_epoch, loss, color="black", lw=1.0, ls="--", label="4e seed 1, reference kernels")
    b = np.searchsorted(steps, r.best)
    a.plot(steps[b] / r.steps_per_epoch, loss[b], "o", color="black", ms=6)
    a.plot(steps[-1] / r.steps_per_epoch, loss[-1], "x", color="black", ms=7, mew=2)
    a.set_ylim(0.12, 0.45)
    a.set_title("(c) validation loss: o best check, x early stop (best + 10 epochs)")
    a.set_xlabel("epoch")
    a.set_ylabel("validation cross entropy")
    a.legend(fontsize=8, loc="upper right")

    # (d) gradient-norm profile across layers, early and at the best check.
    a = ax[1, 0]
    x = np.arange(e4.layers)
    for n, label, colour in DEEP:
        r = runs[n]
        a.plot(x, r.at("grad_norm", EARLY_STEP), color=colour, ls="--", marker=".", lw=1.0)
        a.plot(x, r.at("grad_norm", r.best), color=colour, ls="-", marker="o", ms=4, lw=1.6, label=label)
    a.set_yscale("log")
    a.set_xticks(x)
    a.set_title(f"(d) gradient norm across the deep net: -- step {EARLY_STEP}, - best check")
    a.set_xlabel("layer (0 = input side, 10 = softmax)")
    a.set_ylabel("|dL/dW|")
    a.legend(fontsize=8, loc="lower right")

    # (e) layer-0 over last-layer gradient ratio over training.
    a = ax[1, 1]
    for n, label, colour in DEEP + [SHALLOW]:
        r = runs[n]
        a.plot(r.epochs, r.ratio(), color=colour, lw=1.3, ls="--" if n == SHALLOW[0] else "-", label=label)
    a.axhline(1.0, color="grey", lw=0.8)
    a.set_yscale("log")
    a.set_title("(e) gradient ratio layer 0 / last layer (vanishing: << 1)")
    a.set_xlabel("epoch")
    a.set_ylabel("|dL/dW0| / |dL/dW_last|")
    a.legend(fontsize=8, loc="center right")

    # (f) saturation profile across hidden layers.
    a = ax[1, 2]
    xh = np.arange(e4.layers - 1)
    for n, label, colour in DEEP:
        r = runs[n]
        a.plot(xh, r.at("saturation", EARLY_STEP)[:-1], color=colour, ls="--", marker=".", lw=1.0)
        a.plot(xh, r.at("saturation", r.best)[:-1], color=colour, ls="-", marker="o", ms=4, lw=1.6, label=label)
    a.plot([0], m64.at("saturation", m64.best)[:1], "s", color="tab:blue", ms=8, label="[64] hidden layer, best")
    a.set_xticks(xh)
    a.set_ylim(-0.02, 1.02)
    a.set_title(f"(f) saturated units across hidden layers: -- step {EARLY_STEP}, - best check")
    a.set_xlabel("hidden layer (0 = input side)")
    a.set_ylabel("fraction with f'(z) < 1% of max")
    a.legend(fontsize=8, loc="center right")

    for a in ax.flat:
        a.grid(alpha=0.3, which="major")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=110)
    print(f"plot_layers.py: wrote {out}")


def fmt(v):
    return f"{v:.3g}"


def table(runs):
    lines = ["Seed-1 runs (step: the check's step; early = step 125, best = summary.json's best_step):", "",
             "| run | stop epoch | best step | final val acc | grad ratio l0/last: step 0, 125, best, last "
             "| grad l1 / l9 (same shape): step 125, best | saturation l0, l1, l9 at best | update ratio l0, l5, last at best "
             "| spectral norm l0 at best |",
             "|---|---:|---:|---:|---|---:|---|---|---:|"]
    for n, _, _ in DEEP + [SHALLOW] + [(REFERENCE, "", "")]:
        r = runs[n]
        s = r.summary
        rat = [r.ratio()[np.searchsorted(r.steps, st)] for st in (0, EARLY_STEP, r.best, r.last)]
        g = r.at("grad_norm", r.best)
        sat = r.at("saturation", r.best)
        upd = r.at("update_ratio", r.best)
        g_early = r.at("grad_norm", EARLY_STEP)
        l1_l9 = f"{fmt(g_early[1] / g_early[-2])}, {fmt(g[1] / g[-2])}" if r.layers > 3 else "-"
        sats = ", ".join(fmt(sat[i]) for i in (0, 1, r.layers - 2) if i < r.layers - 1)
        upds = ", ".join(fmt(upd[i]) for i in sorted({0, min(5, r.layers - 1), r.layers - 1}))
        lines.append(f"| {n} | {s['stop_epoch']} | {r.best} | {s['final_val_acc']:.4f} | "
                     f"{', '.join(fmt(v) for v in rat)} (last = {r.last}) | {l1_l9} | {sats} | {upds} | "
                     f"{fmt(r.at('spectral_norm', r.best)[0])} |")
    lines += ["", "Seeds (the same net and setting, seeds 1-5):", "",
              "| run | stop epoch | best step | best val loss | train loss at best | final val acc |",
              "|---|---:|---:|---:|---:|---:|"]
    for key in ("4e", "4-64"):
        for n in SEEDS[key] + ([REFERENCE] if key == "4e" else []):
            r = runs[n]
            best = next(c for c in r.checks if int(c["step"]) == r.best)
            lines.append(f"| {n} | {r.summary['stop_epoch']} | {r.best} | {float(best['val_loss']):.4f} | "
                         f"{float(best['train_full_loss']):.4f} | {r.summary['final_val_acc']:.4f} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="the sweep's output directory, e.g. results/layers-4e")
    p.add_argument("--out", required=True, help="figure file (.png or .svg)")
    p.add_argument("--table", help="also write the quoted figures as markdown ('-' = stdout)")
    args = p.parse_args()
    if not os.path.isdir(args.results):
        die(f"{args.results} is not a directory")
    runs = load(args.results)
    draw(runs, args.out)
    if args.table:
        text = table(runs)
        if args.table == "-":
            sys.stdout.write(text)
        else:
            with open(args.table, "w") as f:
                f.write(text)


if __name__ == "__main__":
    main()
