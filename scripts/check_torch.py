#!/usr/bin/env python3
"""PyTorch replays `mlp train`'s modern recipe step for step: every step's training loss and
learning rate (steps.csv) and the final weights (model.safetensors) must agree within 1e-9.

Each case trains with `mlp train --rng numpy --kernels reference --precision f64 --threads 1` for
two epochs on the first 2000 training images, then the same run in PyTorch (float64, CPU, one
thread), its hyperparameters read back from the model file's config (which must record the case's
knobs):
  * initial weights from numpy's legacy stream, as mlp draws them with `--rng numpy` (and
    scripts/reference_numpy.py): np.random.seed(seed), then each layer's (fan_in, fan_out) matrix
    in layer order, uniform(-1, 1), normal(0, 1/sqrt(fan_in)) or, for he, normal(0, sqrt(2/fan_in));
  * the same batches in the same order: a fresh list(range(N)) np.random.shuffle'd every epoch,
    cut into batches of batch_size (a last partial batch dropped);
  * images (x - mean) / std with the model file's mean and std. With `bias = input` (the 2021
    form) a ones column is appended last and is mlp's only bias, so every layer is
    nn.Linear(bias=False); with `bias = all`, nn.Linear(bias=True) with zero biases on the bare
    pixels (mlp draws the first layer's ones-column row and zeroes it: drawn here, then dropped).
    Each weight is mlp's (fan_in, fan_out) matrix transposed; hidden activations nn.Sigmoid,
    nn.ReLU or 1.7159 tanh(2z/3); F.cross_entropy on the last layer's outputs;
  * torch.optim.SGD (momentum, weight_decay), Adam or AdamW (betas, eps, weight_decay), with a
    LambdaLR stepped after every step giving mlp's documented schedule in closed form.
The step-0 loss checks the initial weights (the run directory keeps no initial model).

Dropout is left out: mlp draws its masks from a stream of its own, which PyTorch cannot replay.

    .venv/bin/python scripts/check_torch.py [--binary target/release/mlp] [--data-dir data/mnist]
"""
import argparse
import csv
import gzip
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-9
CLASSES = 10

# Knobs of every case, as `mlp train` and sweep files name them (snake_case).
COMMON = {"rng": "numpy", "kernels": "reference", "precision": "f64", "train_size": 2000,
          "val_size": 500, "epochs": 2, "early_stopping": False}

