#!/usr/bin/env python3
"""Scaling benchmark: `mlp` against numpy and PyTorch off the study's shape.

Grid: hidden widths {32, 64, 256, 1024}, depth 1 and 2 ([w] and [w, w]), batch {32, 128, 512};
per grid point the variants run interleaved (one block of --reps repetitions each, the order
rotated from point to point):
  mlp-fast-P-Tt    `mlp throughput --workload w1 --hidden .. --batch-size .. --steps ..` in
                   precision P (f32, f64) with T threads, the default plan (`--kernels fast`)
  mlp-ref-P-Tt     the same with `--kernels reference` (the plan must never lose more than 5%)
  mlp-dense-P-Tt   `--kernels fast --first-layer dense` (calibration of the plan, not default)
  mlp-sparse-P-Tt  `--kernels fast --first-layer sparse` (calibration of the plan, not default)
  numpy-f32-Tt     the study's numpy procedure (bench_common.NumpyMLP), float32, T BLAS threads
  torch-Tt         idiomatic PyTorch float32, torch.set_num_threads(T)
The measure is training images/s over the first S steps of one shuffled epoch of the 60000
training images (batches drawn cold from the whole set, as in training; no validation); S is one
epoch at small shapes and fewer steps at large ones (a fixed budget of floating-point work).
`mlp` runs one process per grid point and variant (data loading excluded from its timing; it
does one untimed warm-up run); numpy and torch run in long-lived workers (a short untimed warm-up
per request).

Also measured in the same run: the peak single-thread sgemm / dgemm of numpy's OpenBLAS (the
roofline: the fraction of it that mlp reaches, FLOPs of forward + backward + update per image
with a dense first layer), and the whole-process wall time and peak RSS of W1 as a user runs it
(`mlp train`) and of the study sweep (`mlp sweep experiments/study.toml`; not in --quick).

Writes results/bench/scaling.md, scaling.json and scaling.png.

Usage:
  .venv/bin/python scripts/bench_scaling.py [--quick] [--reps 3] [--variants a,b] [--out FILE]
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import (BIN, CORETYPE_VARS, ROOT, BinarySnapshot, NumpyMLP, Worker, command_line,
                          cpu_flags, cpu_model, git_head, limit_blas_threads, load_mnist, serve,
                          torch_model, worker_info)

WIDTHS = [32, 64, 256, 1024]
DEPTHS = [1, 2]
BATCHES = [32, 128, 512]
QUICK_WIDTHS, QUICK_DEPTHS, QUICK_BATCHES = [64, 1024], [1], [32, 512]
VARIANTS = ["mlp-fast-f32-1t", "mlp-fast-f32-2t", "mlp-fast-f64-1t", "mlp-fast-f64-2t",
            "mlp-ref-f32-1t", "mlp-ref-f32-2t", "mlp-ref-f64-1t", "mlp-ref-f64-2t",
            "numpy-f32-1t", "numpy-f32-2t", "torch-1t", "torch-2t"]
CALIBRATION = ["mlp-dense-f32-1t", "mlp-sparse-f32-1t", "mlp-dense-f64-1t", "mlp-sparse-f64-1t",
               "mlp-dense-f32-2t", "mlp-sparse-f32-2t", "mlp-dense-f64-2t", "mlp-sparse-f64-2t"]
KERNEL_FLAGS = {"fast": ["--kernels", "fast"], "ref": ["--kernels", "reference"],
                "dense": ["--kernels", "fast", "--first-layer", "dense"],
                "sparse": ["--kernels", "fast", "--first-layer", "sparse"]}
TRAIN_IMAGES, INPUTS, CLASSES, LR = 60000, 785, 10, 0.1
# Floating-point work per measurement (dense-equivalent); at least MIN_STEPS steps, at most an epoch.
FLOP_BUDGET = {"full": 1.5e10, "quick": 5e9}
MIN_STEPS = 10
FAST_VS_REF_TOLERANCE = 1.05  # the plan may be at most 5% slower than the reference path
TARGET_VS_NUMPY, TARGET_2T = 1.5, 1.7
mlp_bin = BIN  # main() replaces it with a private copy


def mlp_thread_flags(threads):
    """The one place that tells `mlp` its thread count."""
    return ["--threads", str(threads)]


def parse_variant(v):
    """(implementation, kernels or None, precision, threads)."""
    parts = v.split("-")
    threads = int(parts[-1].rstrip("t"))
    if parts[0] == "mlp":
        return "mlp", parts[1], parts[2], threads
    if parts[0] == "numpy":
        return "numpy", None, parts[1], threads
    return "torch", None, "f32", threads


def sizes_of(width, depth):
    return [INPUTS] + [width] * depth + [CLASSES]


def flops_per_image(sizes, batch):
    """Forward (2 per weight), weight gradient (2), input gradient (2, not for the first layer),
    and the update (2 per weight per step), per image, with a dense first layer."""
    total = 0
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = n_in * n_out
        total += (4 if i == 0 else 6) * w + 2 * w / batch
    return total


def steps_for(sizes, batch, budget):
    steps = int(budget / flops_per_image(sizes, batch) / batch)
    return max(MIN_STEPS, min(TRAIN_IMAGES // batch, steps))


# ----------------------------------------------------------------------------------------------
# Workers: numpy and torch


class NumpyTrainer:
    def __init__(self, threads):
        limit_blas_threads(threads)
        self.x, self.y, _, _ = load_mnist(np.float32)
        self.onehot = np.eye(CLASSES, dtype=np.float32)[self.y]

    def run(self, sizes, batch, steps, seed):
        rng = np.random.default_rng(seed)
        model = NumpyMLP(sizes, np.float32, rng)
        start = time.perf_counter()
        order = rng.permutation(len(self.y))
        for s in range(steps):
            b = order[s * batch:(s + 1) * batch]
            model.train_step(self.x[b], self.onehot[b], self.y[b], LR)
        return time.perf_counter() - start

    def peak_gemm(self, dtype, n=1024, reps=5):
        """Best GF/s of an n x n x n product on this worker's threads."""
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        b = a.T.copy()
        a @ b
        best = min(timed(lambda: a @ b) for _ in range(reps))
        return 2 * n ** 3 / best / 1e9


