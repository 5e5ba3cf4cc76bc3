#!/usr/bin/env python3
"""numpy reads a run's model.safetensors and computes its validation accuracy, as the README shows;
the result must equal the run's final_val_acc in summary.json.

    scripts/check_model_numpy.py RUN_DIR [--data-dir data/mnist]
"""
import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open


def idx(path: Path, offset: int) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return np.frombuffer(raw, np.uint8, offset=offset)


ACTIVATIONS = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "improved": lambda z: 1.7159 * np.tanh(2 * z / 3),
    "relu": lambda z: np.maximum(z, 0),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path("data/mnist"))
    args = ap.parse_args()
    with safe_open(str(args.run / "model.safetensors"), framework="np") as f:
        meta = f.metadata()
        weights = [f.get_tensor(f"layers.{i}.weight") for i in range(len(f.keys()))]
    config = json.loads(meta["config"])
    if config.get("val_from_train", 0):
        images, labels, n = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", config["val_from_train"]
    else:
        images, labels, n = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", config["val_size"]
    x = idx(args.data_dir / images, 16).reshape(-1, weights[0].shape[0] - 1)[-n:]
    y = idx(args.data_dir / labels, 8)[-n:]
    a = np.hstack([(x - float(meta["mean"])) / float(meta["std"]), np.ones((n, 1))])
    for w in weights[:-1]:
        z = a @ w
        a = ACTIVATIONS[meta["activation"]](z)
    accuracy = float(np.mean((a @ weights[-1]).argmax(axis=1) == y))
    want = json.loads((args.run / "summary.json").read_text())["final_val_acc"]
    print(f"numpy-check: numpy's accuracy {accuracy} vs the run's final_val_acc {want}")
    return 0 if accuracy == want else 1


if __name__ == "__main__":
    sys.exit(main())
