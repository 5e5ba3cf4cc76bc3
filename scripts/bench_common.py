"""What the benchmark scripts against numpy and PyTorch share (scripts/compare.py,
scripts/bench_scaling.py): the data, the numpy and torch models a user would write, the
long-lived worker processes they run in, a private copy of the binary, and the machine's facts.

A worker is one process per variant (its thread environment set before numpy or torch is
imported); it loads the data once and answers JSON requests on stdin with JSON lines on stdout.
The parent runs the variants round-robin, so that the load of the shared machine falls on all
of them alike.
"""

import datetime
import gzip
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Imported here in every process: a worker's thread environment (OPENBLAS_NUM_THREADS ...) is set
# by the parent before the worker starts, so before numpy loads its OpenBLAS.
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data" / "mnist"
BIN = ROOT / "target" / "release" / "mlp"
# Set on some machines for old OpenBLAS builds; they slow a current numpy, so the numpy workers
# run without them (unless the parent keeps them) and report the core they really use.
CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ----------------------------------------------------------------------------------------------
# Data


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
# The models: numpy as the study wrote it, idiomatic PyTorch


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


def torch_model(torch, sizes):
    """nn.Sequential of Linear(bias=False) + Sigmoid, uniform(-1, 1) weights, logits out
    (F.cross_entropy applies the softmax)."""
    nn = torch.nn
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        linear = nn.Linear(n_in, n_out, bias=False)
        nn.init.uniform_(linear.weight, -1.0, 1.0)
        layers += [linear, nn.Sigmoid()]
    return nn.Sequential(*layers[:-1])


def torch_blas(torch):
    """BLAS_INFO / LAPACK_INFO / USE_MKLDNN from torch's build configuration."""
    keep = ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP")
    out = []
    for part in torch.__config__.show().replace("\n", ",").split(","):
        part = part.strip()
        if any(part.startswith(k + "=") for k in keep):
            out.append(part)
    return ", ".join(out)


# ----------------------------------------------------------------------------------------------
# Worker processes


def worker_info(variant, torch=None):
    """What a worker reports when it is ready: library versions, thread pools, environment."""
    info = {"variant": variant, "numpy": np.__version__, "pid": os.getpid()}
    if torch is not None:
        info.update({
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_blas": torch_blas(torch),
        })
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "prefix", "version", "architecture",
                                   "num_threads", "filepath")}
            for p in threadpool_info()
        ]
    except ImportError:
        pass
    info["env"] = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                   "MKL_NUM_THREADS", *CORETYPE_VARS)}
    return info


def limit_blas_threads(threads):
    """numpy's OpenBLAS to `threads` threads (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads, user_api="blas")
    except ImportError:
        pass


def serve(ready_info, handle):
    """A worker's loop: announces `ready_info`, then answers every request line with
    handle(request) as one JSON line. Nothing but the protocol goes to the real stdout."""
    proto = sys.stdout
    sys.stdout = sys.stderr
    print(json.dumps({"ready": True, "info": ready_info}), file=proto, flush=True)
    for line in sys.stdin:
        print(json.dumps(handle(json.loads(line))), file=proto, flush=True)


class Worker:
    """The parent's handle on one worker: `script --worker variant` with `blas_threads` threads
    for numpy's OpenBLAS and `threads` for torch / OpenMP."""

    def __init__(self, script, variant, threads=1, blas_threads=1, keep_coretype=False):
        env = dict(os.environ)
        env.update({"OPENBLAS_NUM_THREADS": str(blas_threads), "OMP_NUM_THREADS": str(threads),
                    "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"})
        if not keep_coretype:
            for k in CORETYPE_VARS:
                env.pop(k, None)
        self.variant = variant
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(script).resolve()), "--worker", variant],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._read()["info"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.variant} died (exit {self.proc.wait()})")
        return json.loads(line)

    def request(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ----------------------------------------------------------------------------------------------
# The binary under test


class BinarySnapshot:
    """A private copy of target/release/mlp, so that a `cargo build` during a run cannot mix two
    builds; remembers the original's build time to notice a rebuild."""

    def __init__(self, prefix):
        if not BIN.exists():
            sys.exit(f"{BIN} is missing: run `cargo build --release` first")
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.path = Path(self.dir) / "mlp"
        shutil.copy2(BIN, self.path)
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.mtime = BIN.stat().st_mtime

    def mtime_utc(self):
        return (datetime.datetime.fromtimestamp(self.mtime, datetime.timezone.utc)
                .isoformat(timespec="seconds"))

    def rebuilt(self):
        return BIN.stat().st_mtime != self.mtime

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Machine facts and small helpers


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


def command_line(script):
    """How this script was invoked, relative to the repository root."""
    import shlex

    python = Path(sys.executable)
    try:
        python = python.relative_to(ROOT) if python.is_relative_to(ROOT) else Path("python3")
    except ValueError:
        python = Path("python3")
    return f"{python} scripts/{Path(script).name} " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def summarise(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}
