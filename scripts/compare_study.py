#!/usr/bin/env python3
"""W5: the whole study sweep to early stop, wall time, in the reference setting: `mlp` vs numpy.

What is measured: the wall time of every run of experiments/study.toml (eleven runs in the
reference setting: float64, numpy's random stream seeded with 1, 20000 training / 10000
validation images, statistics of all 60000 training images, batch 32, validation every 125 steps,
early stopping with patience 50), each run trained until it stops, on the same machine (2 cores):

  ours   `mlp sweep experiments/study.toml --out TMP --force --quiet`: one process, its default
         `--jobs` (all cores) runs in parallel, one OpenBLAS thread each. Timed with
         time.perf_counter() around the whole process (start-up, data loading, training,
         writing every run directory). The per-run figure is train_wall_s from its summary.json.
  numpy  every run of the same file through scripts/reference_numpy.py (our idiomatic float64
         numpy re-implementation of the 2021 procedure), `--preset P --stats computed --threads 1
         --quiet --out TMP/P`, one process per run with OPENBLAS_NUM_THREADS=1, run by a pool of 2
         workers (2 at a time; longest expected runs first, the expectation being the last
         `make sweep`'s train_wall_s in results/study/). Timed with time.perf_counter() around the
         whole pool; per run: the process's wall and train_wall_s from its summary.json.

Both sides write their outputs into fresh temporary directories, removed afterwards; the binary
is run from a copy taken at the start (a `cargo build` during the run cannot change it).
With --reps N the two sides alternate (ours, numpy, numpy, ours, ...); the figures are medians.
The target: ours at least 6x faster (numpy wall / ours wall >= 6).

--quick truncates both sides to one epoch per run (numpy `--max-steps 625`, ours a temporary copy
of the sweep file with `epochs = 1` in [base]: the same 625 steps and 5 validation checks), to
smoke-test the script in about a minute. Its output is labelled TRUNCATED and goes to
results/bench/compare-study-quick.md/.json, never over the real figures.

Usage:
  .venv/bin/python scripts/compare_study.py [--reps 1] [--quick] [--out results/bench/compare-study.md]
"""

import argparse
import ast
import concurrent.futures
import datetime
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
import tomllib
from pathlib import Path

from compare import cpu_model, git_head  # scripts/ is on sys.path when this file runs

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "mlp"
STUDY = ROOT / "experiments" / "study.toml"
REFERENCE = ROOT / "scripts" / "reference_numpy.py"
PREVIOUS_SWEEP = ROOT / "results" / "study"
NUMPY_WORKERS = 2
TARGET = 6.0  # ours at least this many times faster than numpy
QUICK_STEPS = 625  # one epoch of 20000 images in batches of 32
# The reference setting; reference_numpy.py implements nothing else.
REFERENCE_BASE = {"precision": "f64", "rng": "numpy", "seed": 1}
# Set on some machines for old OpenBLAS builds; they slow a current numpy, so the numpy runs go
# without them (as in scripts/compare.py). `mlp` chooses its own core.
CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ----------------------------------------------------------------------------------------------
# The study file and what reference_numpy.py supports


