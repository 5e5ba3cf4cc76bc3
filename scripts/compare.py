#!/usr/bin/env python3
"""Compare `mlp` with idiomatic numpy and PyTorch on the throughput workloads W1-W4.

Workloads (the same definitions as `mlp throughput`, see src/workloads.rs):
  W1  one training epoch over all 60000 training images, [785, 64, 10], sigmoid hidden units,
      softmax + cross entropy, SGD lr 0.1, batch 32 (1875 shuffled steps), no validation;
  W2  W1 with ten hidden layers of 64;
  W3  evaluation (forward + cross entropy + accuracy) of a [785, 64, 10] model over 70000 images
      (the 60000 training and the 10000 test images);
  W4  W1 plus five validation passes in the epoch (after steps 0, 375, ..., 1500), each one the
      loss and accuracy on the 10000 test images and the accuracy on the 60000 training images.
Data: data/mnist/*.gz, normalised with the mean and standard deviation of all 60000 training
pixels, a ones column appended (785 inputs); weights uniform(-1, 1); hidden layers have no bias.

Variants:
  ours-f32, ours-f64   target/release/mlp throughput --workload W --precision P --reps 1 --quiet
                       --threads 1
                       (one process per repetition; it does its own untimed warm-up and times the
                       workload alone, data loading excluded)
  numpy-f64, numpy-f32 our own idiomatic numpy version of the study's procedure (below), OpenBLAS
                       single-threaded
  torch-1t, torch-2t   idiomatic PyTorch, float32: nn.Sequential of nn.Linear(bias=False) and
                       nn.Sigmoid, F.cross_entropy, torch.optim.SGD; torch.set_num_threads(1 / 2)

Each numpy / torch variant is one long-lived worker process (its own thread environment set before
numpy or torch is imported; data loaded once, untimed) that runs one repetition per request and
answers with the time.perf_counter() seconds of the workload alone. The first request for a
workload is preceded by a short untimed warm-up. The parent runs the variants round-robin,
for every workload: for rep in range(R): for variant in variants (order rotated by one every rep),
so that the load of the (shared, 2-core) machine spreads over all variants alike.

Usage:
  .venv/bin/python scripts/compare.py [--reps 5] [--workloads w1,w3] [--variants ours-f32,numpy-f32]
                                      [--quick] [--out results/bench/compare.md]
"""

import argparse
import datetime
import gzip
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Imported here in every process: a worker's thread environment (OPENBLAS_NUM_THREADS ...) is set
# by the parent before the worker starts, so before numpy loads its OpenBLAS.
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data" / "mnist"
BIN = ROOT / "target" / "release" / "mlp"
WORKLOADS = ["w1", "w2", "w3", "w4"]
VARIANTS = ["ours-f32", "ours-f64", "ours-f32-dense", "numpy-f64", "numpy-f32", "torch-1t",
            "torch-2t"]
BASELINE = "ours-f32"
ours_bin = BIN  # main() replaces it with a private copy
LR = 0.1
BATCH = 32
CHECKS_PER_EPOCH = 5
# (workload, variant to beat, minimum speed-up of ours-f32) -- the project's targets
TARGETS = [
    ("w1", "numpy-f32", 6.0),
    ("w1", "torch-1t", 15.0),
    ("w2", "numpy-f32", 5.0),
    ("w3", "torch-2t", 4.0),
]
# Set on some machines for old OpenBLAS builds; they slow a current numpy, so the numpy workers
# run without them (unless --keep-coretype) and report the core they really use.
CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def hidden_sizes(workload):
    return [64] * 10 if workload == "w2" else [64]


# ----------------------------------------------------------------------------------------------
# Data (shared by the numpy and torch workers)


def read_idx(name, header):
    with gzip.open(DATA_DIR / name, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load_mnist(dtype):
    """(x_train, y_train, x_test, y_test): x normalised, ones column last, in `dtype`."""
    x_train = read_idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float64)
    y_train = read_idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    x_test = read_idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float64)
    y_test = read_idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    mean, std = x_train.mean(), x_train.std()

    def prepare(x):
        x = (x - mean) / std
        return np.hstack([x, np.ones((x.shape[0], 1))]).astype(dtype)

    return prepare(x_train), y_train, prepare(x_test), y_test


