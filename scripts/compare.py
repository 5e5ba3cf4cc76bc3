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
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Imported here in every process: a worker's thread environment (OPENBLAS_NUM_THREADS ...) is set
# by the parent before the worker starts, so before numpy loads its OpenBLAS.
import numpy as np

from bench_common import (BIN, CORETYPE_VARS, ROOT, BinarySnapshot, NumpyMLP, Worker, command_line,
                          cpu_flags, cpu_model, git_head, limit_blas_threads, load_mnist, serve,
                          summarise, torch_model, worker_info)

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


def hidden_sizes(workload):
    return [64] * 10 if workload == "w2" else [64]


# ----------------------------------------------------------------------------------------------
# numpy: our own idiomatic version of the study's procedure (bench_common.NumpyMLP)


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
        return torch_model(self.torch, [self.x_train.shape[1], *hidden_sizes(workload), 10])

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
    np.seterr(over="ignore", divide="ignore", invalid="ignore")
    limit_blas_threads(1)  # numpy's OpenBLAS: one thread in every variant
    if variant.startswith("numpy"):
        runner = NumpyRunner(variant.split("-")[1])
        info = worker_info(variant)
    else:
        runner = TorchRunner(int(variant.split("-")[1].rstrip("t")))
        info = worker_info(variant, runner.torch)
    warmed = set()

    def handle(req):
        workload = req["workload"]
        if workload not in warmed:  # short untimed warm-up: 100 steps / 2000-image evaluations
            runner.run(workload, seed=12345, steps=100, eval_rows=2000)
            warmed.add(workload)
        seconds, check = runner.run(workload, seed=req["seed"])
        return {"seconds": seconds, "check": check}

    serve(info, handle)


def start_worker(variant, keep_coretype):
    threads = int(variant.split("-")[1].rstrip("t")) if variant.startswith("torch") else 1
    return Worker(__file__, variant, threads=threads, keep_coretype=keep_coretype)


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


def fmt_s(x):
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


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
    # Run a private copy, so that a `cargo build` during the run cannot mix two builds.
    global ours_bin
    snapshot = BinarySnapshot("mlp-compare-")
    ours_bin = snapshot.path
    notes = []
    if "ours-f32-dense" in variants and not binary_has_first_layer_flag():
        variants.remove("ours-f32-dense")
        notes.append("ours-f32-dense skipped: this build of `mlp throughput` has no --kernels.")
    command = command_line(__file__)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()

    workers = {}
    for v in variants:
        if v.startswith("ours"):
            continue
        try:
            workers[v] = start_worker(v, args.keep_coretype)
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
                    r = workers[v].request({"workload": w, "seed": rep})
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
    snapshot.remove()
    if snapshot.rebuilt():
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
                   "mtime_utc": snapshot.mtime_utc(), "sha256": snapshot.sha256, **ours_info},
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
