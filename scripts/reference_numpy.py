#!/usr/bin/env python3
"""A clean numpy re-implementation of the 2021 TDT4265 assignment 2 training procedure.

This is NOT the 2021 code. It is our own re-implementation of the procedure described in
../shared/docs/reference-2021.md (sections 1-8 and 11), written to follow the original's
numerics step by step in float64 (same operations, same order, same numpy RNG calls), so that
the Rust program `mlp` can be compared with it and benchmarked against it.

What it does, as the 2021 code did:
  * data: the first 20000 training images, and all 10000 test images as validation set;
  * X = (X - mean) / std with global scalars (the hard-coded 2021 literals by default, or
    np.mean / np.std of all 60000 training images with --stats computed), then a ones column last;
  * np.random.seed(1) at model creation, weights (fan_in, fan_out) drawn layer by layer with
    uniform(-1, 1) or normal(0, 1/sqrt(fan_in));
  * sigmoid or 1.7159 tanh(2z/3) hidden units, softmax output without a max shift,
    cross entropy without clipping; the backward pass recomputes z = a_prev @ w;
  * SGD (lr) or momentum v = g + gamma v, w -= lr v; batch 32, a new np.random.shuffle of a
    python list of indices every epoch;
  * full-set validation every 125 steps (from step 0), early stopping after 50 checks without a
    strict improvement of the validation loss; the final metrics use the final weights.

Usage:
    python scripts/reference_numpy.py --preset basic [--stats literal|computed] [--out DIR]
                                      [--max-steps N] [--threads 1]

Outputs in DIR (default results/runs/numpy-<preset>-<stats>):
    steps.csv     step,epoch,train_loss             (loss of the batch, before the update)
    checks.csv    step,epoch,val_loss,val_acc,train_acc
    summary.json  stop_epoch, steps, final_train_loss, final_train_acc, final_val_loss,
                  final_val_acc, train_wall_s, plus the configuration, the normalisation
                  constants, the initial weights' checksums and the BLAS in use.
Floats are written with repr() (json.dumps uses it too), so they parse back to the same float64.
"""

import argparse
import gzip
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

# Single-threaded BLAS unless the caller chose otherwise; must be set before numpy loads OpenBLAS.
if "--threads" in sys.argv:
    _i = sys.argv.index("--threads")
    if _i + 1 < len(sys.argv):
        os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[_i + 1]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # optional: the environment variable above already limits the threads
    threadpool_info = threadpool_limits = None

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data" / "mnist"

# The 2021 code's hard-coded normalisation constants (its comment: np.mean / np.std of all 60000
# training images).
LITERAL_MEAN = 33.3184214498299
LITERAL_STD = 78.56748998339798

N_TRAIN = 20000
NUM_CLASSES = 10
BATCH_SIZE = 32
NUM_EPOCHS = 50
PATIENCE = 50
CHECKS_PER_EPOCH = 5
MOMENTUM_GAMMA = 0.9
SEED = 1

# name: (hidden sizes, improved sigmoid, improved weight init, momentum, learning rate)
PRESETS = {
    "basic": ([64], False, False, False, 0.1),
    "iw": ([64], False, True, False, 0.1),
    "is": ([64], True, False, False, 0.1),
    "momentum": ([64], False, False, True, 0.02),
    "is-iw": ([64], True, True, False, 0.1),
    "all": ([64], True, True, True, 0.02),
    "4a": ([32], True, True, True, 0.02),
    "4b": ([128], True, True, True, 0.02),
    "4-64": ([64], True, True, True, 0.02),  # the task-4 baseline, the same model as "all"
    "4d": ([60, 60], True, True, True, 0.02),
    "4e": ([64] * 10, True, True, True, 0.02),
}


# ----------------------------------------------------------------------------------------- data

def load_images(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28 * 28)


