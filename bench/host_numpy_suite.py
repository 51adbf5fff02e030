#!/usr/bin/python3
"""Cases from numpy's and opt_einsum's einsum test suites, einfuse against numpy side by side
(issue 16): the time of a compiled call, the ratio einfuse / numpy, and the first call's time
with a cold cache.

    /usr/bin/python3 bench/host_numpy_suite.py [--build build] [--openblas DIR] [--rounds 3]
        [--threads 1,2] [--only SUBSTRING] [--first-call] [--before DIR] [--json FILE]

- numpy: np.einsum(..., optimize=True) in a child /usr/bin/python3 with OPENBLAS_NUM_THREADS=T and
  OpenBLAS's own kernels for this CPU: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are dropped from
  that child's environment only, and --openblas (a directory holding OpenBLAS's libblas.so.3, e.g.
  `apt-get download libopenblas0-pthread` unpacked with `dpkg -x`) is put on its LD_LIBRARY_PATH.
- einfuse: `einfuse.einsum(spec, *arrays, threads=T)` (python/, the C ABI of build/api/
  libeinfuse.so) in another child; the first call (compile) is not timed. That child runs with
  EINFUSE_HOST_COLD_CODE=0: each kernel compiled at the tier it settles on from the start, the
  code a program runs once its first calls' cold code is replaced (exec/HostTiers.h), so that no
  batch times cold code while the settled code compiles in the background.
Each figure is the median of 7 batches of calls (a batch lasts >= 5 ms); rounds alternate numpy
and einfuse, and the table has the median over rounds. The result of every case is compared
with numpy's first (relative error against the largest magnitude).
--first-call: each case's first einfuse call in a fresh process with a fresh, empty disk cache
(planning, LLVM and the JIT included, the library's load not), median of 3 processes, and the
second call of the same process; beside it the same with EINFUSE_HOST_COLD_CODE=0 (no cold code:
every kernel compiled at the tier it settles on before the first call), alternating.
--rounds 0 skips the compiled calls (with --first-call: the first calls alone).
--before DIR: another build (its api/libeinfuse.so) timed in the same rounds, a column of its own.
The CPU and the load average are printed with the results.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from host_bench import cpu_info, describe_cpu, uptime  # noqa: E402

# opt_einsum's default sizes (opt_einsum/testing.py) and numpy's test_einsum sizes.
OPT_SIZES = dict(zip("abcdefghijklmopqABC", [2, 3, 4, 5, 4, 3, 2, 6, 5, 4, 3, 2, 5, 7, 4, 3, 2, 3, 4]))


def opt_case(spec, dtype="f64", sizes=OPT_SIZES, scale=1):
    ops = spec.split("->")[0].split(",")
    return spec, [[sizes[c] * scale for c in op] for op in ops], dtype


def chain(n, sizes, dtype="f64"):
    """opt_einsum's test_large_path: n - 1 chained matrices."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    dims = [sizes[i % len(sizes)] for i in range(n)]
    return ",".join(letters[i:i + 2] for i in range(n - 1)), [[dims[i], dims[i + 1]] for i in range(n - 1)], dtype


CASES = [
    # numpy test_einsum_broadcast (gh-10343): J, K, M = 160, 160, 120
    ("...lmn,lmno->...o", [[1, 1, 1, 160, 160, 120], [160, 160, 120, 3]], "f64"),
    opt_case("abc,bdef,fghj,cem,mhk,ljk->adgl"),
    ("ij,jk->ik", [[512, 512], [512, 512]], "f64"),
    ("ij,jk->ik", [[1024, 1024], [1024, 1024]], "f64"),
    ("ij,jk->ik", [[512, 512], [512, 512]], "f32"),
    chain(12, [2, 3, 4]),           # an 11-matrix chain
    chain(12, [64, 96, 128]),
    opt_case("ea,fb,abcd,gc,hd->efgh"),
    opt_case("acdf,jbje,gihb,hfac,gfac,gifabc,hfac"),
    opt_case("cd,bdhe,aidb,hgca,gc,hgibcd,hgac"),
    opt_case("abhe,hidj,jgba,hiab,gab"),
    opt_case("bdik,acaj,ikab,ajac,ikbd"),
    opt_case("abcd,efdc->abef", scale=4),
    opt_case("ab,bc,cd,de->ae", scale=16),
    opt_case("ijk,k->ij", scale=64),
    opt_case("ea,fb,abcd,gc,hd->efgh", scale=3),
    ("pi,qj,ijkl,rk,sl->pqrs", [[10, 10]] * 2 + [[10, 10, 10, 10]] + [[10, 10]] * 2, "f64"),
]