def numpy_presets():
    """The preset names of reference_numpy.py (the keys of its PRESETS dict), read without
    running it."""
    tree = ast.parse(REFERENCE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PRESETS" for t in node.targets):
            return {k.value for k in node.value.keys}
    raise RuntimeError(f"{REFERENCE}: no PRESETS dict")


def study_runs(path):
    """[(run id, preset)] of the sweep file, after checking that numpy can run exactly them."""
    study = tomllib.loads(path.read_text())
    base = study.get("base", {})
    wrong = {k: base.get(k) for k, v in REFERENCE_BASE.items() if base.get(k) != v}
    extra = set(base) - set(REFERENCE_BASE) - {"kernels", "first_layer"}  # kernels: same numbers
    if wrong or extra or "axes" in study:
        sys.exit(f"{path}: not the reference setting numpy implements ([base] must be "
                 f"{REFERENCE_BASE}, no [axes]); found {base}")
    supported = numpy_presets()
    runs = []
    for i, run in enumerate(study.get("run", [])):
        if set(run) - {"preset", "name"} or run.get("preset") not in supported:
            sys.exit(f"{path}: [[run]] #{i + 1} {run} is not a plain preset that "
                     f"reference_numpy.py knows ({', '.join(sorted(supported))})")
        runs.append((run.get("name", run["preset"]), run["preset"]))
    return runs


def quick_sweep_file(path, tmp):
    """A copy of the sweep file with `epochs = 1` in [base] (one epoch per run)."""
    if "epochs" in tomllib.loads(path.read_text()).get("base", {}):
        sys.exit(f"{path}: --quick needs a [base] without `epochs`")
    lines = path.read_text().splitlines()
    at = lines.index("[base]") + 1
    lines.insert(at, "epochs = 1  # --quick: truncated to one epoch per run")
    quick = tmp / f"{path.stem}-quick.toml"
    quick.write_text("\n".join(lines) + "\n")
    return quick


def expected_order(runs):
    """The runs longest first, by the train_wall_s of the last `make sweep` (results/study/);
    runs without one keep their file order, last."""
    def previous(run_id):
        try:
            return json.loads((PREVIOUS_SWEEP / run_id / "summary.json").read_text())["train_wall_s"]
        except (OSError, KeyError, ValueError):
            return -1.0

    return sorted(runs, key=lambda r: -previous(r[0]))


# ----------------------------------------------------------------------------------------------
# The two sides


def run_numpy_study(runs, out, quick):
    """Every run through reference_numpy.py, NUMPY_WORKERS at a time. Returns (wall s, {id: row})."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for k in CORETYPE_VARS:
        env.pop(k, None)
    t0 = time.perf_counter()

    def one(run_id, preset):
        cmd = numpy_command(preset, out / run_id, quick)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        end = time.perf_counter()
        if proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        summary = json.loads((out / run_id / "summary.json").read_text())
        print(f"  numpy {run_id:9s} stop epoch {summary['stop_epoch']}, {end - start:7.1f} s",
              file=sys.stderr, flush=True)
        return {"preset": preset, "stop_epoch": summary["stop_epoch"], "steps": summary["steps"],
                "process_s": end - start, "train_wall_s": summary["train_wall_s"],
                "started_s": start - t0, "final_val_loss": summary["final_val_loss"],
                "numpy": summary["numpy"], "blas": summary["blas"]}

    with concurrent.futures.ThreadPoolExecutor(NUMPY_WORKERS) as pool:
        futures = {run_id: pool.submit(one, run_id, preset) for run_id, preset in runs}
        rows = {run_id: f.result() for run_id, f in futures.items()}
    return time.perf_counter() - t0, rows


def numpy_command(preset, out, quick):
    cmd = [sys.executable, str(REFERENCE.relative_to(ROOT)), "--preset", preset, "--stats",
           "computed", "--threads", "1", "--quiet", "--out", str(out)]
    return cmd + (["--max-steps", str(QUICK_STEPS)] if quick else [])


def run_ours(binary, sweep_file, runs, out):
    """`mlp sweep` into a fresh directory. Returns (wall s, {id: row})."""
    cmd = ours_command(binary, sweep_file, out)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rows = {}
    for run_id, _ in runs:
        summary = json.loads((out / run_id / "summary.json").read_text())
        rows[run_id] = {"stop_epoch": summary["stop_epoch"], "steps": summary["steps"],
                        "train_wall_s": summary["train_wall_s"],
                        "final_val_loss": summary["final_val_loss"]}
    print(f"  ours  whole sweep {wall:7.1f} s", file=sys.stderr, flush=True)
    return wall, rows


def ours_command(binary, sweep_file, out):
    return [str(binary), "sweep", str(sweep_file), "--out", str(out), "--force", "--quiet"]


# ----------------------------------------------------------------------------------------------
# Machine facts


def ours_blas(binary):
    """`mlp info` (OpenBLAS core and threads) and the OpenBLAS library the binary loads."""
    info = subprocess.run([str(binary), "info"], capture_output=True, text=True).stdout
    fields = dict(line.split(None, 1) for line in info.splitlines() if " " in line)
    try:
        ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        lib = next(l.split("=>")[1].split()[0] for l in ldd.splitlines() if "openblas" in l)
        fields["library"] = os.path.realpath(lib)
    except (OSError, StopIteration, IndexError):
        fields["library"] = "unknown"
    return fields


# ----------------------------------------------------------------------------------------------
# Main


def median_row(reps_rows, run_id, key):
    return statistics.median(rows[run_id][key] for rows in reps_rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1, help="repetitions of each side, alternating")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: every run truncated to one epoch ({QUICK_STEPS} steps)")
    ap.add_argument("--sweep", type=Path, default=STUDY, help="the sweep file (default the study)")
    ap.add_argument("--out", type=Path, help="report (default results/bench/compare-study.md, "
                                             "or compare-study-quick.md with --quick)")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    out = args.out or ROOT / "results" / "bench" / (
        "compare-study-quick.md" if args.quick else "compare-study.md")
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run `cargo build --release` first")
    sweep_file = args.sweep.resolve()
    study = study_runs(sweep_file)  # file order, for the report
    runs = expected_order(study)  # longest first, for the numpy pool

    tmp = Path(tempfile.mkdtemp(prefix="mlp-compare-study-"))
    binary = tmp / "mlp"
    shutil.copy2(BIN, binary)
    bin_sha = hashlib.sha256(binary.read_bytes()).hexdigest()
    bin_mtime = BIN.stat().st_mtime
    ours_sweep = quick_sweep_file(sweep_file, tmp) if args.quick else sweep_file

    python = Path(sys.executable)
    python = python.relative_to(ROOT) if python.is_relative_to(ROOT) else Path("python3")
    command = f"{python} scripts/compare_study.py " + shlex.join(sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    walls = {"ours": [], "numpy": []}
    rows = {"ours": [], "numpy": []}
    try:
        for rep in range(args.reps):
            order = ["ours", "numpy"] if rep % 2 == 0 else ["numpy", "ours"]
            for side in order:
                print(f"rep {rep + 1}/{args.reps}: {side}{' (quick)' if args.quick else ''}",
                      file=sys.stderr, flush=True)
                side_out = tmp / f"{side}-{rep}"
                if side == "ours":
                    wall, side_rows = run_ours(binary, ours_sweep, runs, side_out)
                else:
                    wall, side_rows = run_numpy_study(runs, side_out, args.quick)
                walls[side].append(wall)
                rows[side].append(side_rows)
                shutil.rmtree(side_out, ignore_errors=True)
        ours_info = ours_blas(binary)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finished = datetime.datetime.now(datetime.timezone.utc)

    notes = []
    if BIN.stat().st_mtime != bin_mtime:
        notes.append("target/release/mlp was rebuilt during this run; every timing here is of the "
                     "copy taken at the start (the sha256 above).")
    if os.cpu_count() != NUMPY_WORKERS:
        notes.append(f"this machine has {os.cpu_count()} cores: ours used all of them, numpy "
                     f"{NUMPY_WORKERS} workers; the comparison is meant for 2 cores.")
    per_run = []
    for run_id, preset in study:
        stops = {side: {r[run_id]["stop_epoch"] for r in rows[side]} for side in rows}
        row = {"run": run_id, "preset": preset,
               "numpy_stop_epoch": rows["numpy"][0][run_id]["stop_epoch"],
               "numpy_process_s": median_row(rows["numpy"], run_id, "process_s"),
               "numpy_train_wall_s": median_row(rows["numpy"], run_id, "train_wall_s"),
               "ours_stop_epoch": rows["ours"][0][run_id]["stop_epoch"],
               "ours_train_wall_s": median_row(rows["ours"], run_id, "train_wall_s")}
        if len(stops["numpy"]) > 1 or len(stops["ours"]) > 1:
            notes.append(f"{run_id}: the stopping epoch changed between repetitions {stops}.")
        elif row["numpy_stop_epoch"] != row["ours_stop_epoch"]:
            notes.append(f"{run_id}: numpy stopped in epoch {row['numpy_stop_epoch']}, ours in "
                         f"{row['ours_stop_epoch']} (each side's wall is its own run to its stop).")
        per_run.append(row)
    ratio = statistics.median(walls["numpy"]) / statistics.median(walls["ours"])
    paired = [n / o for n, o in zip(walls["numpy"], walls["ours"])]
    first_numpy = rows["numpy"][0][runs[0][0]]
    raw_sweep = str(sweep_file.relative_to(ROOT)) if sweep_file.is_relative_to(ROOT) else str(sweep_file)
    raw = {
        "workload": "W5", "truncated": args.quick,
        "command": command, "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": finished.isoformat(timespec="seconds"), "reps": args.reps,
        "sweep": raw_sweep,
        "commands": {
            "ours": shlex.join(ours_command(BIN.relative_to(ROOT), f"TMP/{ours_sweep.name}"
                                            if args.quick else raw_sweep, "TMP/ours")),
            "numpy": shlex.join(numpy_command("P", "TMP/P", args.quick)).replace(
                str(sys.executable), str(python)),
            "numpy_env": "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1, "
                         + " and ".join(CORETYPE_VARS) + " unset",
            "numpy_workers": NUMPY_WORKERS,
            "numpy_order": [r[0] for r in runs],
        },
        "machine": {"cpu_model": cpu_model(), "nproc": os.cpu_count(),
                    "kernel": platform.release(), "python": platform.python_version(),
                    "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "git_head": git_head(),
        "binary": {"path": str(BIN.relative_to(ROOT)), "sha256": bin_sha,
                   "mtime_utc": datetime.datetime.fromtimestamp(bin_mtime, datetime.timezone.utc)
                   .isoformat(timespec="seconds"), "openblas": ours_info},
        "numpy": {"version": first_numpy["numpy"], "blas": first_numpy["blas"]},
        "walls_s": walls, "runs": rows, "per_run": per_run,
        "summary": {"ours_wall_s": statistics.median(walls["ours"]),
                    "numpy_wall_s": statistics.median(walls["numpy"]),
                    "ratio_numpy_over_ours": ratio, "paired_ratios": paired},
        "target": {"speedup": TARGET, "met": None if args.quick else ratio >= TARGET},
        "notes": notes,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps(raw, indent=1) + "\n")
    out.write_text(render(raw, json_path.name))
    print(f"compare_study: numpy {raw['summary']['numpy_wall_s']:.1f} s, ours "
          f"{raw['summary']['ours_wall_s']:.1f} s, ratio {ratio:.2f}x; wrote {out} and {json_path}",
          file=sys.stderr)


def fmt_epoch(e):
    return "none (ran to the end)" if e is None else str(e)


def render(r, json_name):
    m, s = r["machine"], r["summary"]
    title = "# W5: the study sweep to early stop, `mlp` vs numpy (float64, 2 cores)"
    lines = [title, ""]
    if r["truncated"]:
        lines += [f"**TRUNCATED (--quick): every run stopped after one epoch ({QUICK_STEPS} steps, "
                  "5 validation checks), no early stopping. A smoke test of the script, NOT the W5 "
                  "figure.**", ""]
    lines += [
        f"Generated by `{r['command']}` (run from the repository root)",
        f"on {r['started_utc']} - {r['finished_utc']} (UTC); git {r['git_head']};",
        f"binary `{r['binary']['path']}` built {r['binary']['mtime_utc']} (sha256"
        f" {r['binary']['sha256'][:16]}..., run from a copy taken at the start).",
        "",
        f"What is timed: every run of `{r['sweep']}` (the reference setting: f64, numpy's stream",
        "seeded with 1, 20000/10000 images, statistics of the 60000 training images, batch 32,",
        "validation every 125 steps, early stopping with patience 50), each trained to its stop;",
        "the wall time of the whole study, start-up, data loading and output writing included.",
        "",
        f"- ours: `{r['commands']['ours']}` (one process; `--jobs` default = all cores, one OpenBLAS"
        " thread per run); wall = `time.perf_counter()` around the process.",
        f"- numpy: `{r['commands']['numpy']}` for every run P, each its own process"
        f" ({r['commands']['numpy_env']}), {r['commands']['numpy_workers']} at a time, longest"
        f" expected first ({', '.join(r['commands']['numpy_order'])}); wall ="
        " `time.perf_counter()` around the whole pool.",
        f"- {r['reps']} repetition(s) of each side, alternating (ours first in odd repetitions);"
        " figures are medians. TMP is a fresh temporary directory, removed afterwards.",
        "",
        "| run | numpy stop epoch | numpy s (process) | numpy train s | ours stop epoch | ours train s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in r["per_run"]:
        lines.append(f"| {row['run']} | {fmt_epoch(row['numpy_stop_epoch'])} | "
                     f"{row['numpy_process_s']:.1f} | {row['numpy_train_wall_s']:.1f} | "
                     f"{fmt_epoch(row['ours_stop_epoch'])} | {row['ours_train_wall_s']:.1f} |")
    lines += [
        "",
        "*train s* = train_wall_s of the run's summary.json (the training loop alone, validation",
        "checks included, final evaluation excluded); ours' runs share the cores, so they do not",
        "add up to its wall.",
        "",
        "| whole study | wall s (median) | every repetition |",
        "| --- | ---: | --- |",
        f"| numpy, {r['commands']['numpy_workers']} processes at a time | {s['numpy_wall_s']:.1f} | "
        + ", ".join(f"{x:.1f}" for x in r["walls_s"]["numpy"]) + " |",
        f"| ours, `mlp sweep` | {s['ours_wall_s']:.1f} | "
        + ", ".join(f"{x:.1f}" for x in r["walls_s"]["ours"]) + " |",
        "",
        f"**Ratio numpy / ours: {s['ratio_numpy_over_ours']:.2f}x** (paired per repetition: "
        + ", ".join(f"{x:.2f}x" for x in s["paired_ratios"]) + ").",
        "",
    ]
    t = r["target"]
    if t["met"] is None:
        lines.append(f"Target (ours at least {t['speedup']:g}x faster than numpy): not evaluated, "
                     "this run was truncated.")
    else:
        lines.append(f"Target (ours at least {t['speedup']:g}x faster than numpy): "
                     + ("**met**" if t["met"] else "**not met**")
                     + f" ({s['ratio_numpy_over_ours']:.2f}x).")
    ob = r["binary"]["openblas"]
    pools = "; ".join(f"{p.get('internal_api')} {p.get('version')} core {p.get('architecture')}"
                      f" ({p.get('num_threads')} thread(s), {Path(p.get('filepath') or '?').name})"
                      for p in r["numpy"]["blas"]) if isinstance(r["numpy"]["blas"], list) \
        else json.dumps(r["numpy"]["blas"])
    lines += [
        "", "## Machine and libraries", "",
        f"- CPU: {m['cpu_model']}, nproc {m['nproc']}; Linux {m['kernel']}; Python {m['python']}.",
        f"- Load average (1/5/15 min) at start {' / '.join(f'{x:.2f}' for x in m['loadavg_start'])},"
        f" at end {' / '.join(f'{x:.2f}' for x in m['loadavg_end'])} (other work shares the machine).",
        f"- ours: OpenBLAS core {ob.get('openblas_core', '?')}, {ob.get('openblas_threads', '?')}"
        f" thread(s) per run (`mlp info`), library {ob.get('library', '?')}.",
        f"- numpy {r['numpy']['version']}; thread pools in a numpy run: {pools}.",
    ]
    if r["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
    lines += ["", f"Raw timings of every repetition and run: `{json_name}` beside this file.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
