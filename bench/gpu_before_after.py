#!/usr/bin/env python3
"""Two einfuse builds side by side on one GPU: every case of the brief's table and the GEMM
shapes, run by both CLIs alternately (A, B, A, B, ...) so that clock and thermal drift fall on
both equally. Each run is `run --target cuda --repeat N --json` (CUDA events around each launch,
median); a case's time is the median over its rounds. Inputs are larger than L2 except the
seed's size (launch-bound, reported as such).

Usage: bench/gpu_before_after.py BEFORE_BINARY AFTER_BINARY [OUT_DIR] [--only TEXT]
Writes OUT_DIR/gpu_before_after.md. --only: the cases whose expression and dims ("EXPR DIMS") contain TEXT. A ratio after/before above 1 is a slowdown.
"""
import json
import os
import statistics
import subprocess
import sys

GAUSS = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
SOFTMAX = "m[i] = max[j](S[i,j]); e[i,j] = exp(S[i,j] - m[i]); s[i] = sum[j](e[i,j]); out[i,j] = e[i,j] / s[i]"
CASES = [  # (expression, --dims, extra flags)
    ("bij,bjk->bik", "b=262144,i=2,j=2,k=2", []),
    ("bij,bjk->bik", "b=16777216,i=2,j=2,k=2", []),
    ("bij,bjk->bik", "b=8388608,i=3,j=3,k=3", []),
    ("bij,bjk->bik", "b=4194304,i=4,j=4,k=4", []),
    ("bij,bjk->bik", "b=1048576,i=8,j=8,k=8", []),
    ("bij,bjk->bik", "b=262144,i=16,j=16,k=16", []),
    ("bij,bjk->bik", "b=65536,i=32,j=32,k=32", []),
    ("bij,bjk->bik", "b=16384,i=64,j=64,k=64", []),
    ("ij,jk->ik", "i=4096,j=4096,k=4096", []),
    ("ij,jk->ik", "i=4096,j=4096,k=4096", ["--gemm", "emitted"]),
    ("ij,kj->ik", "i=2048,j=1024,k=2048", []),
    (GAUSS, "i=100000,j=100000,d=3", []),
    (GAUSS, "i=1000000,j=1000000,d=3", []),
    (SOFTMAX, "i=4096,j=4096", []),
    ("bi,bi->b", "b=4194304,i=16", []),
    ("ij->ji", "i=8192,j=8192", []),
]
ROUNDS = int(os.environ.get("EINFUSE_BENCH_ROUNDS", "2"))
REPEAT = 20


def run(binary, expr, dims, flags):
    repeat = 3 if "1000000" in dims else REPEAT
    cmd = [binary, "run", expr, "--target", "cuda", "--dims", dims, "--repeat", str(repeat), "--json", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[:160]}"
    report = json.loads(proc.stdout)
    return report["median_us"], report.get("ran", "")


def main():
    args = sys.argv[1:]
    only = ""
    if "--only" in args:
        at = args.index("--only")
        only = args[at + 1]
        del args[at : at + 2]
    before, after = args[0], args[1]
    out_dir = args[2] if len(args) > 2 else os.environ.get("OUT", ".")
    lines = ["| case | dims | before us | after us | after/before | after ran |", "| --- | --- | --- | --- | --- | --- |"]
    for expr, dims, flags in (c for c in CASES if only in c[0] + " " + c[1]):
        times = {before: [], after: []}
        ran, error = "", ""
        for _ in range(ROUNDS):
            for binary in (before, after):
                us, what = run(binary, expr, dims, flags)
                if us is None:
                    error = what
                    continue
                times[binary].append(us)
                if binary == after:
                    ran = json.dumps(what) if not isinstance(what, str) else what
        b = statistics.median(times[before]) if times[before] else None
        a = statistics.median(times[after]) if times[after] else None
        ratio = f"{a / b:.3f}" if a and b else "-"
        name = expr if len(expr) < 30 else expr[:27] + "..."
        lines.append(f"| {name} {' '.join(flags)} | {dims} | {b and f'{b:.1f}'} | {a and f'{a:.1f}'} | {ratio} | "
                     f"{(ran or error)[:80]} |")
        print(lines[-1], flush=True)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "gpu_before_after.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