# ----------------------------------------------------------------------------------------------
# numpy: our own idiomatic version of the study's procedure


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class NumpyMLP:
    def __init__(self, sizes, dtype, rng):
        self.ws = [rng.uniform(-1, 1, size=(n_in, n_out)).astype(dtype)
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def forward(self, x):
        """All activations: the input, every hidden layer's sigmoid, the softmax output."""
        acts = [x]
        for w in self.ws[:-1]:
            acts.append(sigmoid(acts[-1] @ w))
        acts.append(softmax(acts[-1] @ self.ws[-1]))
        return acts

    def train_step(self, x, y_onehot, labels, lr):
        """One SGD step on a batch; returns the batch's cross entropy before the update."""
        n = x.shape[0]
        acts = self.forward(x)
        p = acts[-1]
        loss = -np.mean(np.log(p[np.arange(n), labels]))
        delta = p - y_onehot
        for i in reversed(range(len(self.ws))):
            grad = acts[i].T @ delta / n
            if i > 0:
                a = acts[i]
                delta = (delta @ self.ws[i].T) * a * (1 - a)
            self.ws[i] -= lr * grad
        return loss

    def evaluate(self, x, labels):
        """(mean cross entropy, accuracy) over a whole set, in one forward pass."""
        p = self.forward(x)[-1]
        loss = -np.mean(np.log(p[np.arange(len(labels)), labels]))
        return loss, np.mean(p.argmax(axis=1) == labels)


class NumpyRunner:
    def __init__(self, dtype_name):
        self.dtype = np.float32 if dtype_name == "f32" else np.float64
        self.x_train, self.y_train, self.x_test, self.y_test = load_mnist(self.dtype)
        self.onehot_train = np.eye(10, dtype=self.dtype)[self.y_train]

    def run(self, workload, seed, steps=None, eval_rows=None):
        """Runs the workload once; returns (seconds, a small checksum dict)."""
        rng = np.random.default_rng(seed)
        sizes = [self.x_train.shape[1], *hidden_sizes(workload), 10]
        model = NumpyMLP(sizes, self.dtype, rng)
        x_train, y_train, x_test, y_test = self.x_train, self.y_train, self.x_test, self.y_test
        if eval_rows is not None:  # warm-up on a slice
            x_train, y_train = x_train[:eval_rows], y_train[:eval_rows]
            x_test, y_test = x_test[:eval_rows], y_test[:eval_rows]
        if workload == "w3":
            start = time.perf_counter()
            train_loss, train_acc = model.evaluate(x_train, y_train)
            test_loss, test_acc = model.evaluate(x_test, y_test)
            seconds = time.perf_counter() - start
            return seconds, {"loss": float(train_loss), "test_acc": float(test_acc)}
        n = self.x_train.shape[0]
        steps_per_epoch = n // BATCH
        steps_per_check = steps_per_epoch // CHECKS_PER_EPOCH
        validate = workload == "w4"
        start = time.perf_counter()
        order = rng.permutation(n)
        for step in range(steps if steps is not None else steps_per_epoch):
            batch = order[step * BATCH:(step + 1) * BATCH]
            loss = model.train_step(self.x_train[batch], self.onehot_train[batch],
                                    self.y_train[batch], LR)
            if validate and step % steps_per_check == 0:
                model.evaluate(x_test, y_test)
                model.evaluate(x_train, y_train)
        seconds = time.perf_counter() - start
        return seconds, {"last_batch_loss": float(loss)}


# ----------------------------------------------------------------------------------------------
# PyTorch: idiomatic float32 torch


class TorchRunner:
    def __init__(self, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        x_train, y_train, x_test, y_test = load_mnist(np.float32)
        self.x_train, self.y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
        self.x_test, self.y_test = torch.from_numpy(x_test), torch.from_numpy(y_test)

    def model(self, workload):
        nn = self.torch.nn
        sizes = [self.x_train.shape[1], *hidden_sizes(workload), 10]
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            linear = nn.Linear(n_in, n_out, bias=False)
            nn.init.uniform_(linear.weight, -1.0, 1.0)
            layers += [linear, nn.Sigmoid()]
        return nn.Sequential(*layers[:-1])  # logits out; F.cross_entropy applies the softmax

    def evaluate(self, model, x, y):
        F = self.torch.nn.functional
        with self.torch.inference_mode():
            logits = model(x)
            loss = F.cross_entropy(logits, y).item()
            acc = (logits.argmax(dim=1) == y).float().mean().item()
        return loss, acc

    def run(self, workload, seed, steps=None, eval_rows=None):
        torch, F = self.torch, self.torch.nn.functional
        torch.manual_seed(seed)
        model = self.model(workload)
        x_train, y_train, x_test, y_test = self.x_train, self.y_train, self.x_test, self.y_test
        if eval_rows is not None:
            x_train, y_train = x_train[:eval_rows], y_train[:eval_rows]
            x_test, y_test = x_test[:eval_rows], y_test[:eval_rows]
        if workload == "w3":
            start = time.perf_counter()
            train_loss, _ = self.evaluate(model, x_train, y_train)
            _, test_acc = self.evaluate(model, x_test, y_test)
            seconds = time.perf_counter() - start
            return seconds, {"loss": train_loss, "test_acc": test_acc}
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        n = self.x_train.shape[0]
        steps_per_epoch = n // BATCH
        steps_per_check = steps_per_epoch // CHECKS_PER_EPOCH
        validate = workload == "w4"
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n)
        for step in range(steps if steps is not None else steps_per_epoch):
            batch = order[step * BATCH:(step + 1) * BATCH]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(self.x_train[batch]), self.y_train[batch])
            loss.backward()
            optimizer.step()
            batch_loss = loss.item()
            if validate and step % steps_per_check == 0:
                self.evaluate(model, x_test, y_test)
                self.evaluate(model, x_train, y_train)
        seconds = time.perf_counter() - start
        return seconds, {"last_batch_loss": batch_loss}


