#!/usr/bin/env python3
"""Write tests/fixtures/numpy_rng.json: golden values from numpy's LEGACY global RNG.

The Rust module src/numpy_rng.rs replicates the stream of `np.random.seed(s)` followed by
`np.random.uniform`, `np.random.normal` and `np.random.shuffle` (the only calls the 2021
reference makes). tests/numpy_rng.rs checks it bit-for-bit against this file, with no Python.

Usage (numpy from PyPI, any version: the legacy RandomState stream is frozen):
    python3 -m venv .venv && .venv/bin/pip install numpy
    .venv/bin/python scripts/numpy_rng_fixture.py

Floats are written as `repr` strings (shortest round-trip form, so `str::parse::<f64>` gives
back the exact bits). Whole weight matrices are checked through the MD5 of their raw
little-endian float64 bytes in row-major order, plus a sequential row-major float64 sum.
Every case starts from its own fresh `np.random.seed(1)`.
"""

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

SEED = 1
N_TRAIN = 20000
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "numpy_rng.json"


def floats(values):
    return [repr(float(v)) for v in values]


def seq_sum(a):
    # An explicit loop: Python >= 3.12's builtin sum() of floats is compensated, np.sum is
    # pairwise; this is plain left-to-right addition, which Rust's fold reproduces.
    s = 0.0
    for v in np.asarray(a, dtype=np.float64).ravel().tolist():
        s += v
    return s


def layer(w):
    flat = np.ascontiguousarray(w, dtype="<f8").ravel()
    return {
        "shape": list(w.shape),
        "first50": floats(flat[:50]),
        "last50": floats(flat[-50:]),
        "sum": repr(seq_sum(flat)),
        "md5_f64le": hashlib.md5(flat.tobytes()).hexdigest(),
    }


def main():
    fixture = {
        "about": "golden values of numpy's legacy global RNG (np.random.seed + uniform/normal/"
        "shuffle); written by scripts/numpy_rng_fixture.py, checked by tests/numpy_rng.rs",
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "seed": SEED,
    }

    # The raw 32-bit MT19937 outputs after seed(1) (init_genrand(1)), to pin the seeding.
    np.random.seed(SEED)
    fixture["raw_u32"] = np.random.mtrand._rand._bit_generator.random_raw(16).tolist()

    # (a) uniform(-1, 1, 1000).
    np.random.seed(SEED)
    fixture["uniform"] = {
        "call": "uniform(-1, 1, 1000)",
        "lo": -1.0,
        "hi": 1.0,
        "values": floats(np.random.uniform(-1, 1, 1000)),
    }

    # (b) normal with an odd count: the polar method's cached second value is drawn last.
    np.random.seed(SEED)
    std = 1 / np.sqrt(785)
    fixture["normal_odd"] = {
        "call": "normal(0, 1/np.sqrt(785), 1001)",
        "std": repr(float(std)),
        "values": floats(np.random.normal(0, std, 1001)),
    }

    # (c) the reference's draw order: uniform init of both layers, then one shuffle of a
    # python list of indices per epoch (two epochs here).
    np.random.seed(SEED)
    w1 = np.random.uniform(-1, 1, (785, 64))
    w2 = np.random.uniform(-1, 1, (64, 10))
    indices = list(range(N_TRAIN))
    np.random.shuffle(indices)
    perm1 = list(indices)
    np.random.shuffle(indices)
    perm2 = list(indices)
    fixture["uniform_init_two_shuffles"] = {
        "calls": [
            "uniform(-1, 1, (785, 64))",
            "uniform(-1, 1, (64, 10))",
            "shuffle(indices)  # indices = list(range(20000))",
            "shuffle(indices)  # the same list again",
        ],
        "layers": [layer(w1), layer(w2)],
        "n": N_TRAIN,
        "perm_after_first_shuffle": perm1,
        "perm_after_second_shuffle": perm2,
    }

    # (d) the improved (normal, fan-in) init, then one shuffle.
    np.random.seed(SEED)
    std1 = 1 / np.sqrt(785)
    std2 = 1 / np.sqrt(64)
    v1 = np.random.normal(0, std1, (785, 64))
    v2 = np.random.normal(0, std2, (64, 10))
    indices = list(range(N_TRAIN))
    np.random.shuffle(indices)
    fixture["normal_init_shuffle"] = {
        "calls": [
            "normal(0, 1/np.sqrt(785), (785, 64))",
            "normal(0, 1/np.sqrt(64), (64, 10))",
            "shuffle(indices)  # indices = list(range(20000))",
        ],
        "stds": [repr(float(std1)), repr(float(std2))],
        "layers": [layer(v1), layer(v2)],
        "n": N_TRAIN,
        "perm_after_shuffle": list(indices),
    }

    # Sanity checks on numpy itself, not written to the file: the claims the Rust module
    # relies on.
    # 1. Reseeding drops the cached gauss value.
    np.random.seed(SEED)
    np.random.normal(0, 1, 1)
    np.random.seed(SEED)
    again = np.random.normal(0, 1, 3)
    fresh = np.random.RandomState(SEED).normal(0, 1, 3)
    assert np.array_equal(again, fresh), "reseed kept the gauss cache"
    # 2. Shuffling a python list and a 1-d int64 array draw the same permutation.
    np.random.seed(SEED)
    arr = np.arange(N_TRAIN)
    np.random.shuffle(arr)
    np.random.seed(SEED)
    lst = list(range(N_TRAIN))
    np.random.shuffle(lst)
    assert arr.tolist() == lst, "list and ndarray shuffles differ"
    # 3. The cache survives across calls: normal(1) then normal(1) equals normal(2).
    np.random.seed(SEED)
    split = [np.random.normal(0, 1, 1)[0], np.random.normal(0, 1, 1)[0]]
    np.random.seed(SEED)
    assert split == np.random.normal(0, 1, 2).tolist(), "gauss cache not kept across calls"
    # 4. random_double is ((a >> 5) * 2**26 + (b >> 6)) / 2**53 of two raw 32-bit outputs.
    np.random.seed(SEED)
    a, b = (int(x) for x in np.random.mtrand._rand._bit_generator.random_raw(2))
    np.random.seed(SEED)
    assert np.random.random_sample() == ((a >> 5) * 67108864 + (b >> 6)) / 9007199254740992

    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, separators=(",", ":"))
    OUT.write_text(text + "\n")
    print(f"wrote {OUT} ({len(text)} bytes) with numpy {np.__version__}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
