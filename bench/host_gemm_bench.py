#!/usr/bin/python3
"""The host GEMM benchmark: einfuse's packed GEMM next to numpy's matmul (OpenBLAS), in one run,
and the crossover sweep that tells the cost model where the GEMM starts to win on the host.

1. fp32 `ij,jk->ik` at 1024^3 and 2048^3, 1 and 2 threads:
     einfuse  build/tools/einfuse run 'ij,jk->ik' --dims ... --repeat R --threads T --json
              (median of R timed calls after an untimed one: compile time excluded)
     numpy    a @ b in a child /usr/bin/python3 with OPENBLAS_NUM_THREADS=T (median of R)
   Rounds alternate einfuse and numpy, so that load from other users hits both alike; the table
   shows the median over rounds. GFLOP/s = 2 M N K / time.
   Debian's numpy links the reference BLAS (netlib) unless an optimised one is installed as the
   libblas.so.3 alternative. Point --openblas at a directory holding OpenBLAS's libblas.so.3
   (without installing it system-wide: `apt-get download libopenblas0-pthread` and
   `dpkg -x` it; default: /usr/lib/x86_64-linux-gnu/openblas-pthread when present); the child
   gets it through LD_LIBRARY_PATH, and the script prints which BLAS numpy actually loaded.
2. Crossover, fp32, one thread, through build/bench/host_gemm_crossover (which can force a
   strategy: the CLI leaves it to the planner):
     `bij,bjk->bik` at D = 8..128, batch sized so the inputs are >= 64 MB
     `ij,jk->ik` at M = N = 512, K = 4..1024
   each as the planner picks it with sizes ("planned"), as the packed GEMM ("gemm"), and as the
   GEMM kernel's loop nest (EINFUSE_HOST_GEMM=0, "loopnest").

Run: /usr/bin/python3 bench/host_gemm_bench.py [--build build] [--openblas DIR] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NUMPY_CHILD = r"""
import sys, time, numpy as np
n, reps, dtype = int(sys.argv[1]), int(sys.argv[2]), np.dtype(sys.argv[3])
rng = np.random.default_rng(1)
a = rng.standard_normal((n, n), dtype=dtype)
b = rng.standard_normal((n, n), dtype=dtype)
a @ b
ts = []
for _ in range(reps):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
blas = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.lower() and '.so' in l})
print(sorted(ts)[len(ts) // 2] * 1e6, ';'.join(blas))
"""


def numpy_us(n, threads, reps, openblas, dtype="float32"):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    # OpenBLAS with its own kernels for this CPU: some machines pin it to its Haswell kernels through
    # these two (issue 16). Unset here only, in the OpenBLAS run, never in tests or CI.
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if openblas:
        env["LD_LIBRARY_PATH"] = openblas + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    out = subprocess.run(["/usr/bin/python3", "-c", NUMPY_CHILD, str(n), str(reps), dtype], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), out[1] if len(out) > 1 else "?"


def einfuse_us(cli, n, threads, reps, dtype="float32"):
    cmd = [cli, "run", "ij,jk->ik", "--dims", f"i={n},j={n},k={n}", "--repeat", str(reps), "--threads", str(threads),
           "--dtype", {"float32": "f32", "float64": "f64"}[dtype], "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"einfuse failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    d = json.loads(r.stdout)
    if "packed GEMM" not in d["plan"]:
        sys.exit("einfuse did not run the packed GEMM:\n" + d["plan"])
    return d["median_us"]


def crossover_us(exe, spec, dims, mode, reps):
    dims_text = ",".join(f"{k}={v}" for k, v in dims.items())
    r = subprocess.run([exe, spec, dims_text, mode, str(reps), "1"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"host_gemm_crossover failed: {spec} {dims_text} {mode}\n{r.stderr}")
    d = json.loads(r.stdout)
    return d["median_us"], d["strategy"]


def gemm_vs_numpy(cli, openblas, rounds, reps, dtype="float32", sizes=(1024, 2048), thread_counts=(1, 2)):
    print(f"## {dtype} ij,jk->ik: einfuse packed GEMM vs numpy matmul\n")
    print("| size | threads | einfuse GFLOP/s | numpy GFLOP/s | einfuse / numpy |")
    print("| --- | --- | --- | --- | --- |")
    blas_seen = set()
    for n in sizes:
        for threads in thread_counts:
            ef, np_ = [], []
            for _ in range(rounds):
                ef.append(einfuse_us(cli, n, threads, reps, dtype))
                us, blas = numpy_us(n, threads, reps, openblas, dtype)
                np_.append(us)
                blas_seen.add(blas)
            flop = 2.0 * n ** 3
            e, p = flop / statistics.median(ef) / 1e3, flop / statistics.median(np_) / 1e3
            print(f"| {n}^3 | {threads} | {e:.1f} | {p:.1f} | {e / p:.2f} |", flush=True)
    print(f"\nnumpy's BLAS: {', '.join(sorted(blas_seen))}\n")


def sweep(exe, reps):
    print("## Crossover, fp32, 1 thread (us per call; GFLOP/s in parentheses)\n")
    print("| case | planned (strategy) | packed GEMM | loop nest (EINFUSE_HOST_GEMM=0) | GEMM speed-up over the best other |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for d in (8, 16, 32, 64, 128):
        batch = -(-64_000_000 // (2 * 4 * d * d))
        rows.append((f"bij,bjk->bik D={d} B={batch}", "bij,bjk->bik", {"b": batch, "i": d, "j": d, "k": d},
                     2.0 * batch * d ** 3))
    for k in (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
        rows.append((f"ij,jk->ik M=N=512 K={k}", "ij,jk->ik", {"i": 512, "j": k, "k": 512}, 2.0 * 512 * 512 * k))
    for name, spec, dims, flop in rows:
        planned, strategy = crossover_us(exe, spec, dims, "planned", reps)
        gemm, _ = crossover_us(exe, spec, dims, "gemm", reps)
        loop, _ = crossover_us(exe, spec, dims, "loopnest", reps)
        others = [planned, loop] if strategy != "gemm" else [loop]
        best = min(others)
        g = lambda us: f"{us:.0f} ({flop / us / 1e3:.1f})"
        print(f"| {name} | {g(planned)} ({strategy}) | {g(gemm)} | {g(loop)} | {best / gemm:.2f}x |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--openblas", default="/usr/lib/x86_64-linux-gnu/openblas-pthread")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and repetitions")
    ap.add_argument("--only", choices=["numpy", "sweep"], help="run one part")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="of the numpy comparison")
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    cli = os.path.join(args.build, "tools", "einfuse")
    exe = os.path.join(args.build, "bench", "host_gemm_crossover")
    openblas = args.openblas if os.path.exists(os.path.join(args.openblas, "libblas.so.3")) else None
    rounds, reps = (1, 3) if args.quick else (3, 5)
    print(f"# host GEMM benchmark; load average at start {os.getloadavg()[0]:.2f}\n")
    if args.only != "sweep":
        gemm_vs_numpy(cli, openblas, rounds, reps, args.dtype, tuple(map(int, args.sizes.split(","))),
                      tuple(map(int, args.threads.split(","))))
    if args.only != "numpy":
        sweep(exe, reps)
    print(f"\n# load average at the end: {os.getloadavg()[0]:.2f} (other users of the 2 cores skew the timings)")


if __name__ == "__main__":
    main()