WORKER = r"""
import json, sys, time, zlib
import numpy as np
which, threads, cases = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
if which == "einfuse":
    import einfuse
    call = lambda spec, ops: einfuse.einsum(spec, *ops, threads=threads)
else:
    call = lambda spec, ops: np.einsum(spec, *ops, optimize=True)
DT = {"f32": np.float32, "f64": np.float64}
res = []
for spec, shapes, dtype in cases:
    rng = np.random.default_rng(zlib.crc32(spec.encode()))
    ops = [rng.random(s).astype(DT[dtype]) for s in shapes]
    t = time.perf_counter(); first = np.asarray(call(spec, ops)); first_s = time.perf_counter() - t
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n): call(spec, ops)
        if time.perf_counter() - t >= 5e-3 or n >= 1 << 16: break
        n *= 2
    times = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n): call(spec, ops)
        times.append((time.perf_counter() - t) / n)
    res.append({"us": sorted(times)[3] * 1e6, "first_ms": first_s * 1e3,
                "sum": float(np.abs(first).sum()), "sample": first.ravel()[:64].astype(np.float64).tolist()})
print(json.dumps(res))
"""


def run_worker(which, threads, cases, env):
    r = subprocess.run([sys.executable, "-c", WORKER, which, str(threads), json.dumps(cases)], capture_output=True,
                       text=True, env=dict(env, EINFUSE_HOST_COLD_CODE="0"))
    if r.returncode:
        raise SystemExit(f"{which} worker failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--openblas", default="/usr/lib/x86_64-linux-gnu/openblas-pthread")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--only", default="")
    ap.add_argument("--first-call", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--before", default="")
    args = ap.parse_args()
    root = os.path.dirname(HERE)
    lib = os.path.abspath(os.path.join(args.build, "api", "libeinfuse.so"))
    cli = os.path.abspath(os.path.join(args.build, "tools", "einfuse"))
    cases = [c for c in CASES if args.only in c[0]]
    print(f"CPU: {describe_cpu(cpu_info(cli))}")
    print(f"load: {uptime()}")

    np_env = dict(os.environ)
    np_env.pop("OPENBLAS_CORETYPE", None)
    np_env.pop("OPENBLAS_L2_SIZE", None)
    if os.path.exists(os.path.join(args.openblas, "libblas.so.3")):
        np_env["LD_LIBRARY_PATH"] = args.openblas + (":" + np_env["LD_LIBRARY_PATH"] if np_env.get("LD_LIBRARY_PATH") else "")
    else:
        print(f"note: no OpenBLAS at {args.openblas}: numpy runs with whatever BLAS it finds")
    with tempfile.TemporaryDirectory() as cache:
        ef_env = dict(os.environ, PYTHONPATH=os.path.join(root, "python"), EINFUSE_LIBRARY=lib, EINFUSE_CACHE_DIR=cache)
        envs = {"numpy": np_env, "einfuse": ef_env}
        if args.before:
            envs["before"] = dict(ef_env, EINFUSE_LIBRARY=os.path.abspath(os.path.join(args.before, "api", "libeinfuse.so")),
                                  EINFUSE_CACHE_DIR=cache + "-before")
        results = {}
        for threads in map(int, args.threads.split(",") if args.rounds > 0 else []):  # --rounds 0: first calls only
            np_env["OPENBLAS_NUM_THREADS"] = np_env["OMP_NUM_THREADS"] = str(threads)
            rounds = {which: [] for which in envs}
            for r in range(args.rounds):
                order = list(envs) if r % 2 == 0 else list(reversed(list(envs)))
                for which in order:
                    rounds[which].append(run_worker("numpy" if which == "numpy" else "einfuse", threads, cases, envs[which]))
            print(f"\nthreads {threads} (load after: {uptime().split('load average:')[-1].strip()})")
            before_cols = " before us | before / numpy |" if args.before else ""
            print(f"| case | dtype | numpy us |{before_cols} einfuse us | einfuse / numpy | max rel diff |")
            print("| --- | --- | --- |" + (" --- | --- |" if args.before else "") + " --- | --- | --- |")
            for i, (spec, shapes, dtype) in enumerate(cases):
                npt = statistics.median(rd[i]["us"] for rd in rounds["numpy"])
                eft = statistics.median(rd[i]["us"] for rd in rounds["einfuse"])
                a, b = rounds["numpy"][0][i], rounds["einfuse"][0][i]
                diff = max([abs(x - y) for x, y in zip(a["sample"], b["sample"])] + [abs(a["sum"] - b["sum"])])
                diff /= max(a["sum"], 1e-300)
                flag = "" if eft <= 1.2 * npt else " **"
                shape_text = " ".join("x".join(map(str, s)) for s in shapes)
                before = ""
                if args.before:
                    bt = statistics.median(rd[i]["us"] for rd in rounds["before"])
                    before = f" {bt:.1f} | {bt / npt:.2f} |"
                print(f"| `{spec}` {shape_text} | {dtype} | {npt:.1f} |{before} {eft:.1f} | {eft / npt:.2f}{flag} | {diff:.1e} |")
                results.setdefault(f"{spec} {shape_text} {dtype}", {})[threads] = {"numpy_us": npt, "einfuse_us": eft}

        if args.first_call:
            print("\nfirst call with a cold cache (fresh process and cache dir, median of 3), ms:")
            envs["no cold code"] = dict(envs["einfuse"], EINFUSE_HOST_COLD_CODE="0")
            which = [w for w in ("before", "einfuse", "no cold code") if w in envs]
            print("| case | dtype | " + " | ".join(f"{w} ms | second call" for w in which) + " |")
            print("| --- | --- |" + " --- | --- |" * len(which))
            met = {w: 0 for w in which}
            for case in cases:
                times = {w: [] for w in which}
                for _ in range(3):
                    for w in which:  # alternating
                        with tempfile.TemporaryDirectory() as fresh:
                            times[w].append(run_worker_first(case, dict(envs[w], EINFUSE_CACHE_DIR=fresh)))
                first = {w: statistics.median(t[0] for t in times[w]) for w in which}
                second = {w: statistics.median(t[1] for t in times[w]) for w in which}
                for w in which:
                    met[w] += first[w] <= 100
                shape_text = " ".join("x".join(map(str, s)) for s in case[1])
                print(f"| `{case[0]}` {shape_text} | {case[2]} | " +
                      " | ".join(f"{first[w]:.0f} | {second[w]:.1f}" for w in which) + " |")
                results.setdefault(f"{case[0]} {shape_text} {case[2]}", {})["first_ms"] = first["einfuse"]
            print("at or under 100 ms: " + ", ".join(f"{w} {met[w]} of {len(cases)}" for w in which))
        print(f"\nload: {uptime()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


FIRST = r"""
import json, sys, time
import numpy as np
import einfuse
spec, shapes, dtype = json.loads(sys.argv[1])
ops = [np.random.default_rng(1).random(s).astype({"f32": np.float32, "f64": np.float64}[dtype]) for s in shapes]
t = time.perf_counter(); einfuse.einsum(spec, *ops, threads=1); first = (time.perf_counter() - t) * 1e3
t = time.perf_counter(); einfuse.einsum(spec, *ops, threads=1); print(first, (time.perf_counter() - t) * 1e3)
"""


def run_worker_first(case, env):
    r = subprocess.run([sys.executable, "-c", FIRST, json.dumps(case)], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"first-call worker failed:\n{r.stderr[-3000:]}")
    return tuple(map(float, r.stdout.split()))


if __name__ == "__main__":
    main()
