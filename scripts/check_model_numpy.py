#!/usr/bin/env python3
"""numpy reads a run's model.safetensors and computes its validation accuracy, as the README shows;
the result must equal the run's final_val_acc in summary.json. Both bias forms: `input` (a ones
column appended to the pixels, its weight row last in layers.0.weight) and `all` (layers.{i}.bias).

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
        layers = sum(k.endswith(".weight") for k in f.keys())
        weights = [f.get_tensor(f"layers.{i}.weight") for i in range(layers)]
        biases = [f.get_tensor(f"layers.{i}.bias") if f"layers.{i}.bias" in f.keys() else 0.0 for i in range(layers)]
    config = json.loads(meta["config"])
    if config.get("val_from_train", 0):
        images, labels, n = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", config["val_from_train"]
    else:
        images, labels, n = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", config["val_size"]
    ones_column = config.get("bias", "input") == "input"
    x = idx(args.data_dir / images, 16).reshape(-1, weights[0].shape[0] - ones_column)[-n:]
    y = idx(args.data_dir / labels, 8)[-n:]
    a = (x - float(meta["mean"])) / float(meta["std"])
    if ones_column:
        a = np.hstack([a, np.ones((n, 1))])
    for w, b in zip(weights[:-1], biases[:-1]):
        a = ACTIVATIONS[meta["activation"]](a @ w + b)
    accuracy = float(np.mean((a @ weights[-1] + biases[-1]).argmax(axis=1) == y))
    want = json.loads((args.run / "summary.json").read_text())["final_val_acc"]
    print(f"numpy-check: numpy's accuracy {accuracy} vs the run's final_val_acc {want}")
    return 0 if accuracy == want else 1


if __name__ == "__main__":
    sys.exit(main())