class TorchTrainer:
    def __init__(self, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        x, y, _, _ = load_mnist(np.float32)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def run(self, sizes, batch, steps, seed):
        torch, F = self.torch, self.torch.nn.functional
        torch.manual_seed(seed)
        model = torch_model(torch, sizes)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        start = time.perf_counter()
        order = torch.randperm(len(self.y))
        for s in range(steps):
            b = order[s * batch:(s + 1) * batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(self.x[b]), self.y[b])
            loss.backward()
            opt.step()
        loss.item()
        return time.perf_counter() - start


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def worker_main(variant):
    np.seterr(over="ignore", divide="ignore", invalid="ignore")
    impl, _, _, threads = parse_variant(variant)
    trainer = NumpyTrainer(threads) if impl == "numpy" else TorchTrainer(threads)
    info = worker_info(variant, getattr(trainer, "torch", None))

    def handle(req):
        if "gemm" in req:
            return {"gflops": trainer.peak_gemm(np.float32 if req["gemm"] == "f32" else np.float64)}
        sizes, batch, steps = req["sizes"], req["batch"], req["steps"]
        trainer.run(sizes, batch, min(steps, 20), seed=12345)  # untimed warm-up
        return {"seconds": [trainer.run(sizes, batch, steps, seed=r) for r in range(req["reps"])]}

    serve(info, handle)


# ----------------------------------------------------------------------------------------------
# mlp


def run_mlp(variant, sizes, batch, steps, reps, tries=3):
    _, kernels, precision, threads = parse_variant(variant)
    cmd = [str(mlp_bin), "throughput", "--workload", "w1", "--precision", precision,
           "--hidden", ",".join(map(str, sizes[1:-1])), "--batch-size", str(batch),
           "--steps", str(steps), "--reps", str(reps), "--quiet",
           *KERNEL_FLAGS[kernels], *mlp_thread_flags(threads)]
    for attempt in range(tries):
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode == 0:
            break
        print(f"bench-scaling: {' '.join(cmd)} failed ({proc.returncode}): "
              f"{proc.stderr.strip()[-500:]}", file=sys.stderr)
        if attempt + 1 == tries:
            raise RuntimeError(f"{' '.join(cmd)} failed {tries} times")
        time.sleep(10)
    res = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    return {"seconds": res["seconds"], "blas_core": res["blas_core"]}


def whole_process(cmd):
    """Wall seconds and peak RSS (MiB) of one process and the children it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {proc.stderr.read().decode()[-500:]}")
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024}


# ----------------------------------------------------------------------------------------------
# Parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a small subset (widths 64 and 1024, depth 1, batches 32 and 512, 1 rep,"
                         " no sweep) in about 2 minutes")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per variant and grid point"
                                                           " (default 3, --quick 1)")
    ap.add_argument("--variants", default=None,
                    help=f"subset of {','.join(VARIANTS)}, or 'calibration' for the plan's"
                         f" dense/sparse first layer ({','.join(CALIBRATION)})")
    ap.add_argument("--widths", default=None, help="e.g. 64,1024")
    ap.add_argument("--depths", default=None, help="e.g. 1,2")
    ap.add_argument("--batches", default=None, help="e.g. 32,512")
    ap.add_argument("--no-processes", action="store_true",
                    help="skip the whole-process W1 and sweep measurements")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "scaling.md"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_main(args.worker)

    mode = "quick" if args.quick else "full"
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    ints = lambda s, d: [int(x) for x in s.split(",")] if s else d  # noqa: E731
    widths = ints(args.widths, QUICK_WIDTHS if args.quick else WIDTHS)
    depths = ints(args.depths, QUICK_DEPTHS if args.quick else DEPTHS)
    batches = ints(args.batches, QUICK_BATCHES if args.quick else BATCHES)
    if args.variants == "calibration":
        variants = list(CALIBRATION)
    else:
        variants = args.variants.split(",") if args.variants else list(VARIANTS)
    bad = [v for v in variants if v not in VARIANTS + CALIBRATION]
    if bad or reps < 1:
        ap.error(f"unknown variant(s) {bad} or reps < 1")

    global mlp_bin
    snapshot = BinarySnapshot("mlp-scaling-")
    mlp_bin = snapshot.path
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    notes = []
    workers = {}
    for v in variants:
        impl, _, _, threads = parse_variant(v)
        if impl == "mlp":
            continue
        try:
            workers[v] = Worker(__file__, v, threads=threads, blas_threads=threads)
        except Exception as e:  # noqa: BLE001 -- e.g. torch not installed: skip, say so
            notes.append(f"{v} skipped: its worker failed to start ({e}).")
            print(f"bench-scaling: {notes[-1]}", file=sys.stderr)
    variants = [v for v in variants if v.startswith("mlp") or v in workers]

    peak = {}
    gemm_worker = workers.get("numpy-f32-1t")
    if gemm_worker is None:
        gemm_worker = Worker(__file__, "numpy-f32-1t")
    for p in ("f32", "f64"):
        peak[p] = gemm_worker.request({"gemm": p})["gflops"]
    if "numpy-f32-1t" not in workers:
        gemm_worker.close()

    points = [(w, d, b) for d in depths for b in batches for w in widths]
    t0 = time.perf_counter()
    results, blas_core = {}, None
    for i, (w, d, b) in enumerate(points):
        sizes = sizes_of(w, d)
        steps = steps_for(sizes, b, FLOP_BUDGET[mode])
        k = i % len(variants)
        for v in variants[k:] + variants[:k]:
            if v.startswith("mlp"):
                r = run_mlp(v, sizes, b, steps, reps)
                blas_core = r["blas_core"]
            else:
                r = workers[v].request({"sizes": sizes, "batch": b, "steps": steps, "reps": reps})
            secs = r["seconds"]
            results[f"{w}x{d}/{b}/{v}"] = {"width": w, "depth": d, "batch": b, "variant": v,
                                           "steps": steps, "seconds": secs,
                                           "images_per_s": steps * b / statistics.median(secs)}
            print(f"[{time.perf_counter() - t0:7.1f}s] [{w}]x{d} batch {b} steps {steps} {v:18s}"
                  f" {steps * b / statistics.median(secs):10.0f} images/s", file=sys.stderr,
                  flush=True)
    grid_s = time.perf_counter() - t0
    for wk in workers.values():
        wk.close()

    processes = {}
    if not args.no_processes:
        with tempfile.TemporaryDirectory(prefix="mlp-scaling-") as tmp:
            processes["W1 (`mlp train --train-size 60000 --epochs 1 --precision f32 --validation"
                      " false`)"] = whole_process(
                [mlp_bin, "train", "--train-size", "60000", "--epochs", "1", "--precision", "f32",
                 "--validation", "false", "--quiet", "--out", Path(tmp) / "w1"])
            if mode == "full":
                processes["study sweep (`mlp sweep experiments/study.toml`, 11 runs)"] = \
                    whole_process([mlp_bin, "sweep", "experiments/study.toml", "--quiet",
                                   "--out", Path(tmp) / "study"])
    snapshot.remove()
    if snapshot.rebuilt():
        notes.append("target/release/mlp was rebuilt during this run; every timing here is of the"
                     " copy taken at the start.")
    raw = {
        "command": command_line(__file__), "mode": mode, "reps": reps,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "grid_seconds": grid_s, "widths": widths, "depths": depths, "batches": batches,
        "variants": variants, "git_head": git_head(),
        "binary": {"sha256": snapshot.sha256, "mtime_utc": snapshot.mtime_utc(),
                   "blas_core": blas_core},
        "machine": {"cpu_model": cpu_model(), "cpu_flags": cpu_flags(), "nproc": os.cpu_count(),
                    "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                    "parent_env": {k: os.environ.get(k) for k in CORETYPE_VARS}},
        "workers": {v: wk.info for v, wk in workers.items()},
        "peak_gemm_gflops_1t": peak, "results": results, "processes": processes, "notes": notes,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    out.write_text(render(raw))
    figure(raw, out.with_suffix(".png"))
    print(f"bench-scaling: wrote {out}, {out.with_suffix('.json').name} and"
          f" {out.with_suffix('.png').name} ({grid_s:.0f} s of grid)", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Report


def rate(raw, w, d, b, v):
    r = raw["results"].get(f"{w}x{d}/{b}/{v}")
    return r["images_per_s"] if r else None


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def num(x):
    return f"{x:,.0f}" if x else "-"


def render(raw):
    m = raw["machine"]
    lines = [
        "# Scaling: `mlp` against numpy and PyTorch off the study's shape",
        "",
        f"Generated by `{raw['command']}` (run from the repository root; `make bench-scaling`)",
        f"on {raw['started_utc']} - {raw['finished_utc']} (UTC), git {raw['git_head']}, binary"
        f" sha256 {raw['binary']['sha256'][:16]}... built {raw['binary']['mtime_utc']}.",
        f"Machine: {m['cpu_model']}, nproc {m['nproc']} ({m['cpu_flags']}); mlp's OpenBLAS core"
        f" {raw['binary']['blas_core']}; load average at start"
        f" {' / '.join(f'{x:.2f}' for x in m['loadavg_start'])}, at end"
        f" {' / '.join(f'{x:.2f}' for x in m['loadavg_end'])}.",
        "",
        "Training images/s over the first steps of one shuffled epoch of the 60000 training images"
        " (cold batches, no validation); median of"
        f" {raw['reps']} per variant and grid point, the variants interleaved in one run.",
        "Depth 1 is [785, w, 10], depth 2 [785, w, w, 10]; sigmoid, softmax + cross entropy, SGD."
        " *1t/2t*: threads (mlp: `--threads`, its rayon pool with one OpenBLAS thread per call; numpy: OpenBLAS threads; torch:"
        " `set_num_threads`). numpy and torch are float32 in both tables.",
        f"*roofline*: images/s x FLOPs per image (forward + backward + update, dense first layer)"
        f" / (threads x the single-thread peak of numpy's OpenBLAS in this run: sgemm"
        f" {raw['peak_gemm_gflops_1t']['f32']:.0f} GF/s, dgemm"
        f" {raw['peak_gemm_gflops_1t']['f64']:.0f} GF/s, 1024^3); over 100% where the sparse"
        " first layer skips the zero pixels' work.",
        "*fast/ref*: the default plan (`--kernels fast`) over `--kernels reference` (>= 0.95"
        " required).",
        "",
    ]
    widths, depths, batches = raw["widths"], raw["depths"], raw["batches"]
    variants = raw["variants"]
    failures = []
    for p in ("f32", "f64"):
        if not any(v.startswith(f"mlp-fast-{p}") for v in variants):
            continue
        baselines = p == "f32"  # numpy and torch (float32) are listed once, in the f32 table
        lines += [f"## {p}: training images/s", "",
                  "| depth | width | batch | steps | mlp 1t | mlp 2t |"
                  + (" numpy 1t | numpy 2t | torch 1t | torch 2t |" if baselines else ""),
                  "|" + "---:|" * (10 if baselines else 6)]
        ratios = [f"## {p}: ratios (mlp {p} over numpy / torch float32)", "",
                  "| depth | width | batch | mlp/numpy 1t | mlp/numpy 2t | mlp/torch 1t |"
                  " mlp/torch 2t | mlp 2t/1t | fast/ref 1t | fast/ref 2t | roofline 1t |"
                  " roofline 2t |",
                  "|" + "---:|" * 12]
        for d in depths:
            for b in batches:
                for w in widths:
                    g = {v: rate(raw, w, d, b, v) for v in variants}
                    f1, f2 = g.get(f"mlp-fast-{p}-1t"), g.get(f"mlp-fast-{p}-2t")
                    n1, n2 = g.get("numpy-f32-1t"), g.get("numpy-f32-2t")
                    t1, t2 = g.get("torch-1t"), g.get("torch-2t")
                    r1, r2 = g.get(f"mlp-ref-{p}-1t"), g.get(f"mlp-ref-{p}-2t")
                    fpi = flops_per_image(sizes_of(w, d), b)
                    pk = raw["peak_gemm_gflops_1t"][p] * 1e9
                    roof1 = f"{f1 * fpi / pk:.0%}" if f1 else "-"
                    roof2 = f"{f2 * fpi / (2 * pk):.0%}" if f2 else "-"
                    steps = raw["results"].get(f"{w}x{d}/{b}/mlp-fast-{p}-1t", {}).get("steps", "")
                    lines.append(f"| {d} | {w} | {b} | {steps} | {num(f1)} | {num(f2)} |"
                                 + (f" {num(n1)} | {num(n2)} | {num(t1)} | {num(t2)} |"
                                    if baselines else ""))
                    ratios.append(f"| {d} | {w} | {b} | {ratio(f1, n1)} | {ratio(f2, n2)} |"
                                  f" {ratio(f1, t1)} | {ratio(f2, t2)} | {ratio(f2, f1)} |"
                                  f" {ratio(f1, r1)} | {ratio(f2, r2)} | {roof1} | {roof2} |")
                    for fast, ref, t in ((f1, r1, 1), (f2, r2, 2)):
                        if fast and ref and fast * FAST_VS_REF_TOLERANCE < ref:
                            failures.append(f"{p} [{w}]x{d} batch {b} {t}t: fast/ref"
                                            f" {fast / ref:.2f}")
        lines += [""] + ratios + [""]
    lines += targets(raw, failures)
    if raw["processes"]:
        lines += ["## Whole processes", "",
                  "Wall time and peak RSS (`wait4`) of the process as a user runs it: start-up,"
                  " data loading, training, writing the run directory.", "",
                  "| process | wall s | peak RSS MiB |", "|---|---:|---:|"]
        for name, p in raw["processes"].items():
            lines.append(f"| {name} | {p['wall_s']:.2f} | {p['peak_rss_mib']:.0f} |")
        lines.append("")
    if any(v.startswith(("mlp-dense", "mlp-sparse")) for v in variants):
        lines += calibration(raw)
    lines += ["## Libraries", ""]
    for v, info in raw["workers"].items():
        pools = "; ".join(f"{p['internal_api']} {p['version']} core {p.get('architecture')}"
                          f" ({p['num_threads']} threads)" for p in info.get("threadpools", []))
        extra = f", torch {info['torch']} ({info['torch_blas']})" if "torch" in info else ""
        lines.append(f"- {v}: numpy {info['numpy']}{extra}; {pools or 'n/a'}.")
    if raw["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in raw["notes"]]
    lines += ["", "Every repetition's seconds: `scaling.json` beside this file; the figure:"
              " `scaling.png`.", ""]
    return "\n".join(lines)


def targets(raw, failures):
    out = ["## Targets (f32)", ""]
    g = lambda w, d, b, v: rate(raw, w, d, b, v)  # noqa: E731
    below = [f"[{w}]x{d}/{b}: {g(w, d, b, 'mlp-fast-f32-1t') / g(w, d, b, 'numpy-f32-1t'):.2f}"
             for d in raw["depths"] for b in raw["batches"] for w in raw["widths"]
             if g(w, d, b, "mlp-fast-f32-1t") and g(w, d, b, "numpy-f32-1t")
             and g(w, d, b, "mlp-fast-f32-1t") < TARGET_VS_NUMPY * g(w, d, b, "numpy-f32-1t")]
    out.append(f"- mlp 1t >= {TARGET_VS_NUMPY}x numpy 1t at every grid point: "
               + ("met" if not below else "missed at " + ", ".join(below)) + ".")
    for d in raw["depths"]:
        one, two = g(1024, d, 512, "mlp-fast-f32-1t"), g(1024, d, 512, "mlp-fast-f32-2t")
        if one and two:
            out.append(f"- mlp 2t >= {TARGET_2T}x 1t at [1024]x{d} / 512: {two / one:.2f}x, "
                       + ("met" if two >= TARGET_2T * one else "missed") + ".")
    out.append("- `--kernels fast` at most 5% slower than `--kernels reference` everywhere: "
               + ("met" if not failures else "missed at " + ", ".join(failures)) + ".")
    return out + [""]


def calibration(raw):
    """The plan's calibration: first layer dense vs sparse (fused SGD), images/s."""
    out = ["## First layer: dense vs sparse (the plan's calibration)", "",
           "| precision | threads | depth | width | batch | dense | sparse | sparse/dense |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in ("f32", "f64"):
        for t in (1, 2):
            for d in raw["depths"]:
                for b in raw["batches"]:
                    for w in raw["widths"]:
                        dn = rate(raw, w, d, b, f"mlp-dense-{p}-{t}t")
                        sp = rate(raw, w, d, b, f"mlp-sparse-{p}-{t}t")
                        if dn and sp:
                            out.append(f"| {p} | {t} | {d} | {w} | {b} | {num(dn)} | {num(sp)} |"
                                       f" {sp / dn:.2f} |")
    return out + [""]


STYLE = {  # variant: (label, colour)
    "mlp-fast-f32": ("mlp f32", "tab:blue"),
    "mlp-fast-f64": ("mlp f64", "tab:purple"),
    "numpy-f32": ("numpy f32", "tab:orange"),
    "torch": ("PyTorch f32", "tab:green"),
}


def figure(raw, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches, widths = raw["batches"], raw["widths"]
    fig, axes = plt.subplots(2, len(batches), figsize=(4.2 * len(batches), 7.5), sharex=True,
                             sharey=True, squeeze=False)
    for row, t in enumerate((1, 2)):
        for col, b in enumerate(batches):
            ax = axes[row][col]
            for key, (label, colour) in STYLE.items():
                v = f"{key}-{t}t"
                for d, ls in ((1, "-"), (2, "--")):
                    ys = [rate(raw, w, d, b, v) for w in widths]
                    if d not in raw["depths"] or not any(ys):
                        continue
                    ax.plot(widths, [y or float("nan") for y in ys], ls, marker="o", ms=3,
                            color=colour, label=f"{label}, depth {d}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(widths, [str(w) for w in widths])
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"batch {b}, {t} thread{'s' if t > 1 else ''}")
            if row == 1:
                ax.set_xlabel("hidden width")
            if col == 0:
                ax.set_ylabel("training images/s")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("Training throughput against hidden width (solid: one hidden layer, dashed: two)")
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