# (case, its own knobs): add a case by adding a line.
CASES = [
    ("sgd-momentum-wd", {"activation": "improved", "init": "normal", "optimizer": "sgd",
                         "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-3}),
    ("adam-relu-he", {"activation": "relu", "init": "he", "optimizer": "adam", "lr": 1e-3}),
    ("adam-wd-step", {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-2, "lr_schedule": "step",
                      "lr_decay_epochs": 1, "lr_decay": 0.5}),
    ("adamw-cosine-warmup", {"activation": "relu", "init": "he", "optimizer": "adamw", "lr": 1e-3,
                             "weight_decay": 0.05, "lr_schedule": "cosine", "warmup_steps": 20,
                             "lr_min": 1e-4}),
    ("adamw-improved-64x32", {"activation": "improved", "init": "normal", "optimizer": "adamw",
                              "lr": 1e-3, "weight_decay": 0.01, "hidden": [64, 32]}),
    ("adamw-bias-all-64x32", {"activation": "relu", "init": "he", "optimizer": "adamw", "lr": 1e-3,
                              "weight_decay": 0.01, "hidden": [64, 32], "bias": "all",
                              "lr_schedule": "cosine", "warmup_steps": 10}),
    ("sgd-bias-all", {"activation": "improved", "init": "normal", "optimizer": "sgd", "lr": 0.05,
                      "momentum": 0.9, "weight_decay": 1e-3, "bias": "all"}),
]

INITS = {
    "uniform": lambda fan_in, shape: np.random.uniform(-1, 1, shape),
    "normal": lambda fan_in, shape: np.random.normal(0, 1 / np.sqrt(fan_in), shape),
    "he": lambda fan_in, shape: np.random.normal(0, np.sqrt(2 / fan_in), shape),
}


class ImprovedSigmoid(torch.nn.Module):
    def forward(self, z):
        return 1.7159 * torch.tanh(2 / 3 * z)


ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "improved": ImprovedSigmoid, "relu": torch.nn.ReLU}


def idx(path: Path, offset: int) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return np.frombuffer(raw, np.uint8, offset=offset)


def flag_value(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def lr_at(cfg: dict, t: int, steps_per_epoch: int) -> float:
    """mlp's learning rate at step t (from 0): linear warm-up, then constant, cosine or step."""
    lr, warmup, total = cfg["lr"], cfg["warmup_steps"], cfg["epochs"] * steps_per_epoch
    if t < warmup:
        return lr * (t + 1) / warmup
    if cfg["lr_schedule"] == "cosine":
        lr_min = cfg["lr_min"]
        return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * (t - warmup) / (total - warmup))) / 2
    if cfg["lr_schedule"] == "step":
        return lr * cfg["lr_decay"] ** (t // steps_per_epoch // cfg["lr_decay_epochs"])
    return lr


def replay(cfg: dict, x: torch.Tensor, y: torch.Tensor):
    """The run in PyTorch: (per-step losses, per-step learning rates, final (fan_in, fan_out) weights)."""
    np.random.seed(cfg["seed"])
    biases = cfg["bias"] == "all"
    sizes = [x.shape[1] + biases, *cfg["hidden"], CLASSES]
    layers = []
    for l, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        w = INITS[cfg["init"]](fan_in, (fan_in, fan_out))
        if biases and l == 0:
            w = w[:-1]
        linear = torch.nn.Linear(w.shape[0], fan_out, bias=biases)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T))
            if biases:
                linear.bias.zero_()
        layers += [linear, ACTIVATIONS[cfg["activation"]]()]
    net = torch.nn.Sequential(*layers[:-1])
    hyper = {"lr": cfg["lr"], "weight_decay": cfg["weight_decay"]}
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), momentum=cfg["momentum"], **hyper)
    else:
        kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg["optimizer"]]
        opt = kind(net.parameters(), betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"], **hyper)
    n, batch = x.shape[0], cfg["batch_size"]
    steps_per_epoch = n // batch
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_at(cfg, t, steps_per_epoch) / cfg["lr"])
    losses, lrs = [], []
    for _ in range(cfg["epochs"]):
        order = list(range(n))
        np.random.shuffle(order)
        for i in range(steps_per_epoch):
            rows = order[i * batch:(i + 1) * batch]
            lrs.append(opt.param_groups[0]["lr"])
            loss = F.cross_entropy(net(x[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            losses.append(loss.item())
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    weights = [m.weight.detach().numpy().T for m in linears]
    return losses, lrs, weights + ([m.bias.detach().numpy() for m in linears] if biases else [])


def check(name: str, knobs: dict, binary: Path, data_dir: Path, out: Path) -> tuple:
    """Trains the case with mlp and in PyTorch: (steps, max |loss diff|, max |lr diff|, max |weight diff|)."""
    cmd = [str(binary), "train", "--threads", "1", "--checkpoint-every", "0", "--quiet",
           "--data-dir", str(data_dir), "--out", str(out)]
    for k, v in knobs.items():
        cmd += [f"--{k.replace('_', '-')}", flag_value(v)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with safe_open(str(out / "model.safetensors"), framework="np") as f:
        meta = f.metadata()
        cfg = json.loads(meta["config"])
        layers = range(len(cfg["hidden"]) + 1)
        weights = [f.get_tensor(f"layers.{i}.weight") for i in layers]
        if cfg["bias"] == "all":
            weights += [f.get_tensor(f"layers.{i}.bias") for i in layers]
    wrong = {k: cfg.get(k) for k, v in knobs.items() if cfg.get(k) != v}
    if wrong:
        sys.exit(f"torch-check: {name}: the run records {wrong}, not the case's knobs")
    if cfg["dropout"]:
        sys.exit(f"torch-check: {name}: PyTorch cannot replay mlp's dropout masks")
    n = cfg["train_size"]
    pixels = idx(data_dir / "train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:n]
    x = (pixels - float(meta["mean"])) / float(meta["std"])
    if cfg["bias"] == "input":
        x = np.hstack([x, np.ones((n, 1))])
    y = idx(data_dir / "train-labels-idx1-ubyte.gz", 8)[:n].astype(np.int64)
    losses, lrs, torch_weights = replay(cfg, torch.from_numpy(x), torch.from_numpy(y))
    with open(out / "steps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if [int(r["step"]) for r in rows] != list(range(len(losses))):
        sys.exit(f"torch-check: {name}: steps.csv has {len(rows)} steps, PyTorch took {len(losses)}")
    return (len(rows), diff([float(r["train_loss"]) for r in rows], losses),
            diff([float(r["lr"]) for r in rows], lrs),
            max(diff(w, t) for w, t in zip(weights, torch_weights)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "target/release/mlp")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "data/mnist")
    args = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    print(f"torch-check: torch {torch.__version__}, numpy {np.__version__}, {args.binary}, "
          f"tolerance {TOLERANCE:g}")
    print(f"{'case':<22} {'steps':>5} {'max |loss diff|':>15} {'max |lr diff|':>13} "
          f"{'max |weight diff|':>17}  result")
    failed = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, knobs in CASES:
            steps, loss, lr, weight = check(name, {**COMMON, **knobs}, args.binary, args.data_dir,
                                            Path(tmp) / name)
            ok = max(loss, lr, weight) <= TOLERANCE
            failed += not ok
            print(f"{name:<22} {steps:>5} {loss:>15.2e} {lr:>13.2e} {weight:>17.2e}  "
                  f"{'PASS' if ok else 'FAIL'}")
    print(f"torch-check: {len(CASES) - failed} of {len(CASES)} cases pass "
          f"({time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