def load_labels(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


def load_mnist(data_dir):
    """(X_train_full 60000x784, Y_train_full, X_test 10000x784, Y_test), uint8."""
    d = Path(data_dir)
    return (
        load_images(d / "train-images-idx3-ubyte.gz"),
        load_labels(d / "train-labels-idx1-ubyte.gz"),
        load_images(d / "t10k-images-idx3-ubyte.gz"),
        load_labels(d / "t10k-labels-idx1-ubyte.gz"),
    )


def pre_process_images(X, mean, std):
    """(X - mean) / std with global scalars, then a column of ones appended last: (N, 785)."""
    assert X.shape[1] == 784
    X = (X - mean) / std
    X = np.insert(X, X.shape[1], 1, axis=1)
    assert X.shape[1] == 785
    return X


def one_hot_encode(Y, num_classes):
    """(N,) or (N,1) integer labels -> (N, num_classes) int one-hot, as the 2021 code did."""
    return (np.arange(num_classes) == Y.reshape(-1, 1)).astype(int)


# ---------------------------------------------------------------------------------------- model

class Model:
    """MLP with weights ws[l] of shape (fan_in, fan_out); the only bias is the input ones column."""

    def __init__(self, neurons_per_layer, use_improved_sigmoid, use_improved_weight_init,
                 input_size=785):
        np.random.seed(SEED)
        self.use_improved_sigmoid = use_improved_sigmoid
        self.ws = []
        prev = input_size
        for size in neurons_per_layer:
            shape = (prev, size)
            if use_improved_weight_init:
                w = np.random.normal(0, 1 / np.sqrt(prev), shape)
            else:
                w = np.random.uniform(-1, 1, shape)
            self.ws.append(w)
            prev = size
        self.grads = [None] * len(self.ws)
        self.activations = []

    def hidden(self, z):
        if self.use_improved_sigmoid:
            return 1.7159 * np.tanh((2.0 / 3.0) * z)
        return 1 / (1 + np.exp(-z))

    def hidden_derivative(self, z):
        if self.use_improved_sigmoid:
            return 1.7159 * (2.0 / 3.0) * (1 / (np.cosh((2.0 / 3.0) * z) * np.cosh((2.0 / 3.0) * z)))
        return 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))

    def forward(self, X):
        """Returns the softmax outputs and keeps [X, a1, ..., a_last_hidden] for backward."""
        a = X
        self.activations = [X]
        for w in self.ws[:-1]:
            a = self.hidden(a @ w)
            self.activations.append(a)
        z = a @ self.ws[-1]
        return np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)

    def backward(self, X, outputs, targets):
        """Fills self.grads with the batch-mean gradients; forward(X) must have run just before."""
        n = X.shape[0]
        delta = -(targets - outputs)
        last = len(self.ws) - 1
        self.grads[last] = 1 / n * (self.activations[last].T @ delta)
        for l in range(last - 1, -1, -1):
            zj = self.activations[l] @ self.ws[l]
            delta = self.hidden_derivative(zj) * (delta @ self.ws[l + 1].T)
            self.grads[l] = 1 / n * (self.activations[l].T @ delta)


def cross_entropy_loss(targets, outputs):
    average_cost = -np.sum(targets * np.log(outputs), axis=1)
    return (1 / targets.shape[0]) * np.sum(average_cost)


def accuracy(targets, outputs):
    return np.mean(np.argmax(outputs, axis=1) == np.argmax(targets, axis=1))


def evaluate(model, X, Y):
    """(cross entropy, accuracy) on a whole set, from one forward pass."""
    outputs = model.forward(X)
    return cross_entropy_loss(Y, outputs), accuracy(Y, outputs)


def weights_checksums(ws):
    """Per layer: md5 of the raw row-major float64 bytes and a plain left-to-right sum."""
    out = []
    for w in ws:
        a = np.ascontiguousarray(w, dtype="<f8")
        s = 0.0
        for v in a.ravel().tolist():
            s += v
        out.append({"shape": list(a.shape), "md5": hashlib.md5(a.tobytes()).hexdigest(),
                    "seq_sum": s})
    return out


# ------------------------------------------------------------------------------------- training