# ----------------------------------------------------------------------------------------------
# Worker process: one variant, requests on stdin, JSON answers on stdout


def worker_main(variant):
    proto = sys.stdout
    sys.stdout = sys.stderr  # nothing but the protocol on the real stdout
    np.seterr(over="ignore", divide="ignore", invalid="ignore")
    info = {"variant": variant, "numpy": np.__version__, "pid": os.getpid()}
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(1, user_api="blas")  # numpy's OpenBLAS: one thread in every variant
    except ImportError:
        threadpool_info = None
    if variant.startswith("numpy"):
        runner = NumpyRunner(variant.split("-")[1])
    else:
        threads = int(variant.split("-")[1].rstrip("t"))
        runner = TorchRunner(threads)
        torch = runner.torch
        info.update({
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_blas": torch_blas(torch),
        })
    if threadpool_info is not None:
        info["threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "prefix", "version", "architecture",
                                   "num_threads", "filepath")}
            for p in threadpool_info()
        ]
    info["env"] = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                   "MKL_NUM_THREADS", *CORETYPE_VARS)}
    print(json.dumps({"ready": True, "info": info}), file=proto, flush=True)
    warmed = set()
    for line in sys.stdin:
        req = json.loads(line)
        workload = req["workload"]
        if workload not in warmed:  # short untimed warm-up: 100 steps / 2000-image evaluations
            runner.run(workload, seed=12345, steps=100, eval_rows=2000)
            warmed.add(workload)
        seconds, check = runner.run(workload, seed=req["seed"])
        print(json.dumps({"seconds": seconds, "check": check}), file=proto, flush=True)


def torch_blas(torch):
    """BLAS_INFO / LAPACK_INFO / USE_MKLDNN from torch's build configuration."""
    keep = ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP")
    out = []
    for part in torch.__config__.show().replace("\n", ",").split(","):
        part = part.strip()
        if any(part.startswith(k + "=") for k in keep):
            out.append(part)
    return ", ".join(out)


