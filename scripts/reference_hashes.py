#!/usr/bin/env python3
"""Fingerprints of the reference path: sha256 of every preset's steps.csv without the lr column
(appended later: a constant in these runs, the hashes predate it) and of its checks.csv without the
elapsed_s column (wall time is the one thing allowed to differ between identical runs).

    scripts/reference_hashes.py DIR                 # print the hashes of the runs in DIR
    scripts/reference_hashes.py DIR --check FILE    # compare with FILE; exit 1 on any difference

DIR is the output of `mlp reproduce --out DIR`. The dense f64 reference path goes through OpenBLAS
GEMM, whose last bits depend on the kernel family it runs (SkylakeX, Haswell, ...): FILE records
the core its hashes were made on, and a check on another core is skipped with a message.
"""
import argparse
import csv
import hashlib
import io
import subprocess
import sys
from pathlib import Path

PRESETS = ["basic", "iw", "is", "momentum", "is-iw", "all", "4a", "4b", "4d", "4e"]


def without_column(path: Path, column: str) -> bytes:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if column not in rows[0]:
        return path.read_bytes()
    drop = rows[0].index(column)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for row in rows:
        w.writerow([v for i, v in enumerate(row) if i != drop])
    return out.getvalue().encode()


def hashes(run_dir: Path) -> dict:
    found = {}
    for p in PRESETS:
        d = run_dir / p
        found[f"{p}/steps.csv"] = hashlib.sha256(without_column(d / "steps.csv", "lr")).hexdigest()
        found[f"{p}/checks.csv"] = hashlib.sha256(without_column(d / "checks.csv", "elapsed_s")).hexdigest()
    return found


def openblas_core(binary: Path) -> str:
    out = subprocess.run([str(binary), "info"], capture_output=True, text=True, check=True).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("openblas_core"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--check", type=Path, help="committed hash file to compare with")
    ap.add_argument("--binary", type=Path, default=Path("target/release/mlp"))
    args = ap.parse_args()
    core = openblas_core(args.binary)
    got = hashes(args.dir)
    if not args.check:
        print(f"# openblas_core {core}")
        for k, v in got.items():
            print(f"{v}  {k}")
        return 0
    lines = [l for l in args.check.read_text().splitlines() if l.strip()]
    want_core = next(l.split()[2] for l in lines if l.startswith("# openblas_core"))
    if want_core != core:
        print(f"reference-check: skipped: {args.check} holds hashes made on OpenBLAS core {want_core}; "
              f"this machine runs {core}, whose GEMM rounds differently")
        return 0
    want = {l.split()[1]: l.split()[0] for l in lines if not l.startswith("#")}
    bad = [k for k in want if got.get(k) != want[k]]
    for k in bad:
        print(f"reference-check: {k} differs ({got.get(k)} vs committed {want[k]})")
    if bad:
        print(f"reference-check: FAILED: {len(bad)} of {len(want)} files changed on the reference path")
        return 1
    print(f"reference-check: ok: {len(want)} files byte-identical to {args.check} (core {core})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