class Trainer:
    def __init__(self, model, lr, use_momentum, gamma=MOMENTUM_GAMMA):
        self.model = model
        self.lr = lr
        self.use_momentum = use_momentum
        self.gamma = gamma
        self.velocity = [np.zeros_like(w) for w in model.ws]

    def train_step(self, X_batch, Y_batch):
        outputs = self.model.forward(X_batch)
        self.model.backward(X_batch, outputs, Y_batch)
        for l, g in enumerate(self.model.grads):
            if self.use_momentum:
                self.velocity[l] = g + self.gamma * self.velocity[l]
                self.model.ws[l] = self.model.ws[l] - self.lr * self.velocity[l]
            else:
                self.model.ws[l] = self.model.ws[l] - self.lr * g
        return cross_entropy_loss(Y_batch, outputs)

    def train(self, X_train, Y_train, X_val, Y_val, max_steps=None, log=None):
        """Runs the 2021 loop. Returns (stop_epoch or None, steps, step rows, check rows)."""
        n = X_train.shape[0]
        num_batches = n // BATCH_SIZE
        steps_per_val = num_batches // CHECKS_PER_EPOCH
        steps, checks = [], []
        lowest, counter = float("inf"), 0
        global_step = 0
        for epoch in range(NUM_EPOCHS):
            indices = list(range(n))
            np.random.shuffle(indices)
            for i in range(num_batches):
                rows = indices[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
                loss = self.train_step(X_train[rows], Y_train[rows])
                steps.append((global_step, epoch, loss))
                if global_step % steps_per_val == 0:
                    val_loss, val_acc = evaluate(self.model, X_val, Y_val)
                    _, train_acc = evaluate(self.model, X_train, Y_train)
                    checks.append((global_step, epoch, val_loss, val_acc, train_acc))
                    if log:
                        log(f"step {global_step:6d} epoch {epoch:2d} loss {loss:.4f} "
                            f"val_loss {val_loss:.4f} val_acc {val_acc:.4f} train_acc {train_acc:.4f}")
                    if val_loss < lowest:
                        lowest, counter = val_loss, 0
                    else:
                        counter += 1
                    if counter >= PATIENCE:
                        return epoch, global_step + 1, steps, checks
                global_step += 1
                if max_steps is not None and global_step >= max_steps:
                    return None, global_step, steps, checks
        return None, global_step, steps, checks


# ------------------------------------------------------------------------------------------ cli

def blas_info():
    if threadpool_info is None:
        return {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}
    return [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                   "filepath")} for i in threadpool_info()]


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
                             for v in row) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="basic")
    p.add_argument("--stats", choices=["literal", "computed"], default="literal",
                   help="normalisation mean/std: the 2021 hard-coded literals, or np.mean/np.std "
                        "of all 60000 training images")
    p.add_argument("--out", type=Path, help="output directory")
    p.add_argument("--max-steps", type=int, help="stop after N training steps (quick comparisons)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    hidden, improved_sigmoid, improved_init, use_momentum, lr = PRESETS[args.preset]
    out = args.out or ROOT / "results" / "runs" / f"numpy-{args.preset}-{args.stats}"
    out.mkdir(parents=True, exist_ok=True)
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))

    X_full, Y_full, X_test, Y_test = load_mnist(args.data_dir)
    if args.stats == "literal":
        mean, std = LITERAL_MEAN, LITERAL_STD
    else:
        mean, std = float(np.mean(X_full)), float(np.std(X_full))
    X_train = pre_process_images(X_full[:N_TRAIN], mean, std)
    X_val = pre_process_images(X_test[-10000:], mean, std)
    Y_train = one_hot_encode(Y_full[:N_TRAIN], NUM_CLASSES)
    Y_val = one_hot_encode(Y_test[-10000:], NUM_CLASSES)

    limiter = threadpool_limits(args.threads) if threadpool_limits else None
    model = Model(hidden + [NUM_CLASSES], improved_sigmoid, improved_init)
    init_checksums = weights_checksums(model.ws)
    trainer = Trainer(model, lr, use_momentum)
    t0 = time.perf_counter()
    stop_epoch, n_steps, steps, checks = trainer.train(X_train, Y_train, X_val, Y_val,
                                                       args.max_steps, log)
    wall = time.perf_counter() - t0
    train_loss, train_acc = evaluate(model, X_train, Y_train)
    val_loss, val_acc = evaluate(model, X_val, Y_val)
    info = blas_info()
    if limiter is not None:
        limiter.restore_original_limits()

    write_csv(out / "steps.csv", ["step", "epoch", "train_loss"], steps)
    write_csv(out / "checks.csv", ["step", "epoch", "val_loss", "val_acc", "train_acc"], checks)
    summary = {
        "preset": args.preset,
        "hidden": hidden,
        "improved_sigmoid": improved_sigmoid,
        "improved_weight_init": improved_init,
        "momentum": MOMENTUM_GAMMA if use_momentum else 0.0,
        "lr": lr,
        "stats": args.stats,
        "mean": mean,
        "std": std,
        "max_steps": args.max_steps,
        "stop_epoch": stop_epoch,
        "steps": n_steps,
        "final_train_loss": float(train_loss),
        "final_train_acc": float(train_acc),
        "final_val_loss": float(val_loss),
        "final_val_acc": float(val_acc),
        "train_wall_s": round(wall, 3),
        "init_weights": init_checksums,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "blas": info,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if log:
        log(f"stop_epoch {stop_epoch} steps {n_steps} train_loss {train_loss:.6f} "
            f"train_acc {train_acc:.6f} val_loss {val_loss:.6f} val_acc {val_acc:.6f} "
            f"wall {wall:.1f}s -> {out}")
    return summary


if __name__ == "__main__":
    main()