class Worker:
    def __init__(self, variant, python, keep_coretype):
        env = dict(os.environ)
        threads = 1
        if variant.startswith("torch"):
            threads = int(variant.split("-")[1].rstrip("t"))
        env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": str(threads),
                    "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"})
        if not keep_coretype:
            for k in CORETYPE_VARS:
                env.pop(k, None)
        self.variant = variant
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", variant],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._read()["info"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.variant} died (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, workload, seed):
        self.proc.stdin.write(json.dumps({"workload": workload, "seed": seed}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def binary_has_first_layer_flag():
    out = subprocess.run([str(ours_bin), "throughput", "--help"], capture_output=True, text=True).stdout
    return "--kernels" in out


def run_ours(variant, workload, tries=3):
    """ours-f32, ours-f64: the binary's defaults; ours-f32-dense: the reference kernels (dense GEMM
    first layer, libm e^x), `--kernels reference`."""
    parts = variant.split("-")
    cmd = [str(ours_bin), "throughput", "--workload", workload, "--precision", parts[1],
           "--reps", "1", "--quiet"]
    if "--threads" in subprocess.run([str(ours_bin), "throughput", "--help"], capture_output=True,
                                     text=True).stdout:
        cmd += ["--threads", "1"]  # one thread, as the numpy variants (and older binaries)
    if len(parts) > 2:
        cmd += ["--kernels", "reference"]
    for attempt in range(tries):
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode == 0:
            break
        print(f"compare: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}",
              file=sys.stderr)
        if attempt + 1 == tries:
            raise RuntimeError(f"{' '.join(cmd)} failed {tries} times")
        time.sleep(15)
    out = proc.stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    res = json.loads(line)
    info = {k: v for k, v in res.items() if k not in ("seconds", "median_s", "min_s", "max_s")}
    return {"seconds": res["seconds"][0], "check": info}


# ----------------------------------------------------------------------------------------------
# Parent: machine facts, round-robin runs, report


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return " ".join(f for f in ("avx2", "fma", "avx512f", "avx512vl", "avx512_vnni")
                                if f in flags)
    except OSError:
        pass
    return ""


def git_head():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + (" (work tree has uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def fmt_s(x):
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def summarise(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions per variant (default 5)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="subset, e.g. w1,w3")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"subset of {','.join(VARIANTS)}")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 repetition (unless --reps)")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "compare.md"))
    ap.add_argument("--json", default=None, help="raw results (default: --out with .json)")
    ap.add_argument("--keep-coretype", action="store_true",
                    help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE in the numpy/torch workers")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_main(args.worker)

    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    workloads = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [w for w in workloads if w not in WORKLOADS] + [v for v in variants if v not in VARIANTS]
    if bad or reps < 1:
        ap.error(f"unknown workload/variant {bad} or reps < 1")
    if BASELINE not in variants:
        variants.insert(0, BASELINE)
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run `cargo build --release` first")
    # Run a private copy, so that a `cargo build` during the run cannot mix two builds.
    global ours_bin
    snapshot_dir = tempfile.mkdtemp(prefix="mlp-compare-")
    ours_bin = Path(snapshot_dir) / "mlp"
    shutil.copy2(BIN, ours_bin)
    bin_sha = hashlib.sha256(ours_bin.read_bytes()).hexdigest()
    notes = []
    if "ours-f32-dense" in variants and not binary_has_first_layer_flag():
        variants.remove("ours-f32-dense")
        notes.append("ours-f32-dense skipped: this build of `mlp throughput` has no --kernels.")
    bin_mtime = ours_bin.stat().st_mtime
    python = Path(sys.executable)
    try:
        python = python.relative_to(ROOT) if python.is_relative_to(ROOT) else Path("python3")
    except ValueError:
        python = Path("python3")
    command = f"{python} scripts/compare.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()

    workers = {}
    for v in variants:
        if v.startswith("ours"):
            continue
        try:
            workers[v] = Worker(v, sys.executable, args.keep_coretype)
        except Exception as e:  # noqa: BLE001 -- e.g. torch not installed: skip, say so
            notes.append(f"{v} skipped: its worker failed to start ({e}); see stderr above.")
            print(f"compare: {notes[-1]}", file=sys.stderr)
    variants = [v for v in variants if v.startswith("ours") or v in workers]

    results = {w: {v: [] for v in variants} for w in workloads}
    checks = {w: {v: [] for v in variants} for w in workloads}
    ours_info = {}
    t0 = time.perf_counter()
    for w in workloads:
        for rep in range(reps):
            k = rep % len(variants)
            for v in variants[k:] + variants[:k]:  # round-robin, start rotated every rep
                if v.startswith("ours"):
                    r = run_ours(v, w)
                    ours_info[v] = r["check"]
                else:
                    r = workers[v].run(w, seed=rep)
                results[w][v].append(r["seconds"])
                checks[w][v].append(r["check"])
                print(f"[{time.perf_counter() - t0:7.1f}s] {w} rep {rep + 1}/{reps} {v:10s} "
                      f"{r['seconds']:.3f} s", file=sys.stderr, flush=True)
    for wk in workers.values():
        wk.close()
    finished = datetime.datetime.now(datetime.timezone.utc)
    load_end = os.getloadavg()
    for w in workloads:
        for v in variants:
            t = results[w][v]
            if max(t) > 3 * min(t):
                notes.append(f"{w} {v}: max {max(t):.3f} s is over 3x its min {min(t):.3f} s "
                             "(disturbed by other load on the machine; the median is the figure).")
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    if BIN.stat().st_mtime != bin_mtime:
        notes.append("target/release/mlp was rebuilt during this run; every timing here is of the "
                     "copy taken at the start (the build time and sha256 above).")

    summary = {w: {v: summarise(results[w][v]) for v in variants} for w in workloads}
    for w in workloads:
        base = summary[w][BASELINE]["median"]
        for v in variants:
            s = summary[w][v]
            s["speedup_of_ours_f32"] = s["median"] / base
            paired = [a / b for a, b in zip(results[w][v], results[w][BASELINE])]
            s["paired_speedup_median"] = statistics.median(paired)
    targets = []
    for w, v, need in TARGETS:
        if w in summary and v in summary[w]:
            got = summary[w][v]["speedup_of_ours_f32"]
            targets.append({"workload": w, "vs": v, "target": need, "speedup": got, "met": got >= need})
        else:
            targets.append({"workload": w, "vs": v, "target": need, "speedup": None, "met": None})

    machine = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        "parent_env": {k: os.environ.get(k) for k in CORETYPE_VARS},
    }
    raw = {
        "command": command, "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": finished.isoformat(timespec="seconds"), "reps": reps,
        "workloads": workloads, "variants": variants, "machine": machine,
        "git_head": git_head(),
        "binary": {"path": str(BIN.relative_to(ROOT)),
                   "mtime_utc": datetime.datetime.fromtimestamp(bin_mtime, datetime.timezone.utc)
                   .isoformat(timespec="seconds"), "sha256": bin_sha, **ours_info},
        "workers": {v: wk.info for v, wk in workers.items()},
        "seconds": results, "checks": checks, "summary": summary, "targets": targets,
        "notes": notes,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out.with_suffix(".json")
    json_path.write_text(json.dumps(raw, indent=1) + "\n")
    out.write_text(render(raw))
    print(f"compare: wrote {out} and {json_path}", file=sys.stderr)


VARIANT_TEXT = {
    "ours-f32": "ours f32 (`mlp`)",
    "ours-f64": "ours f64 (`mlp`)",
    "ours-f32-dense": "ours f32, reference kernels: dense first layer, libm e^x (`--kernels reference`)",
    "numpy-f64": "numpy float64, 1 thread",
    "numpy-f32": "numpy float32, 1 thread",
    "torch-1t": "PyTorch float32, 1 thread",
    "torch-2t": "PyTorch float32, 2 threads",
}
WORKLOAD_TEXT = {
    "w1": "W1: one training epoch, [785, 64, 10], 60000 images, batch 32 (1875 steps)",
    "w2": "W2: one training epoch, ten hidden layers of 64, batch 32 (1875 steps)",
    "w3": "W3: evaluation (forward + cross entropy + accuracy) over 70000 images, [785, 64, 10]",
    "w4": "W4: W1 plus five validation passes (10000 test images loss+acc, 60000 train acc)",
}


def render(r):
    m = r["machine"]
    lines = [
        "# `mlp` vs numpy vs PyTorch: throughput workloads W1-W4",
        "",
        f"Generated by `{r['command']}` (run from the repository root)",
        f"on {r['started_utc']} - {r['finished_utc']} (UTC); git {r['git_head']};",
        f"binary `{r['binary']['path']}` built {r['binary']['mtime_utc']} (sha256"
        f" {r['binary']['sha256'][:16]}..., run from a copy taken at the start).",
        "",
        "Each cell is over the same run: the variants ran interleaved (round-robin, one repetition of",
        f"each variant per round, {r['reps']} round(s) per workload), so the machine's load falls on all",
        "of them alike. Times are of the workload alone (data loading excluded; numpy/torch:",
        "`time.perf_counter()` around the workload, after one short untimed warm-up per worker;",
        "ours: `mlp throughput --reps 1`, which does one untimed warm-up run of its own).",
        "**Speed-up** = median of that variant / median of ours f32 (higher = ours faster);",
        "*paired* = median over rounds of the per-round ratio (a check on the noise).",
        "numpy and PyTorch compute the first layer as the study did, a dense product of the",
        "normalised images with the weights; ours by default uses only the non-zero raw pixels plus",
        "a rank-one correction (`--kernels fast`, same result up to rounding)"
        + ("; the *dense first layer* row is ours doing the dense product too." if
           "ours-f32-dense" in r["variants"] else "."),
        "",
    ]
    for w in r["workloads"]:
        lines += [f"## {WORKLOAD_TEXT[w]}", "",
                  "| variant | median s | min-max s | ours f32 speed-up | paired |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for v in r["variants"]:
            s = r["summary"][w][v]
            lines.append(f"| {VARIANT_TEXT[v]} | {fmt_s(s['median'])} | {fmt_s(s['min'])}-"
                         f"{fmt_s(s['max'])} | {s['speedup_of_ours_f32']:.2f}x | "
                         f"{s['paired_speedup_median']:.2f}x |")
        lines.append("")
    lines += ["## Targets", "", "| target | this run | verdict |", "| --- | ---: | --- |"]
    for t in r["targets"]:
        name = f"{t['workload'].upper()}: ours f32 >= {t['target']:g}x faster than {VARIANT_TEXT[t['vs']]}"
        if t["speedup"] is None:
            lines.append(f"| {name} | - | not measured in this run |")
        else:
            lines.append(f"| {name} | {t['speedup']:.2f}x | {'**met**' if t['met'] else '**not met**'} |")
    lines += ["", "## Machine and libraries", "",
              f"- CPU: {m['cpu_model']}, nproc {m['nproc']} (flags: {m['cpu_flags'] or 'n/a'});"
              f" Linux {m['kernel']}; Python {m['python']}.",
              f"- Load average (1/5/15 min) at start {' / '.join(f'{x:.2f}' for x in m['loadavg_start'])},"
              f" at end {' / '.join(f'{x:.2f}' for x in m['loadavg_end'])} (other work shares the machine).",
              f"- Parent environment: " + ", ".join(f"{k}={v if v is not None else '(unset)'}"
                                                   for k, v in m["parent_env"].items())
              + "; the numpy/torch workers run with both unset (unless `--keep-coretype`).",
              ]
    for v in r["variants"]:
        if v.startswith("ours") and v in r["binary"]:
            fields = ", ".join(f"{k} {val}" for k, val in r["binary"][v].items() if k != "workload")
            lines.append(f"- {VARIANT_TEXT[v]}: {fields} (from `mlp throughput`'s JSON).")
    for v, info in r["workers"].items():
        pools = "; ".join(" ".join(str(x) for x in (p["internal_api"], p["version"]) if x)
                          + (f" core {p['architecture']}" if p.get("architecture") else "")
                          + f" ({p['num_threads']} thread(s), {Path(p['filepath']).name})"
                          for p in info.get("threadpools", []))
        text = f"- {VARIANT_TEXT[v]}: numpy {info['numpy']}"
        if "torch" in info:
            text += (f", torch {info['torch']} ({info['torch_threads']} intra-op thread(s), CPU"
                     f" capability {info['torch_cpu_capability']}; {info['torch_blas']})")
        text += f"; thread pools: {pools or 'n/a'}."
        lines.append(text)
    if r["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
    lines += ["", "Raw timings of every repetition: `" + "compare.json` beside this file.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
